// Google Workspace end to end: the real googleapis SDK (JWT bearer with domain-wide delegation) over HTTPS
// to the emulator, a real worker on a real Temporal dev server, configured through the API.
import { historyToJSON } from '@temporalio/common/lib/proto-utils';
import { afterEach, describe, expect, it } from 'vitest';
import { googleEventId, MARKER_KEY, OWNER_KEY } from '../../activities/providers/google';
import { GOOGLE_SCOPE } from '../../activities/providers/google/settings';
import { getIntegration } from '../../db/repositories';
import { adminWorkflowId } from '../../workflows/ids';
import { makeServiceAccount, startGoogleEmulator, type GoogleEmulator, type ServiceAccount } from '../fakes/google';
import { createTestApp, type TestApp } from '../helpers/app';
import type { HarnessOptions } from '../helpers/harness';
import { adminSteps, crashAfterCreate } from '../helpers/providers';

let t: TestApp;
let emu: GoogleEmulator;
let sa: ServiceAccount;
afterEach(async () => {
  await t?.close();
  await emu?.close();
});

async function setUp(opts: HarnessOptions & { users?: string[] } = {}) {
  t = await createTestApp(opts);
  const alice = t.adminId('alice');
  const bob = t.adminId('bob');
  const users = opts.users ?? [`${alice}@example.org`, `${bob}@example.org`];
  sa = makeServiceAccount();
  emu = await startGoogleEmulator({ accounts: [sa], delegation: { [sa.clientId]: [GOOGLE_SCOPE] }, users });
  const settings = { syncUserEmail: users[0], apiEndpoint: emu.baseUrl, tokenEndpoint: emu.tokenUrl, caCertificate: emu.ca };
  const saved = await t.call('PUT', '/api/integration', { protocol: 'google', settings, secrets: { serviceAccountKey: sa.keyFile } });
  expect(saved.status).toBe(200);
  await t.call('POST', '/api/integration/enable');
  return { alice, bob, settings };
}

const steps = adminSteps(() => t);
const addAdmin = (id: string, timeZone: string, email = `${id}@example.org`) => steps.addAdmin(id, timeZone, email);
const { enable, lastRun } = steps;
const put = (key: string, body: Record<string, unknown>) => t.call('PUT', `/api/calendar-items/${key}?sync=later`, body);
const srDue = (adminId: string, i: number, title = `SR ${i}`) => ({ adminId, type: 'sr_due', title, timing: { kind: 'deadline', atUtc: new Date(Date.UTC(2027, 0, 1 + i, 12)).toISOString() }, statusClass: 'open' });
const bySummary = (user: string) => Object.fromEntries(emu.events(user).map((e) => [e.props.summary as string, e]));

