// Microsoft 365 end to end: the real msal-node and Graph SDKs over HTTPS to the emulator, a real worker on a
// real Temporal dev server, configured through the API.
import { historyToJSON } from '@temporalio/common/lib/proto-utils';
import { afterEach, describe, expect, it } from 'vitest';
import { MARKER_PROPERTY_ID } from '../../activities/providers/graph';
import { getIntegration } from '../../db/repositories';
import { adminWorkflowId } from '../../workflows/ids';
import { startGraphEmulator, type GraphEmulator } from '../fakes/graph';
import { createTestApp, type TestApp } from '../helpers/app';
import type { HarnessOptions } from '../helpers/harness';
import { adminSteps, crashAfterCreate } from '../helpers/providers';

const TENANT = '72f988bf-86f1-41af-91ab-2d7cd011db47';
const CLIENT = '5e3ce6c0-2b1f-4285-8d4b-75ee78787346';
const SECRET = 'Qm8~client-secret-value-0123456789';

let t: TestApp;
let graph: GraphEmulator;
afterEach(async () => {
  await t?.close();
  await graph?.close();
});

async function setUp(opts: HarnessOptions & { mailboxes?: string[] } = {}) {
  t = await createTestApp(opts);
  const alice = t.adminId('alice');
  const bob = t.adminId('bob');
  const mailboxes = opts.mailboxes ?? [`${alice}@contoso.test`, `${bob}@contoso.test`];
  graph = await startGraphEmulator({ tenants: { [TENANT]: { [CLIENT]: { secret: SECRET } } }, mailboxes });
  const settings = { tenantId: TENANT, clientId: CLIENT, syncUserEmail: mailboxes[0], graphEndpoint: graph.baseUrl, authorityHost: graph.baseUrl, caCertificate: graph.ca };
  const saved = await t.call('PUT', '/api/integration', { protocol: 'microsoft365', settings, secrets: { clientSecret: SECRET } });
  expect(saved.status).toBe(200);
  await t.call('POST', '/api/integration/enable');
  return { alice, bob, settings };
}

const steps = adminSteps(() => t);
const addAdmin = (id: string, timeZone: string, email = `${id}@contoso.test`) => steps.addAdmin(id, timeZone, email);
const { enable, lastRun } = steps;


