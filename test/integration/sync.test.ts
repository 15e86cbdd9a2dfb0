// The sync loop end to end: real Temporal dev server, real worker, real DB, built-in source, ICS provider.
// The sync-loop tests run on PGlite (the embedded default); the durability and API tests use PostgreSQL when DATABASE_URL is set.
import { eq } from 'drizzle-orm';
import { afterEach, describe, expect, it } from 'vitest';
import { createIcsProvider } from '../../activities/providers/ics';
import type { CalendarProvider } from '../../activities/providers/types';
import { adminSettings, feedEvents, integration } from '../../db/schema';
import { adminWorkflowId } from '../../workflows/ids';
import { statusQuery } from '../../workflows/messages';
import { createHarness, type Harness } from '../helpers/harness';

const inDays = (days: number, hour = 10) => {
  const d = new Date();
  d.setUTCDate(d.getUTCDate() + days);
  d.setUTCHours(hour, 0, 0, 0);
  return d.toISOString();
};

function countingIcs() {
  const calls = { create: 0, update: 0, delete: 0 };
  const factory = (_cfg: unknown, deps: { db: Parameters<typeof createIcsProvider>[0] }): CalendarProvider => {
    const ics = createIcsProvider(deps.db);
    return {
      ...ics,
      create: (...a) => (calls.create++, ics.create(...a)),
      update: (...a) => (calls.update++, ics.update(...a)),
      delete: (...a) => (calls.delete++, ics.delete(...a)),
    };
  };
  return { calls, factory };
}

let h: Harness;
afterEach(async () => {
  await h?.close();
});