describe('Google Workspace over the Calendar API', () => {
  it('explains token errors, tests the connection with a probe event, and refuses malformed keys at save time', async () => {
    const { settings } = await setUp();
    const ok = await t.call('POST', '/api/integration/test');
    expect(ok.json).toMatchObject({ ok: true, checks: [{ name: 'token', ok: true }, { name: 'calendar', ok: true }, { name: 'event', ok: true }] });
    // The probe was created and deleted: one cancelled event, nothing live.
    expect(emu.events(settings.syncUserEmail!)).toEqual([]);
    expect(emu.allEvents(settings.syncUserEmail!)).toHaveLength(1);

    emu.setDelegation(sa.clientId, null);
    const noDwd = await t.call('POST', '/api/integration/test');
    expect(noDwd.json.checks).toEqual([{ name: 'token', ok: false, detail: expect.stringMatching(/^unauthorized_client: Domain-wide delegation is not set up .*up to 24 hours/) }]);
    emu.setDelegation(sa.clientId, ['https://www.googleapis.com/auth/gmail.readonly']);
    expect((await t.call('POST', '/api/integration/test')).json.checks[0].detail).toMatch(/^unauthorized_client/);
    emu.setDelegation(sa.clientId, [GOOGLE_SCOPE]);
    const other = makeServiceAccount('stranger');
    const unknownKey = await t.call('POST', '/api/integration/test', { protocol: 'google', settings, secrets: { serviceAccountKey: other.keyFile } });
    expect(unknownKey.json.checks[0].detail).toMatch(/^invalid_grant: Google refused the signed assertion: the key may have been deleted/);
    const noCa = await t.call('POST', '/api/integration/test', { protocol: 'google', settings: { ...settings, caCertificate: undefined } });
    expect(noCa.json.checks[0].detail).toMatch(/not trusted .*add the issuing CA certificate/);

    // The two-field form works as well as the key file.
    const fields = await t.call('POST', '/api/integration/test', { protocol: 'google', settings: { ...settings, clientEmail: sa.clientEmail }, secrets: { serviceAccountKey: null, privateKey: sa.privateKey } });
    expect(fields.json.ok).toBe(true);

    const key = JSON.parse(sa.keyFile) as Record<string, string>;
    const cases: Array<[Record<string, unknown>, Record<string, unknown>, string, RegExp]> = [
      [{}, { serviceAccountKey: sa.keyFile.slice(0, 200) }, 'secrets.serviceAccountKey', /not valid JSON.*truncated/],
      [{}, { serviceAccountKey: JSON.stringify({ ...key, type: 'authorized_user' }) }, 'secrets.serviceAccountKey.type', /"authorized_user" credential/],
      [{}, { serviceAccountKey: JSON.stringify({ ...key, private_key: key.private_key!.slice(0, 300) }) }, 'secrets.serviceAccountKey.private_key', /truncated/],
      [{}, { serviceAccountKey: JSON.stringify({ ...key, private_key: key.private_key!.replace(/[A-Za-z]{20}/, 'x'.repeat(20)) }) }, 'secrets.serviceAccountKey.private_key', /damaged/],
      [{ clientEmail: sa.clientEmail }, { serviceAccountKey: null, privateKey: '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----' }, 'secrets.privateKey', /certificate or public key/],
      [{}, { serviceAccountKey: null, privateKey: sa.privateKey }, 'settings.clientEmail', /clientEmail is required/],
    ];
    for (const [extra, secrets, path, message] of cases) {
      const bad = await t.call('PUT', '/api/integration', { protocol: 'google', settings: { ...settings, ...extra }, secrets });
      expect(bad.status, path).toBe(422);
      expect(bad.json.errors, path).toEqual([expect.objectContaining({ path, message: expect.stringMatching(message) })]);
      expect(JSON.stringify(bad.json)).not.toContain(key.private_key!.slice(40, 80));
    }
    const badSettings = await t.call('PUT', '/api/integration', { protocol: 'google', settings: { ...settings, syncUserEmail: 'nobody', apiEndpoint: 'http://www.googleapis.com', requestsPerMinutePerUser: 5 } });
    expect(badSettings.json.errors.map((e: { path: string }) => e.path).sort()).toEqual(['settings.apiEndpoint', 'settings.requestsPerMinutePerUser', 'settings.syncUserEmail']);
    const view = (await t.call('GET', '/api/integration')).json;
    expect(view.secrets.serviceAccountKey).toMatchObject({ set: true, fingerprint: expect.stringMatching(/^[0-9a-f]{12}$/) });
    expect(JSON.stringify(view)).not.toContain('PRIVATE KEY');
  });

  it('exports exact events with client ids and markers, all-day dates right west and east of UTC, updates in place, deletes, invites no one', async () => {
    const { alice, bob } = await setUp();
    await addAdmin(alice, 'Asia/Tokyo');
    await addAdmin(bob, 'America/Los_Angeles');
    // Entered as 23:30 UTC on the 9th: in Tokyo that is already the 10th; in Los Angeles 16:30 on the 9th.
    await put('sysaid:software:1:expiration', { adminId: alice, type: 'software_expiry', title: 'Backup suite', timing: { kind: 'all_day', atUtc: '2027-02-09T23:30:00Z', sourceTz: 'Asia/Tokyo' } });
    await put('sysaid:software:2:expiration', { adminId: bob, type: 'software_expiry', title: 'Antivirus', timing: { kind: 'all_day', atUtc: '2027-02-09T23:30:00Z', sourceTz: 'America/Los_Angeles' } });
    await put('sysaid:task:3', { adminId: alice, type: 'task', title: 'Patch night', timing: { kind: 'timed', startUtc: '2027-02-10T13:00:00Z', endUtc: '2027-02-10T15:00:00Z' } });
    await put('sysaid:sr:4:due', { adminId: bob, type: 'sr_due', title: 'SR #4 VPN', body: 'Drops hourly', url: 'https://helpdesk.example/sr/4', timing: { kind: 'deadline', atUtc: '2027-03-14T18:00:00Z' }, statusClass: 'open' });
    await enable(alice);
    await enable(bob);
    expect((await lastRun(alice)).lastRun).toMatchObject({ created: 2, failed: 0 });
    expect((await lastRun(bob)).lastRun).toMatchObject({ created: 2, failed: 0 });

    const installationId = (await getIntegration(t.db)).installationId;
    const a = bySummary(`${alice}@example.org`);
    expect(a['Expires: Backup suite']!.props).toMatchObject({ start: { date: '2027-02-10' }, end: { date: '2027-02-11' }, transparency: 'transparent' });
    expect(a['Task: Patch night']!.props).toMatchObject({
      start: { dateTime: '2027-02-10T22:00:00+09:00', timeZone: 'Asia/Tokyo' },
      end: { dateTime: '2027-02-11T00:00:00+09:00', timeZone: 'Asia/Tokyo' },
      transparency: 'opaque',
      reminders: { useDefault: false, overrides: [{ method: 'popup', minutes: 15 }] },
    });
    const marker = `${installationId}/${alice}/sysaid:task:3`;
    expect(a['Task: Patch night']!.id).toBe(googleEventId({ marker, generation: 1 }));
    expect(a['Task: Patch night']!.props.extendedProperties).toEqual({ private: { [MARKER_KEY]: marker, [OWNER_KEY]: `${installationId}/${alice}` } });
    const b = bySummary(`${bob}@example.org`);
    expect(b['Expires: Antivirus']!.props).toMatchObject({ start: { date: '2027-02-09' }, end: { date: '2027-02-10' } });
    // Deadline blocks end at the due time; 18:00 UTC on 14 March 2027 is 11:00 PDT (DST began that morning).
    expect(b['Due: SR #4 VPN']!.props).toMatchObject({ start: { dateTime: '2027-03-14T10:30:00-07:00', timeZone: 'America/Los_Angeles' }, end: { dateTime: '2027-03-14T11:00:00-07:00' }, description: 'Drops hourly\n\nOpen in the helpdesk: https://helpdesk.example/sr/4' });

    const before = { ...a['Task: Patch night']! };
    await put('sysaid:task:3', { adminId: alice, type: 'task', title: 'Patch night (extended)', timing: { kind: 'timed', startUtc: '2027-02-10T13:00:00Z', endUtc: '2027-02-10T16:00:00Z' } });
    await t.call('DELETE', `/api/calendar-items/sysaid:software:1:expiration?adminId=${alice}&sync=later`);
    const run = await t.call('POST', `/api/admins/${alice}/sync/run`);
    expect(run.json.counts).toMatchObject({ created: 0, updated: 1, deleted: 1, failed: 0 });
    const after = emu.events(`${alice}@example.org`);
    expect(after.map((e) => [e.id, e.props.summary, (e.props.end as { dateTime: string }).dateTime])).toEqual([[before.id, 'Task: Patch night (extended)', '2027-02-11T01:00:00+09:00']]);
    expect(after[0]!.etag).not.toBe(before.etag);
    expect(emu.allEvents(`${alice}@example.org`).find((e) => e.props.summary === 'Expires: Backup suite')?.status).toBe('cancelled');
    expect(emu.invitationsSent()).toBe(0);
    const writes = emu.requests.filter((r) => r.path.startsWith('/calendar/') && r.method !== 'GET');
    expect(writes.every((r) => r.path.includes('sendUpdates=none'))).toBe(true);
  });

  it('a worker that dies after Google created an event but before the link was written leaves one event', async () => {
    const providerFactory = crashAfterCreate(3);
    const { alice } = await setUp({ providerFactory });
    await addAdmin(alice, 'UTC');
    for (let i = 0; i < 6; i++) await put(`sysaid:sr:${i}:due`, srDue(alice, i));
    await enable(alice);
    expect((await lastRun(alice)).lastRun).toMatchObject({ created: 6, failed: 0, error: null });
    const events = emu.allEvents(`${alice}@example.org`);
    expect(events).toHaveLength(6);
    expect(events.every((e) => e.status === 'confirmed')).toBe(true);
    // The retried insert hit the id of the event that landed (409), found it and brought it up to date.
    const inserts = emu.requests.filter((r) => r.method === 'POST' && r.path.includes('/events'));
    expect(inserts.map((r) => r.status).sort()).toEqual([200, 200, 200, 200, 200, 200, 409]);
    expect(emu.requests.filter((r) => r.method === 'PATCH')).toHaveLength(1);
  });

  it('rides out a storm of 403 rateLimitExceeded and 429 without duplicates', async () => {
    const { alice } = await setUp();
    await addAdmin(alice, 'UTC');
    for (let i = 0; i < 20; i++) await put(`sysaid:sr:${i}:due`, srDue(alice, i, `SR ${String(i).padStart(2, '0')}`));
    emu.setLatency(20);
    emu.addFault({ status: 403, reason: 'rateLimitExceeded', times: 3, method: 'POST' });
    emu.addFault({ status: 429, reason: 'rateLimitExceeded', times: 2, method: 'POST', retryAfter: '3' });
    emu.addFault({ status: 403, reason: 'userRateLimitExceeded', times: 1, method: 'POST' });
    await enable(alice);
    expect((await lastRun(alice)).lastRun).toMatchObject({ created: 20, failed: 0, error: null });
    const events = emu.allEvents(`${alice}@example.org`);
    expect(events.map((e) => e.props.summary).sort()).toEqual(Array.from({ length: 20 }, (_, i) => `Due: SR ${String(i).padStart(2, '0')}`));
    const posts = emu.requests.filter((r) => r.method === 'POST' && r.path.includes('/events'));
    expect(posts.filter((r) => r.status === 403 || r.status === 429)).toHaveLength(6);
    expect(emu.peakConcurrency(`${alice}@example.org`)).toBeLessThanOrEqual(4);
  });

  it('pauses with reason credentials when delegation is revoked and resumes when it is restored; an unknown user blocks only its admin', async () => {
    const { alice, bob } = await setUp();
    await addAdmin(alice, 'UTC');
    await addAdmin(bob, 'UTC', `${bob}@not-in-domain.org`);
    await put('sysaid:sr:1:due', srDue(alice, 1));
    await put('sysaid:sr:2:due', srDue(bob, 2));
    await enable(alice);
    await enable(bob);
    await lastRun(alice);
    const blocked = await t.eventually(async () => {
      const s = (await t.call('GET', `/api/admins/${bob}/sync`)).json;
      return s.state === 'blocked' ? s : null;
    }, 60_000, 'bob blocked');
    expect(blocked.blockedReason).toMatch(/not-in-domain\.org does not exist in the Workspace domain/);
    expect((await t.call('GET', `/api/admins/${alice}/sync`)).json.state).toBe('idle');

    // Someone removes the delegation in the Admin console; the cached token expires (new provider on save).
    emu.setDelegation(sa.clientId, null);
    await t.call('PUT', '/api/integration', { protocol: 'google', settings: (await getIntegration(t.db)).settings, secrets: {} });
    await t.call('PUT', '/api/calendar-items/sysaid:sr:3:due', srDue(alice, 3));
    const paused = await t.eventually(async () => {
      const s = (await t.call('GET', `/api/admins/${alice}/sync`)).json;
      return s.state === 'paused' ? s : null;
    }, 60_000, 'alice paused for credentials');
    expect(paused).toMatchObject({ pausedReason: 'credentials', pausedMessage: expect.stringMatching(/^unauthorized_client: Domain-wide delegation/) });
    expect(emu.events(`${alice}@example.org`)).toHaveLength(1);

    emu.setDelegation(sa.clientId, [GOOGLE_SCOPE]);
    await t.call('PUT', '/api/integration', { protocol: 'google', settings: (await getIntegration(t.db)).settings, secrets: {} });
    await t.eventually(async () => emu.events(`${alice}@example.org`).length === 2, 60_000, 'alice resumed and synced');
    const history = historyToJSON(await t.client.workflow.getHandle(adminWorkflowId(alice)).fetchHistory());
    const key = JSON.parse(sa.keyFile).private_key as string;
    expect(history).not.toContain(key.slice(100, 160));
    expect(t.logLines.join('\n')).not.toContain(key.slice(100, 160));
  });

  it('reports events deleted or edited in Google Calendar and repairs them under a fresh id; a re-added item gets a fresh event', async () => {
    const { alice } = await setUp();
    await addAdmin(alice, 'UTC');
    for (let i = 1; i <= 3; i++) await put(`sysaid:sr:${i}:due`, srDue(alice, i));
    await enable(alice);
    await lastRun(alice);
    const user = `${alice}@example.org`;
    const original = bySummary(user);
    emu.deleteEvent(user, original['Due: SR 1']!.id);
    emu.editEvent(user, original['Due: SR 2']!.id, { summary: 'Due: SR 2 (moved by hand)' });

    const repaired = await t.call('POST', `/api/admins/${alice}/sync/run`);
    expect(repaired.json.counts).toMatchObject({ updated: 2, created: 0, deleted: 0, failed: 0 });
    expect((await t.call('GET', `/api/admins/${alice}/sync`)).json.drift).toEqual({ missing: 1, edited: 1, policy: 'repair' });
    const after = bySummary(user);
    expect(Object.keys(after).sort()).toEqual(['Due: SR 1', 'Due: SR 2', 'Due: SR 3']);
    // The deleted event's id stays reserved: the repair used the next generation's id.
    const installationId = (await getIntegration(t.db)).installationId;
    expect(after['Due: SR 1']!.id).toBe(googleEventId({ marker: `${installationId}/${alice}/sysaid:sr:1:due`, generation: 2 }));
    expect(after['Due: SR 2']!.id).toBe(original['Due: SR 2']!.id);
    expect((await t.call('POST', `/api/admins/${alice}/sync/run`)).json.counts).toMatchObject({ updated: 0, unchanged: 3 });

    // The SR is closed (its item deleted), then reopened (the same key added again).
    await t.call('DELETE', `/api/calendar-items/sysaid:sr:3:due?adminId=${alice}&sync=later`);
    expect((await t.call('POST', `/api/admins/${alice}/sync/run`)).json.counts).toMatchObject({ deleted: 1 });
    await put('sysaid:sr:3:due', srDue(alice, 3, 'SR 3 reopened'));
    expect((await t.call('POST', `/api/admins/${alice}/sync/run`)).json.counts).toMatchObject({ created: 1, failed: 0 });
    const reopened = bySummary(user)['Due: SR 3 reopened']!;
    expect(reopened.status).toBe('confirmed');
    expect(reopened.id).not.toBe(original['Due: SR 3']!.id);
    expect(emu.events(user)).toHaveLength(3);
  });

  it('costs one request per exported event, and a run with nothing changed writes nothing and reads one page', async () => {
    const { alice } = await setUp();
    await addAdmin(alice, 'UTC');
    const n = 30;
    for (let i = 0; i < n; i++) await put(`sysaid:sr:${i}:due`, srDue(alice, i));
    await enable(alice);
    await lastRun(alice);
    const api = () => emu.requests.filter((r) => r.path.startsWith('/calendar/'));
    expect(api().filter((r) => r.method !== 'GET').map((r) => `${r.method} ${r.status}`)).toEqual(Array(n).fill('POST 200'));
    expect(api().filter((r) => r.method === 'GET')).toHaveLength(1);
    expect(emu.requests.filter((r) => r.path.startsWith('/token')).length).toBe(1);
    const before = api().length;
    const steady = await t.call('POST', `/api/admins/${alice}/sync/run`);
    expect(steady.json.counts).toMatchObject({ created: 0, updated: 0, deleted: 0, unchanged: n });
    expect(api().slice(before).map((r) => r.method)).toEqual(['GET']);
  });
});
