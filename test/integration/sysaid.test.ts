// SysAid as the live source: the real reader (schedule workflow, shared session and budget in the DB) against
// the SysAid emulator over HTTPS, feeding admin workflows on a real Temporal dev server.
import { randomInt } from 'node:crypto';
import { eq } from 'drizzle-orm';
import { afterEach, describe, expect, it } from 'vitest';
import { adminIdForUser } from '../../activities/sources/sysaid/mapping';
import { readSysaid } from '../../activities/sources/sysaid/read';
import { getSourceConfig } from '../../db/repositories';
import { calendarItems } from '../../db/schema';
import { startGraphEmulator, type GraphEmulator } from '../fakes/graph';
import { startSysaidEmulator, type SysaidEmulator, type SysaidEmulatorOptions, type SysaidSr, type SysaidUser } from '../fakes/sysaid';
import { createTestApp, type TestApp } from '../helpers/app';
import { adminSteps } from '../helpers/providers';

const CREDS = { userName: 'api.calendar', password: 'S3cret pässword!' };
const DAY = 86_400_000;
let t: TestApp;
let emu: SysaidEmulator;
let graph: GraphEmulator | undefined;
afterEach(async () => {
  await t?.close();
  await emu?.close();
  await graph?.close();
  graph = undefined;
});

/** SysAid user ids unique per test: admin workflow ids are global on the shared dev server. */
function ids() {
  const base = randomInt(100_000, 900_000) * 100;
  return (n: number) => String(base + n);
}

async function setUp(users: SysaidUser[], srs: SysaidSr[], opts: Partial<SysaidEmulatorOptions> = {}, settings: Record<string, unknown> = {}) {
  t = await createTestApp();
  emu = await startSysaidEmulator({ credentials: CREDS, users, srs, ...opts });
  const saved = await t.call('PUT', '/api/source', { mode: 'sysaid', settings: { baseUrl: emu.baseUrl, userName: CREDS.userName, caCertificate: emu.ca, pollIntervalSeconds: 86_400, ...settings }, secrets: { password: CREDS.password } });
  expect(saved.status, JSON.stringify(saved.json)).toBe(200);
}
const read = async () => {
  const r = await t.call('POST', '/api/source/read');
  expect(r.status, JSON.stringify(r.json)).toBe(200);
  return r.json;
};
const steps = adminSteps(() => t);
const titles = async (adminId: string) => (await t.feed(adminId)).map((e) => e.event.title as string);
let seq = 0;
const sr = (id: string, extra: Partial<SysaidSr>): SysaidSr => ({ id, title: `Printer ${id}`, status: 2, priority: 2, dueDate: null, responsibility: null, updateTime: Date.now() - DAY + seq++, ...extra });