describe('sync loop', () => {
  it('exports items, updates in place, removes deleted, deselected and closed items, and leaves items that fell out of the window', async () => {
    h = await createHarness({ dbKind: 'pglite' });
    const alice = await h.addAdmin('alice');
    await h.putItem('sysaid:sr:1:due', { adminId: alice, type: 'sr_due', title: 'VPN', timing: { kind: 'deadline', atUtc: inDays(1) }, statusClass: 'open' });
    await h.putItem('sysaid:sr:2:due', { adminId: alice, type: 'sr_due', title: 'Laptop', timing: { kind: 'deadline', atUtc: inDays(2) }, statusClass: 'open' });
    await h.putItem('sysaid:task:3', { adminId: alice, type: 'task', title: 'Patch', timing: { kind: 'timed', startUtc: inDays(3), endUtc: inDays(3, 12) } });
    await h.putItem('sysaid:sr:4:due', { adminId: alice, type: 'sr_due', title: 'Old', timing: { kind: 'deadline', atUtc: inDays(-10) }, statusClass: 'open' });
    await h.putItem('sysaid:software:5:expiration', { adminId: alice, type: 'software_expiry', title: 'Backup', timing: { kind: 'all_day', startDate: inDays(20).slice(0, 10), sourceTz: 'Europe/Berlin' } });

    await h.fleet.ensureStarted(alice);
    const first = await h.eventually(async () => (await h.fleet.status(alice))?.lastRun, 30_000, 'first run');
    expect(first.counts).toMatchObject({ created: 5, updated: 0, deleted: 0, failed: 0 });
    let feed = await h.feed(alice);
    expect(feed.map((e) => e.event.title)).toEqual(['Due: Laptop', 'Due: Old', 'Due: VPN', 'Expires: Backup', 'Task: Patch']);
    const allDay = feed.find((e) => e.event.title === 'Expires: Backup')!.event.time;
    expect(allDay).toEqual({ kind: 'all_day', startDate: inDays(20).slice(0, 10), endDateExclusive: inDays(21).slice(0, 10) });

    // Changed title → same event updated in place.
    const vpnUid = feed.find((e) => e.event.title === 'Due: VPN')!.uid;
    await h.putItem('sysaid:sr:1:due', { adminId: alice, type: 'sr_due', title: 'VPN drops hourly', timing: { kind: 'deadline', atUtc: inDays(1) }, statusClass: 'open' });
    // Deleted item, closed SR, deselected type.
    await h.deleteItem(alice, 'sysaid:sr:2:due');
    await h.putItem('sysaid:sr:4:due', { adminId: alice, type: 'sr_due', title: 'Old', timing: { kind: 'deadline', atUtc: inDays(-10) }, statusClass: 'closed' });
    await h.db.update(adminSettings).set({ itemTypes: ['sr_due', 'software_expiry'] }).where(eq(adminSettings.adminId, alice));
    const second = await h.fleet.runNow(alice, 30_000);
    expect(second.counts).toMatchObject({ created: 0, updated: 1, deleted: 3, failed: 0, heldDeletes: 0 });
    feed = await h.feed(alice);
    expect(feed.map((e) => e.event.title)).toEqual(['Due: VPN drops hourly', 'Expires: Backup']);
    expect(feed.find((e) => e.event.title === 'Due: VPN drops hourly')!.uid).toBe(vpnUid);

    // Shrink the look-back so the VPN item (tomorrow) stays and an item 10 days back falls out of the window.
    await h.putItem('sysaid:sr:6:due', { adminId: alice, type: 'sr_due', title: 'Past', timing: { kind: 'deadline', atUtc: inDays(-10) }, statusClass: 'open' });
    await h.fleet.runNow(alice, 30_000);
    expect((await h.feed(alice)).map((e) => e.event.title)).toContain('Due: Past');
    await h.db.update(adminSettings).set({ daysBack: 5 }).where(eq(adminSettings.adminId, alice));
    const afterShrink = await h.fleet.runNow(alice, 30_000);
    expect(afterShrink.counts.deleted).toBe(0);
    expect((await h.feed(alice)).map((e) => e.event.title)).toContain('Due: Past');
  });

  it('makes no provider writes when nothing changed', async () => {
    const counting = countingIcs();
    h = await createHarness({ dbKind: 'pglite', providerFactory: counting.factory });
    const bob = await h.addAdmin('bob');
    for (let i = 0; i < 7; i++) {
      await h.putItem(`sysaid:sr:${i}:due`, { adminId: bob, type: 'sr_due', title: `SR ${i}`, timing: { kind: 'deadline', atUtc: inDays(i + 1) }, statusClass: 'open' });
    }
    await h.fleet.ensureStarted(bob);
    await h.eventually(async () => (await h.fleet.status(bob))?.lastRun, 30_000, 'first run');
    expect(counting.calls).toEqual({ create: 7, update: 0, delete: 0 });
    const again = await h.fleet.runNow(bob, 30_000);
    expect(again.counts).toMatchObject({ created: 0, updated: 0, deleted: 0, unchanged: 7 });
    expect(counting.calls).toEqual({ create: 7, update: 0, delete: 0 });
  });

  it('writes the links of a batch in groups, not one statement per event', async () => {
    let linkWrites = 0;
    h = await createHarness({ dbKind: 'pglite', batchSize: 200, onQuery: (q) => void (/^insert into "event_links"/i.test(q) && linkWrites++) });
    const dana = await h.addAdmin('dana');
    for (let i = 0; i < 120; i++) {
      await h.putItem(`sysaid:sr:${i}:due`, { adminId: dana, type: 'sr_due', title: `SR ${i}`, timing: { kind: 'deadline', atUtc: inDays(1 + (i % 20)) }, statusClass: 'open' });
    }
    await h.fleet.ensureStarted(dana);
    const first = await h.eventually(async () => (await h.fleet.status(dana))?.lastRun, 30_000, 'first run');
    expect(first.counts).toMatchObject({ created: 120, failed: 0 });
    const links = await h.links(dana);
    expect(links).toHaveLength(120);
    expect(links.every((l) => l.state === 'synced' && l.remoteId && l.contentHash && l.lastRunId === first.runId)).toBe(true);
    // 100 rows per statement (more only if a group waited over 5 s on a slow machine), instead of 120.
    expect(linkWrites).toBeGreaterThanOrEqual(2);
    expect(linkWrites).toBeLessThanOrEqual(10);
    // The next run sees every link: nothing to do.
    const again = await h.fleet.runNow(dana, 30_000);
    expect(again.counts).toMatchObject({ created: 0, updated: 0, unchanged: 120 });
  });

  it('continues as new at the history limit, carrying totals and creating nothing twice', async () => {
    const counting = countingIcs();
    h = await createHarness({ dbKind: 'pglite', providerFactory: counting.factory, intervalMs: 200, maxHistoryEvents: 60 });
    const cara = await h.addAdmin('cara');
    await h.putItem('sysaid:sr:1:due', { adminId: cara, type: 'sr_due', title: 'SR 1', timing: { kind: 'deadline', atUtc: inDays(1) }, statusClass: 'open' });
    await h.fleet.ensureStarted(cara);
    const handle = h.client.workflow.getHandle(adminWorkflowId(cara));
    const firstRunId = (await handle.describe()).runId;
    // Runs on the interval until the history passes 60 events, then continues as new.
    const next = await h.eventually(async () => {
      const d = await handle.describe();
      return d.runId !== firstRunId && d.runId;
    }, 60_000, 'continue-as-new');
    const first = await h.client.workflow.getHandle(adminWorkflowId(cara), firstRunId).fetchHistory();
    const events = first.events ?? [];
    expect(events.at(-1)?.workflowExecutionContinuedAsNewEventAttributes).toBeTruthy();
    // The limit is checked between cycles: the run ends within one cycle's events of it.
    expect(events.length).toBeGreaterThanOrEqual(60);
    expect(events.length).toBeLessThan(60 + 40);
    // Each cycle's counts are recorded by a local activity (a marker), not an activity task through the server.
    const scheduled = events.flatMap((e) => (e.activityTaskScheduledEventAttributes ? [e.activityTaskScheduledEventAttributes.activityType?.name] : []));
    expect(scheduled).toContain('planSync');
    expect(scheduled).not.toContain('finishRun');
    const localMarkers = events.filter((e) => e.markerRecordedEventAttributes?.markerName === 'core_local_activity').length;
    expect(localMarkers).toBe(scheduled.filter((n) => n === 'planSync').length);
    const runsBefore = (await h.runs(cara)).length;
    // The new run keeps the totals and goes on syncing without re-creating the event.
    const status = await h.eventually(async () => {
      const st = await h.client.workflow.getHandle(adminWorkflowId(cara), next).query(statusQuery);
      return st.totals.runs > runsBefore && st;
    }, 30_000, 'a run in the continued workflow');
    expect(status.totals.created).toBe(1);
    expect(counting.calls).toEqual({ create: 1, update: 0, delete: 0 });
    expect((await h.feed(cara)).map((e) => e.event.title)).toEqual(['Due: SR 1']);
  });

  it('holds deletes when the source reads empty, and applies them once approved', async () => {
    h = await createHarness({ dbKind: 'pglite' });
    const carol = await h.addAdmin('carol');
    for (let i = 0; i < 3; i++) {
      await h.putItem(`sysaid:sr:${i}:due`, { adminId: carol, type: 'sr_due', title: `SR ${i}`, timing: { kind: 'deadline', atUtc: inDays(i + 1) }, statusClass: 'open' });
    }
    await h.fleet.ensureStarted(carol);
    await h.eventually(async () => (await h.fleet.status(carol))?.lastRun, 30_000, 'first run');
    for (let i = 0; i < 3; i++) await h.deleteItem(carol, `sysaid:sr:${i}:due`);
    const held = await h.fleet.runNow(carol, 30_000);
    expect(held.counts).toMatchObject({ deleted: 0, heldDeletes: 3 });
    const status = await h.fleet.status(carol);
    expect(status).toMatchObject({ state: 'needs-approval', heldDeletes: { runId: held.runId, count: 3 } });
    expect(await h.feed(carol)).toHaveLength(3);

    await h.fleet.approveDeletes(carol, held.runId);
    await h.eventually(async () => (await h.feed(carol)).length === 0, 30_000, 'deletes applied');
    const after = await h.eventually(async () => {
      const s = await h.fleet.status(carol);
      return s?.state === 'idle' ? s : null;
    }, 30_000, 'idle after approval');
    expect(after.heldDeletes).toBeNull();
    expect(after.lastRun).toMatchObject({ runId: held.runId, counts: { deleted: 3, heldDeletes: 0 } });
  });

  it('pauses and resumes one admin; global disable pauses all, enable resumes them and starts missing ones', async () => {
    h = await createHarness({ dbKind: 'pglite' });
    const dave = await h.addAdmin('dave');
    const erin = await h.addAdmin('erin');
    await h.putItem('sysaid:sr:1:due', { adminId: dave, type: 'sr_due', title: 'One', timing: { kind: 'deadline', atUtc: inDays(1) }, statusClass: 'open' });
    await h.fleet.ensureStarted(dave);
    await h.eventually(async () => (await h.fleet.status(dave))?.lastRun, 30_000, 'first run');

    const paused = await h.fleet.pause(dave, 'manual', 'holiday');
    expect(paused).toMatchObject({ state: 'paused', pausedReason: 'manual', pausedMessage: 'holiday', nextRunAt: null });
    await h.putItem('sysaid:sr:2:due', { adminId: dave, type: 'sr_due', title: 'Two', timing: { kind: 'deadline', atUtc: inDays(2) }, statusClass: 'open' });
    await h.fleet.signal(dave, 'syncNow');
    await expect(h.fleet.runNow(dave, 10_000)).rejects.toThrow(/paused \(manual: holiday\)/);
    expect(await h.feed(dave)).toHaveLength(1);
    const resumed = await h.fleet.resume(dave);
    expect(resumed.pausedReason).toBeNull();
    await h.eventually(async () => (await h.feed(dave)).length === 2, 30_000, 'sync after resume');

    // Global disable: every running workflow pauses with the integration's reason.
    await h.db.update(integration).set({ enabled: false });
    expect(await h.fleet.pauseAll('integration-disabled', 'The calendar integration is disabled.')).toEqual([dave]);
    expect(await h.fleet.status(dave)).toMatchObject({ state: 'paused', pausedReason: 'integration-disabled' });
    // The reconciler does not start erin while the integration is disabled.
    expect((await h.fleet.reconcile()).started).toEqual([]);

    // Enable: dave resumes, erin (enabled, never started) gets a workflow.
    await h.db.update(integration).set({ enabled: true });
    const result = await h.fleet.reconcile();
    expect(result.resumed).toEqual([dave]);
    expect(result.started).toEqual([erin]);
    expect(await h.fleet.status(dave)).toMatchObject({ pausedReason: null });
    await h.eventually(async () => (await h.fleet.status(erin))?.lastRun, 30_000, 'erin first run');
  });

  it('stops with removeEvents: removes exactly this app’s events and completes the workflow', async () => {
    h = await createHarness({ dbKind: 'pglite' });
    const fay = await h.addAdmin('fay');
    await h.putItem('sysaid:sr:1:due', { adminId: fay, type: 'sr_due', title: 'One', timing: { kind: 'deadline', atUtc: inDays(1) }, statusClass: 'open' });
    await h.putItem('sysaid:sr:2:due', { adminId: fay, type: 'sr_due', title: 'Two', timing: { kind: 'deadline', atUtc: inDays(2) }, statusClass: 'open' });
    await h.fleet.ensureStarted(fay);
    await h.eventually(async () => (await h.feed(fay)).length === 2, 30_000, 'exported');
    // An event this app does not own (no marker of ours) in the same calendar.
    await h.db.insert(feedEvents).values({ adminId: fay, uid: 'foreign@elsewhere', marker: 'someone-else', event: { title: 'Dentist' } });

    await h.db.update(adminSettings).set({ syncEnabled: false }).where(eq(adminSettings.adminId, fay));
    expect(await h.fleet.stop(fay, true)).toBe(true);
    const result = await h.client.workflow.getHandle(adminWorkflowId(fay)).result();
    expect(result).toBeUndefined();
    expect((await h.feed(fay)).map((e) => e.uid)).toEqual(['foreign@elsewhere']);
    expect((await h.links(fay)).every((l) => l.state === 'removed')).toBe(true);
    expect(await h.fleet.isRunning(fay)).toBe(false);
  });
});