describe('Microsoft 365 over Graph', () => {
  it('tests the connection on unsaved values and explains a wrong secret, then validates the form', async () => {
    const { settings } = await setUp();
    const wrong = await t.call('POST', '/api/integration/test', { protocol: 'microsoft365', settings, secrets: { clientSecret: 'not-the-secret' } });
    expect(wrong.json.ok).toBe(false);
    expect(wrong.json.checks).toEqual([{ name: 'token', ok: false, detail: expect.stringMatching(/^AADSTS7000215: The client secret is wrong/) }]);
    const right = await t.call('POST', '/api/integration/test');
    expect(right.json).toMatchObject({ ok: true, checks: [{ name: 'token', ok: true }, { name: 'mailbox', ok: true }, { name: 'calendar', ok: true }] });
    expect(graph.events(settings.syncUserEmail)).toEqual([]);
    const unknownTenant = await t.call('POST', '/api/integration/test', { protocol: 'microsoft365', settings: { ...settings, tenantId: '00000000-0000-0000-0000-000000000000' } });
    expect(unknownTenant.json.checks[0].detail).toMatch(/^AADSTS90002: The tenant was not found/);
    const noCa = await t.call('POST', '/api/integration/test', { protocol: 'microsoft365', settings: { ...settings, caCertificate: undefined } });
    expect(noCa.json.checks[0].detail).toMatch(/not trusted .*add the issuing CA certificate/);

    const bad = await t.call('PUT', '/api/integration', { protocol: 'microsoft365', settings: { ...settings, tenantId: 'not a tenant', clientId: 'abc', syncUserEmail: 'nobody', graphEndpoint: 'http://graph.example' } });
    expect(bad.status).toBe(422);
    expect(bad.json.errors.map((e: { path: string }) => e.path).sort()).toEqual(['settings.clientId', 'settings.graphEndpoint', 'settings.syncUserEmail', 'settings.tenantId']);
    const view = (await t.call('GET', '/api/integration')).json;
    expect(view.secrets.clientSecret).toMatchObject({ set: true, fingerprint: expect.stringMatching(/^[0-9a-f]{12}$/) });
    expect(JSON.stringify(view)).not.toContain(SECRET);
  });

  it('exports exact events across zones and a DST change, updates in place, deletes, and never invites anyone', async () => {
    const { alice, bob } = await setUp();
    await addAdmin(alice, 'Europe/Berlin');
    await addAdmin(bob, 'America/New_York');
    const put = (key: string, body: Record<string, unknown>) => t.call('PUT', `/api/calendar-items/${key}?sync=later`, body);
    // Europe springs forward on 2027-03-28 at 01:00 UTC; New York on 2027-03-14 at 07:00 UTC.
    await put('sysaid:task:1', { adminId: alice, type: 'task', title: 'Night patching', timing: { kind: 'timed', startUtc: '2027-03-28T00:30:00Z', endUtc: '2027-03-28T01:30:00Z' } });
    await put('sysaid:software:2:expiration', { adminId: alice, type: 'software_expiry', title: 'Backup suite', url: 'https://helpdesk.example/sw/2', timing: { kind: 'all_day', startDate: '2027-03-28', sourceTz: 'Europe/Berlin' } });
    await put('sysaid:sr:3:due', { adminId: bob, type: 'sr_due', title: 'SR #3 VPN', body: 'Drops hourly', url: 'https://helpdesk.example/sr/3', timing: { kind: 'deadline', atUtc: '2027-03-14T12:00:00Z' }, statusClass: 'open' });
    await put('sysaid:software:4:expiration', { adminId: bob, type: 'software_expiry', title: 'Antivirus', timing: { kind: 'all_day', atUtc: '2027-03-14T02:00:00Z', sourceTz: 'America/New_York' } });
    await enable(alice);
    await enable(bob);
    const ra = await lastRun(alice);
    const rb = await lastRun(bob);
    expect([ra.lastRun.created, rb.lastRun.created, ra.lastRun.failed, rb.lastRun.failed]).toEqual([2, 2, 0, 0]);

    const installationId = (await getIntegration(t.db)).installationId;
    const aliceEvents = graph.events(`${alice}@contoso.test`).sort((a, b) => String(a.props.subject).localeCompare(String(b.props.subject)));
    expect(aliceEvents.map((e) => e.props)).toEqual([
      expect.objectContaining({ subject: 'Expires: Backup suite', isAllDay: true, showAs: 'free', isReminderOn: false, start: { dateTime: '2027-03-28T00:00:00', timeZone: 'W. Europe Standard Time' }, end: { dateTime: '2027-03-29T00:00:00', timeZone: 'W. Europe Standard Time' }, body: { contentType: 'text', content: 'Open in the helpdesk: https://helpdesk.example/sw/2' } }),
      expect.objectContaining({ subject: 'Task: Night patching', isAllDay: false, showAs: 'busy', reminderMinutesBeforeStart: 15, categories: ['Helpdesk'], start: { dateTime: '2027-03-28T01:30:00', timeZone: 'W. Europe Standard Time' }, end: { dateTime: '2027-03-28T03:30:00', timeZone: 'W. Europe Standard Time' } }),
    ]);
    expect(aliceEvents.map((e) => e.extended[MARKER_PROPERTY_ID]).sort()).toEqual([`${installationId}/${alice}/sysaid:software:2:expiration`, `${installationId}/${alice}/sysaid:task:1`]);
    expect(aliceEvents.every((e) => /^[0-9a-f-]{36}$/.test(e.transactionId ?? ''))).toBe(true);
    const bobEvents = graph.events(`${bob}@contoso.test`).sort((a, b) => String(a.props.subject).localeCompare(String(b.props.subject)));
    expect(bobEvents.map((e) => [e.props.subject, e.props.start, e.props.end, e.props.isAllDay])).toEqual([
      ['Due: SR #3 VPN', { dateTime: '2027-03-14T07:30:00', timeZone: 'Eastern Standard Time' }, { dateTime: '2027-03-14T08:00:00', timeZone: 'Eastern Standard Time' }, false],
      // 02:00 UTC on the 14th is still the 13th in New York, where the date was entered.
      ['Expires: Antivirus', { dateTime: '2027-03-13T00:00:00', timeZone: 'Eastern Standard Time' }, { dateTime: '2027-03-14T00:00:00', timeZone: 'Eastern Standard Time' }, true],
    ]);
    expect(bobEvents[0]!.props.body).toEqual({ contentType: 'text', content: 'Drops hourly\n\nOpen in the helpdesk: https://helpdesk.example/sr/3' });

    // Edit in place, delete.
    const before = aliceEvents.find((e) => e.props.subject === 'Task: Night patching')!;
    const changeKey = before.changeKey;
    await put('sysaid:task:1', { adminId: alice, type: 'task', title: 'Night patching (extended)', timing: { kind: 'timed', startUtc: '2027-03-28T00:30:00Z', endUtc: '2027-03-28T02:30:00Z' } });
    await t.call('DELETE', `/api/calendar-items/sysaid:software:2:expiration?adminId=${alice}&sync=later`);
    const run = await t.call('POST', `/api/admins/${alice}/sync/run`);
    expect(run.json.counts).toMatchObject({ created: 0, updated: 1, deleted: 1, failed: 0 });
    const after = graph.events(`${alice}@contoso.test`);
    expect(after.map((e) => [e.id, e.props.subject, (e.props.end as { dateTime: string }).dateTime])).toEqual([[before.id, 'Task: Night patching (extended)', '2027-03-28T04:30:00']]);
    expect(after[0]!.changeKey).not.toBe(changeKey);
    expect(graph.invitationsSent()).toBe(0);
    expect([...aliceEvents, ...bobEvents].every((e) => !('attendees' in e.props))).toBe(true);
  });

  it('a worker that dies after Graph created an event but before the link was written leaves one event', async () => {
    const providerFactory = crashAfterCreate(3);
    const { alice } = await setUp({ providerFactory });
    await addAdmin(alice, 'Europe/Berlin');
    for (let i = 0; i < 6; i++) {
      await t.call('PUT', `/api/calendar-items/sysaid:sr:${i}:due?sync=later`, { adminId: alice, type: 'sr_due', title: `SR ${i}`, timing: { kind: 'deadline', atUtc: `2027-01-0${i + 1}T12:00:00Z` }, statusClass: 'open' });
    }
    await enable(alice);
    const s = await lastRun(alice);
    expect(s.lastRun).toMatchObject({ created: 6, failed: 0, error: null });
    const events = graph.events(`${alice}@contoso.test`);
    expect(events).toHaveLength(6);
    expect(new Set(events.map((e) => e.extended[MARKER_PROPERTY_ID])).size).toBe(6);
    // The retried create reached Graph again and was answered with the original event.
    expect(graph.requests.filter((r) => r.method === 'POST' && r.path.includes('/calendar/events')).length).toBe(7);
  });

  it('completes through a 429 storm with Retry-After honoured, no duplicates, and never more than 4 requests in flight', async () => {
    const { alice } = await setUp();
    await addAdmin(alice, 'UTC');
    for (let i = 0; i < 24; i++) {
      await t.call('PUT', `/api/calendar-items/sysaid:sr:${i}:due?sync=later`, { adminId: alice, type: 'sr_due', title: `SR ${String(i).padStart(2, '0')}`, timing: { kind: 'deadline', atUtc: `2027-02-${String(i + 1).padStart(2, '0')}T12:00:00Z` }, statusClass: 'open' });
    }
    graph.setLatency(30);
    // Retry-After longer than the retry policy's first interval (2 s), so waiting it out is observable.
    graph.addFault({ status: 429, code: 'ApplicationThrottled', message: 'Application is over its MailboxConcurrency limit.', retryAfter: '4', times: 3, method: 'POST' });
    await enable(alice);
    const s = await lastRun(alice);
    expect(s.lastRun).toMatchObject({ created: 24, failed: 0, error: null });
    const events = graph.events(`${alice}@contoso.test`);
    expect(events.map((e) => e.props.subject).sort()).toEqual(Array.from({ length: 24 }, (_, i) => `Due: SR ${String(i).padStart(2, '0')}`));
    expect(graph.peakConcurrency(`${alice}@contoso.test`)).toBeLessThanOrEqual(4);
    const posts = graph.requests.filter((r) => r.method === 'POST' && r.path.includes('/events'));
    const throttled = posts.filter((r) => r.status === 429);
    expect(throttled).toHaveLength(3);
    // After the throttled attempt, nothing was sent until Retry-After had passed.
    const arrivals = posts.map((r) => r.receivedAt).sort((a, b) => a - b);
    const longestPause = Math.max(...arrivals.slice(1).map((at, i) => at - arrivals[i]!));
    expect(longestPause).toBeGreaterThanOrEqual(3900);
  });

  it('pauses every workflow with reason credentials on a wrong secret and resumes when it is fixed; an unknown mailbox blocks only its admin', async () => {
    const { alice, bob, settings } = await setUp();
    await addAdmin(alice, 'UTC');
    await addAdmin(bob, 'UTC', `${bob}@elsewhere.test`);
    await t.call('PUT', `/api/calendar-items/sysaid:sr:1:due?sync=later`, { adminId: alice, type: 'sr_due', title: 'SR 1', timing: { kind: 'deadline', atUtc: '2027-01-01T12:00:00Z' }, statusClass: 'open' });
    await t.call('PUT', `/api/calendar-items/sysaid:sr:2:due?sync=later`, { adminId: bob, type: 'sr_due', title: 'SR 2', timing: { kind: 'deadline', atUtc: '2027-01-01T12:00:00Z' }, statusClass: 'open' });
    await enable(alice);
    await enable(bob);
    await lastRun(alice);
    const blocked = await t.eventually(async () => {
      const s = (await t.call('GET', `/api/admins/${bob}/sync`)).json;
      return s.state === 'blocked' ? s : null;
    }, 60_000, 'bob blocked');
    expect(blocked.blockedReason).toMatch(/mailbox .*elsewhere\.test was not found/);
    expect((await t.call('GET', `/api/admins/${alice}/sync`)).json.state).toBe('idle');

    // The secret is rotated in Entra ID but not here yet.
    graph.setApp(TENANT, CLIENT, { secret: 'the-new-secret-value' });
    await t.call('PUT', '/api/integration', { protocol: 'microsoft365', settings, secrets: {} });
    await t.call('PUT', `/api/calendar-items/sysaid:sr:3:due`, { adminId: alice, type: 'sr_due', title: 'SR 3', timing: { kind: 'deadline', atUtc: '2027-01-02T12:00:00Z' }, statusClass: 'open' });
    const paused = await t.eventually(async () => {
      const s = (await t.call('GET', `/api/admins/${alice}/sync`)).json;
      return s.state === 'paused' ? s : null;
    }, 60_000, 'alice paused for credentials');
    expect(paused).toMatchObject({ pausedReason: 'credentials', pausedMessage: expect.stringMatching(/^AADSTS7000215/) });
    expect(graph.events(`${alice}@contoso.test`)).toHaveLength(1);

    await t.call('PUT', '/api/integration', { protocol: 'microsoft365', settings, secrets: { clientSecret: 'the-new-secret-value' } });
    await t.eventually(async () => graph.events(`${alice}@contoso.test`).length === 2, 60_000, 'alice resumed and synced');
    await t.eventually(async () => (await t.call('GET', `/api/admins/${alice}/sync`)).json.state === 'idle', 30_000, 'alice idle again');
    expect((await t.call('GET', `/api/admins/${alice}/sync`)).json).toMatchObject({ pausedReason: null, lastRun: { error: null } });
    // Neither secret ever reached a workflow history or a log line.
    const history = historyToJSON(await t.client.workflow.getHandle(adminWorkflowId(alice)).fetchHistory());
    for (const secret of [SECRET, 'the-new-secret-value']) {
      expect(history).not.toContain(secret);
      expect(t.logLines.join('\n')).not.toContain(secret);
    }
  });

  it('reports events deleted or edited in Outlook and repairs them, or only reports them when the policy is leave', async () => {
    const { alice, settings } = await setUp();
    await addAdmin(alice, 'UTC');
    for (let i = 1; i <= 3; i++) {
      await t.call('PUT', `/api/calendar-items/sysaid:sr:${i}:due?sync=later`, { adminId: alice, type: 'sr_due', title: `SR ${i}`, timing: { kind: 'deadline', atUtc: `2027-01-0${i}T12:00:00Z` }, statusClass: 'open' });
    }
    await enable(alice);
    await lastRun(alice);
    const mailbox = `${alice}@contoso.test`;
    const bySubject = () => Object.fromEntries(graph.events(mailbox).map((e) => [e.props.subject, e]));
    const original = bySubject();
    graph.deleteEvent(mailbox, original['Due: SR 1']!.id);
    graph.editEvent(mailbox, original['Due: SR 2']!.id, { subject: 'Due: SR 2 (moved by hand)' });

    const repaired = await t.call('POST', `/api/admins/${alice}/sync/run`);
    expect(repaired.json.counts).toMatchObject({ updated: 2, created: 0, deleted: 0, failed: 0 });
    const status = (await t.call('GET', `/api/admins/${alice}/sync`)).json;
    expect(status.drift).toEqual({ missing: 1, edited: 1, policy: 'repair' });
    const after = bySubject();
    expect(Object.keys(after).sort()).toEqual(['Due: SR 1', 'Due: SR 2', 'Due: SR 3']);
    expect(after['Due: SR 1']!.id).not.toBe(original['Due: SR 1']!.id);
    expect(after['Due: SR 2']!.id).toBe(original['Due: SR 2']!.id);
    expect((await t.call('POST', `/api/admins/${alice}/sync/run`)).json.counts).toMatchObject({ updated: 0, unchanged: 3 });

    await t.call('PUT', '/api/integration', { protocol: 'microsoft365', settings: { ...settings, driftPolicy: 'leave' }, secrets: {} });
    graph.deleteEvent(mailbox, after['Due: SR 3']!.id);
    const left = await t.eventually(async () => {
      const r = await t.call('POST', `/api/admins/${alice}/sync/run`);
      return r.status === 200 ? r : null;
    }, 30_000, 'a run after the policy change');
    expect(left.json.counts).toMatchObject({ updated: 0, created: 0 });
    expect((await t.call('GET', `/api/admins/${alice}/sync`)).json.drift).toEqual({ missing: 1, edited: 0, policy: 'leave' });
    expect(Object.keys(bySubject()).sort()).toEqual(['Due: SR 1', 'Due: SR 2']);
  });

  it('costs one request per exported event, and a run with nothing changed writes nothing and reads one page', async () => {
    const { alice } = await setUp();
    await addAdmin(alice, 'UTC');
    const n = 40;
    for (let i = 0; i < n; i++) {
      await t.call('PUT', `/api/calendar-items/sysaid:sr:${i}:due?sync=later`, { adminId: alice, type: 'sr_due', title: `SR ${i}`, timing: { kind: 'deadline', atUtc: new Date(Date.UTC(2027, 0, 1 + i, 12)).toISOString() }, statusClass: 'open' });
    }
    await enable(alice);
    await lastRun(alice);
    const graphCalls = () => graph.requests.filter((r) => r.path.startsWith('/v1.0/'));
    const initial = graphCalls();
    const writes = initial.filter((r) => r.method !== 'GET');
    expect(writes.map((r) => `${r.method} ${r.status}`)).toEqual(Array(n).fill('POST 201'));
    // The drift check before the first run found nothing to page through.
    expect(initial.filter((r) => r.method === 'GET')).toHaveLength(1);
    expect(graph.requests.filter((r) => r.path.includes('/oauth2/')).length).toBe(1);
    const before = graphCalls().length;
    const steady = await t.call('POST', `/api/admins/${alice}/sync/run`);
    expect(steady.json.counts).toMatchObject({ created: 0, updated: 0, deleted: 0, unchanged: n });
    const steadyCalls = graphCalls().slice(before);
    expect(steadyCalls.map((r) => r.method)).toEqual(['GET']);
  });
});