describe('SysAid as the source', () => {
  it('discovers admins, exports due dates and follow-ups to the right admins, moves reassigned SRs and honours closed per admin', async () => {
    const id = ids();
    const [ann, ben, enduser] = [id(1), id(2), id(3)];
    const users: SysaidUser[] = [
      { id: ann, userName: 'ann', firstName: 'Ann', lastName: 'Lee', email: 'ann@helpdesk.test', type: 'admin', timeZone: 'Europe/Berlin' },
      { id: ben, userName: 'ben', firstName: 'Ben', lastName: 'Ode', email: 'ben@helpdesk.test', type: 'admin' },
      { id: enduser, userName: 'eve', firstName: 'Eve', lastName: 'User', email: 'eve@helpdesk.test', type: 'user' },
    ];
    const due = Date.UTC(2027, 0, 5) + 13 * 3_600_000 + 15 * 60_000; // 13:15 UTC; the emulator's captions show Chicago time
    const now = Date.now();
    await setUp(users, [
      sr('101', { dueDate: Math.max(due, now + 3 * DAY), responsibility: ann }),
      sr('102', { dueDate: now + 5 * DAY, responsibility: ben, followupUser: ann, followupPlannedDate: now + 2 * DAY, followupText: 'Call the vendor' }),
      sr('103', { dueDate: now + 1 * DAY, responsibility: ann, status: 3 }),
      sr('104', { dueDate: now + 1 * DAY, responsibility: enduser }),
    ]);
    const first = await read();
    expect(first).toMatchObject({ status: 'read', admins: { added: 2, removed: 0 }, srs: 4, itemsWritten: 4, logins: 1 });

    // Admins appear with sync off, in their SysAid zone (or the default).
    const listed = (await t.call('GET', '/api/admins')).json;
    const mine = listed.admins.filter((a: { id: string }) => [adminIdForUser(ann), adminIdForUser(ben), adminIdForUser(enduser)].includes(a.id));
    expect(mine.map((a: Record<string, unknown>) => [a.id, a.email, a.timeZone, (a.settings as { syncEnabled: boolean }).syncEnabled])).toEqual([
      [adminIdForUser(ann), 'ann@helpdesk.test', 'Europe/Berlin', false],
      [adminIdForUser(ben), 'ben@helpdesk.test', 'UTC', false],
    ]);

    const A = adminIdForUser(ann);
    const B = adminIdForUser(ben);
    const sysaidRequests = emu.requests.length;
    await steps.enable(A);
    await steps.enable(B);
    await steps.lastRun(A);
    await steps.lastRun(B);
    // Admin workflows read the item store, never SysAid.
    expect(emu.requests.length).toBe(sysaidRequests);
    expect(await titles(A)).toEqual(['Due: SR #101 Printer 101', 'Follow-up: SR #102 Printer 102']);
    expect(await titles(B)).toEqual(['Due: SR #102 Printer 102']);
    const annDue = (await t.feed(A))[0]!.event;
    // The instant comes from the epoch value, not the caption: the block ends exactly at the due time.
    const sr101 = Math.max(due, now + 3 * DAY);
    expect(annDue.time).toEqual({ kind: 'timed', startUtc: new Date(sr101 - 30 * 60_000).toISOString(), endUtc: new Date(sr101).toISOString(), timeZone: 'Europe/Berlin' });
    expect(annDue.url).toBe(`${emu.baseUrl}/SREdit.jsp?id=101`);
    expect(annDue.body).toBe('Status: Open · Priority: High');

    // Reassign SR 101 to Ben; close SR 102 — Ann keeps closed items, Ben does not.
    await t.call('PUT', `/api/admins/${A}/calendar-settings`, { syncEnabled: true, daysBack: 60, includeClosed: true });
    emu.setSr(sr('101', { dueDate: sr101, responsibility: ben }));
    emu.setSr(sr('102', { dueDate: now + 5 * DAY, responsibility: ben, followupUser: ann, followupPlannedDate: now + 2 * DAY, followupText: 'Call the vendor', status: 3 }));
    const second = await read();
    // The read starts past the changes it has seen: only the two changed SRs come back.
    expect(second).toMatchObject({ admins: null, srs: 2, itemsWritten: 3, itemsRemoved: 1, logins: 0 });
    await t.eventually(async () => JSON.stringify(await titles(B)) === JSON.stringify(['Due: SR #101 Printer 101']), 30_000, 'Ben has SR 101 and not the closed SR 102');
    await t.eventually(async () => {
      const now = await titles(A);
      // Ann includes closed SRs now: the closed SR 103 appears, the closed SR 102's follow-up stays.
      if (JSON.stringify(now) !== JSON.stringify(['Due: SR #103 Printer 103', 'Follow-up: SR #102 Printer 102'])) throw new Error(`Ann has ${JSON.stringify(now)}`);
      return true;
    }, 30_000, 'Ann lost SR 101 and sees closed SRs');

    // Nothing changed: the last minute's changes are read once more (a page and its count), the archive is empty;
    // no writes, nobody signalled.
    const third = await read();
    expect(third).toMatchObject({ srs: 2, itemsWritten: 0, itemsRemoved: 0, adminsSignalled: 0, requests: 3 });

    // Ben leaves SysAid: sync off, workflow stopped, his events stay (removeEventsOfRemovedAdmins is off).
    emu.removeUser(ben);
    await t.call('PUT', '/api/source', { mode: 'sysaid', settings: { ...(await getSourceConfig(t.db)).settings, adminRefreshMinutes: 1 }, secrets: {} });
    await t.db.update((await import('../../db/schema')).sourceConfig).set({ adminsRefreshedAt: new Date(0) });
    expect((await read()).admins).toMatchObject({ removed: 1 });
    await t.eventually(async () => !(await t.fleet.isRunning(B)), 30_000, 'Ben’s workflow stopped');
    expect((await t.call('GET', `/api/admins/${B}`)).json.settings.syncEnabled).toBe(false);
    expect(await titles(B)).toEqual(['Due: SR #101 Printer 101']);

    // The items API does not write over SysAid's items.
    const refused = await t.call('PUT', `/api/calendar-items/sysaid:sr:101:due`, { adminId: A, type: 'sr_due', title: 'x', timing: { kind: 'deadline', atUtc: new Date(now + DAY).toISOString() } });
    expect(refused.status).toBe(409);
    expect(refused.json.detail).toMatch(/Items come from SysAid/);
  });

  it('a failed or truncated page applies nothing; an expired session logs in once; the password is never shown', async () => {
    const id = ids();
    const ann = id(1);
    const now = Date.now();
    const srs = Array.from({ length: 25 }, (_, i) => sr(String(200 + i), { dueDate: now + (i + 1) * 3_600_000, responsibility: ann, updateTime: now - DAY + i }));
    // Logins: SysAid allows 4 here, this app uses 2 per window (its half).
    await setUp([{ id: ann, userName: 'ann', firstName: 'Ann', lastName: 'Lee', email: 'ann@helpdesk.test', type: 'admin' }], srs, { maxLogins: 4, windowMs: 2_000 }, { pageSize: 10, maxLoginsPerWindow: 4, windowSeconds: 2 });
    const deps = { db: t.db, sealer: t.sealer };
    // Users (a page and the empty one after it), the filter list, 3 pages of SRs and their count.
    expect(await readSysaid(deps)).toMatchObject({ srs: 25, itemsWritten: 25, requests: 7 });
    const live = async () => (await t.db.select().from(calendarItems).where(eq(calendarItems.adminId, adminIdForUser(ann)))).filter((r) => !r.deletedAt).length;
    const highWater = (await getSourceConfig(t.db)).srHighWater;

    // 12 SRs lose their due date; SysAid fails on the second page of the change read.
    for (let i = 0; i < 12; i++) emu.setSr({ ...srs[i]!, dueDate: null });
    emu.addFault({ path: '/api/v1/sr', minOffset: 10, status: 500, times: 1 });
    await expect(readSysaid(deps)).rejects.toMatchObject({ kind: 'transient', message: expect.stringMatching(/HTTP 500/) });
    expect(await live()).toBe(25);
    expect((await getSourceConfig(t.db)).srHighWater).toBe(highWater);
    emu.addFault({ path: '/api/v1/sr', truncate: true, times: 1 });
    await expect(readSysaid(deps)).rejects.toMatchObject({ message: expect.stringMatching(/incomplete or malformed/) });
    expect(await live()).toBe(25);
    expect((await getSourceConfig(t.db)).lastReadError).toMatch(/incomplete or malformed/);

    // The session expired meanwhile: exactly one new login, then the read completes.
    emu.expireSessions();
    const loginsBefore = emu.counts().logins;
    expect(await readSysaid(deps)).toMatchObject({ itemsRemoved: 12, logins: 1 });
    expect(emu.counts().logins - loginsBefore).toBe(1);
    expect(await live()).toBe(13);

    // A wrong password: one refused login, no loop; the error says what to check.
    // (In a fresh login window: with this window's logins spent, the save would start a read of its own.)
    await new Promise((r) => setTimeout(r, 2_100));
    await t.call('PUT', '/api/source', { mode: 'sysaid', settings: (await getSourceConfig(t.db)).settings, secrets: { password: 'wrong' } });
    const before = emu.counts().logins;
    await expect(readSysaid(deps)).rejects.toMatchObject({ kind: 'credentials', message: expect.stringMatching(/refused the login .*check the user name and password/) });
    expect(emu.counts().logins - before).toBe(1);
    const view = (await t.call('GET', '/api/source')).json;
    expect(view.secrets.password).toMatchObject({ set: true });
    expect(JSON.stringify(view)).not.toContain('wrong');
    expect(JSON.stringify(view)).not.toContain(CREDS.password);
    const test = await t.call('POST', '/api/source/test', { settings: view.settings, secrets: { password: CREDS.password } });
    expect(test.json).toMatchObject({ ok: true, checks: [{ name: 'login', ok: true }, { name: 'admins', ok: true }, { name: 'service records', ok: true }, { name: 'filters', ok: true }] });
    const bad = await t.call('PUT', '/api/source', { mode: 'sysaid', settings: { baseUrl: 'http://sysaid.example', pollIntervalSeconds: 5 } });
    expect(bad.status).toBe(422);
    expect(bad.json.errors.map((e: { path: string }) => e.path).sort()).toEqual(['settings.baseUrl', 'settings.pollIntervalSeconds', 'settings.userName']);
  });

  it('waits out SysAid’s 429 and its own budget share instead of exceeding them', async () => {
    const id = ids();
    const ann = id(1);
    const now = Date.now();
    const srs = Array.from({ length: 40 }, (_, i) => sr(String(300 + i), { dueDate: now + (i + 1) * 3_600_000, responsibility: ann }));
    // A tiny budget: 10 requests per 3 s window, of which this app may use 5.
    await setUp([{ id: ann, userName: 'ann', firstName: 'Ann', lastName: 'Lee', email: 'ann@helpdesk.test', type: 'admin' }], srs, { maxRequests: 10, windowMs: 3_000 }, { pageSize: 10, maxRequestsPerWindow: 10, windowSeconds: 3 });
    const deps = { db: t.db, sealer: t.sealer };
    // users (2 pages) + filters + 5 SR pages + the count = 9 requests > 5: the sixth waits for the next window (called
    // directly, the read throws; in its activity it waits in place).
    await expect(readSysaid(deps)).rejects.toMatchObject({ kind: 'throttled', message: expect.stringMatching(/share of the SysAid request budget/) });
    const throttled = await readSysaid(deps).catch((e) => e);
    expect(throttled.options.retryAfterMs).toBeGreaterThan(0);
    expect(throttled.options.retryAfterMs).toBeLessThanOrEqual(3_000);
    expect(emu.counts().rejected429).toBe(0);
    // Another integration on the same account makes SysAid answer 429 (Retry-After 1 s) twice. Through Temporal,
    // the read waits out both SysAid's hint and its own budget windows in place, then completes.
    emu.addFault({ path: '/api/v1/sr', status: 429, times: 2 });
    const done = await read();
    expect(done).toMatchObject({ status: 'read', srs: 40 });
    // Only the two injected 429s: the budget itself never made SysAid refuse anything.
    expect(emu.requests.filter((r) => r.status === 429)).toHaveLength(2);
    expect(emu.counts().rejected429).toBe(2);
  });

  it('sends SR due dates through a real provider too (Microsoft 365)', async () => {
    const id = ids();
    const ann = id(1);
    const due = Date.now() + 2 * DAY;
    await setUp([{ id: ann, userName: 'ann', firstName: 'Ann', lastName: 'Lee', email: 'ann@contoso.test', type: 'admin', timeZone: 'America/New_York' }], [sr('401', { dueDate: due, responsibility: ann })]);
    const TENANT = '72f988bf-86f1-41af-91ab-2d7cd011db47';
    const CLIENT = '5e3ce6c0-2b1f-4285-8d4b-75ee78787346';
    graph = await startGraphEmulator({ tenants: { [TENANT]: { [CLIENT]: { secret: 'secret-value' } } }, mailboxes: ['ann@contoso.test'] });
    const saved = await t.call('PUT', '/api/integration', { protocol: 'microsoft365', settings: { tenantId: TENANT, clientId: CLIENT, syncUserEmail: 'ann@contoso.test', graphEndpoint: graph.baseUrl, authorityHost: graph.baseUrl, caCertificate: graph.ca }, secrets: { clientSecret: 'secret-value' } });
    expect(saved.status).toBe(200);
    await read();
    const A = adminIdForUser(ann);
    await steps.enable(A);
    expect((await steps.lastRun(A)).lastRun).toMatchObject({ created: 1, failed: 0 });
    const [event] = graph.events('ann@contoso.test');
    expect(event!.props).toMatchObject({ subject: 'Due: SR #401 Printer 401', end: { timeZone: 'Eastern Standard Time' } });
    expect(Date.parse(`${(event!.props.end as { dateTime: string }).dateTime}`)).toBeGreaterThan(0);
  });

  it('stays far inside the request budget with 10, 100 and 1,000 admins: one change-driven read feeds them all', async () => {
    const counts: Array<{ admins: number; first: number; perInterval: number[]; logins: number }> = [];
    for (const n of [10, 100, 1000]) {
      const id = ids();
      const users: SysaidUser[] = Array.from({ length: n }, (_, i) => ({ id: id(i), userName: `a${i}`, firstName: 'Admin', lastName: String(i), email: `a${i}@helpdesk.test`, type: 'admin' }));
      const now = Date.now();
      const srs = Array.from({ length: n * 3 }, (_, i) => sr(String(10_000 + i), { dueDate: now + ((i % 60) + 1) * 3_600_000, responsibility: id(i % n), followupUser: i % 4 === 0 ? id((i + 1) % n) : null, followupPlannedDate: i % 4 === 0 ? now + DAY : null }));
      await setUp(users, srs);
      const deps = { db: t.db, sealer: t.sealer };
      const before = emu.counts();
      const first = await readSysaid(deps);
      expect(first).toMatchObject({ srs: n * 3, admins: { added: n } });
      const perInterval: number[] = [];
      for (let interval = 0; interval < 3; interval++) {
        // 2 % of the SRs change each interval: reassigned, due dates moved, some closed.
        for (let i = 0; i < Math.max(1, Math.round(n * 3 * 0.02)); i++) {
          const k = randomInt(0, srs.length);
          srs[k] = { ...srs[k]!, responsibility: id(randomInt(0, n)), dueDate: now + randomInt(1, 60) * 3_600_000, status: i % 5 === 0 ? 3 : 2 };
          emu.setSr(srs[k]!);
        }
        const c0 = emu.counts().other;
        await readSysaid(deps);
        perInterval.push(emu.counts().other - c0);
      }
      const after = emu.counts();
      counts.push({ admins: n, first: first.requests, perInterval, logins: after.logins - before.logins });
      // Everything in one 5-minute window: well under this app's half of SysAid's 1,000 requests, one login.
      expect(after.other - before.other).toBeLessThanOrEqual(500);
      expect(after.rejected429).toBe(0);
      expect(after.logins - before.logins).toBe(1);
      for (const r of perInterval) expect(r).toBeLessThanOrEqual(4);
      await t.close();
      await emu.close();
      t = emu = undefined as never;
    }
    console.log(['SysAid requests per read (pageSize 500):', ...counts.map((c) => `  ${String(c.admins).padStart(5)} admins: first read ${c.first} (+${c.logins} login), then ${c.perInterval.join(' / ')} per interval`)].join('\n'));
    // With changes: one page of changed SRs and its count, one (empty) page of archived ones.
    expect(counts.map((c) => c.perInterval.every((r) => r === 3))).toEqual([true, true, true]);
  });
});