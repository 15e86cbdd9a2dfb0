// The HTTP API over a real stack: auth and scoping, validation everywhere, toggles reaching Temporal,
// feeds, tokens, and no secret in any response, log line or workflow history.
import { historyToJSON } from '@temporalio/common/lib/proto-utils';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sha256 } from '../../db/seal';
import { adminWorkflowId } from '../../workflows/ids';
import { createTestApp, type TestApp } from '../helpers/app';

const inDays = (days: number) => new Date(Date.now() + days * 86_400_000).toISOString();
const feedPath = (url: string) => new URL(url).pathname;

let t: TestApp;
let alice: string;
let bob: string;
let aliceToken: string;
const responses: string[] = [];

beforeAll(async () => {
  t = await createTestApp();
  alice = t.adminId('alice');
  bob = t.adminId('bob');
  const record = t.call;
  t.call = async (...args: Parameters<typeof record>) => {
    const r = await record(...args);
    responses.push(r.text);
    return r;
  };
  for (const [id, name, tz] of [
    [alice, 'Alice', 'Europe/Berlin'],
    [bob, 'Bob', 'America/New_York'],
  ]) {
    const r = await t.call('PUT', `/api/admins/${id}`, { displayName: name, email: `${name.toLowerCase()}@example.test`, timeZone: tz });
    expect(r.status).toBe(200);
  }
  const created = await t.call('POST', '/api/tokens', { name: 'alice', role: 'admin', adminId: alice });
  expect(created.status).toBe(201);
  aliceToken = created.json.token;
});

afterAll(async () => {
  await t?.close();
});

describe('auth', () => {
  it('answers 401 problem+json with a Bearer challenge without a valid token', async () => {
    for (const token of [null, 'cs_not-a-real-token']) {
      const r = await t.call('GET', '/api/admins', undefined, token);
      expect(r.status).toBe(401);
      expect(r.headers.get('content-type')).toBe('application/problem+json');
      expect(r.headers.get('www-authenticate')).toMatch(/^Bearer/);
      expect(r.json).toMatchObject({ status: 401, title: 'Unauthorized' });
    }
  });

  it('lets an admin token reach only its own admin', async () => {
    const own = await t.call('GET', `/api/admins/${alice}`, undefined, aliceToken);
    expect(own.status).toBe(200);
    const list = await t.call('GET', '/api/admins', undefined, aliceToken);
    expect(list.json.admins.map((a: { id: string }) => a.id)).toEqual([alice]);
    const scoped = [
      ['GET', `/api/admins/${bob}`],
      ['GET', `/api/admins/${bob}/calendar-settings`],
      ['PUT', `/api/admins/${bob}/calendar-settings`, { syncEnabled: true }],
      ['POST', `/api/admins/${bob}/feed/rotate`],
      ['GET', `/api/admins/${bob}/sync`],
      ['POST', `/api/admins/${bob}/sync/run`],
      ['POST', `/api/admins/${bob}/sync/pause`],
      ['POST', `/api/admins/${bob}/sync/resume`],
      ['POST', `/api/admins/${bob}/sync/retry-failed`],
      ['POST', `/api/admins/${bob}/sync/approve-deletes`, { runId: '00000000-0000-4000-8000-000000000000' }],
      ['GET', `/api/admins/${bob}/runs`],
      ['GET', `/api/admins/${bob}/preview`],
      ['GET', `/api/calendar-items?adminId=${bob}`],
    ] as const;
    for (const [method, path, body] of scoped) {
      const r = await t.call(method, path, body, aliceToken);
      expect([method, path, r.status]).toEqual([method, path, 403]);
      expect(r.json.detail).toBe('This token may only access its own admin.');
    }
    const sysadminOnly = [
      ['GET', '/api/integration'],
      ['PUT', '/api/integration', { protocol: 'ics' }],
      ['POST', '/api/integration/test'],
      ['POST', '/api/integration/enable'],
      ['POST', '/api/integration/disable'],
      ['PUT', `/api/admins/${alice}`, { displayName: 'A', email: 'a@example.test', timeZone: 'UTC' }],
      ['PUT', '/api/calendar-items/sysaid:sr:1:due', { adminId: alice, type: 'sr_due', title: 'x', timing: { kind: 'deadline', atUtc: inDays(1) } }],
      ['DELETE', `/api/calendar-items/sysaid:sr:1:due?adminId=${alice}`],
      ['POST', '/api/tokens', { name: 'x', role: 'sysadmin' }],
      ['GET', '/api/tokens'],
    ] as const;
    for (const [method, path, body] of sysadminOnly) {
      const r = await t.call(method, path, body, aliceToken);
      expect([method, path, r.status]).toEqual([method, path, 403]);
    }
  });
});

describe('validation', () => {
  it('answers every bad input with a 4xx problem that names the field', async () => {
    const cases: Array<[string, string, unknown, number, string | null]> = [
      ['PUT', '/api/integration', '{"protocol": ', 400, null],
      ['PUT', '/api/integration', {}, 400, 'protocol'],
      ['PUT', '/api/integration', { protocol: 'ics', settings: { syncUserEmail: 'nope' } }, 422, 'settings.syncUserEmail'],
      ['PUT', '/api/integration', { protocol: 'ics', settings: { colour: 'red' } }, 422, 'settings'],
      ['PUT', '/api/integration', { protocol: 'ics', secrets: { password: 'x' } }, 422, 'secrets.password'],
      ['PUT', '/api/integration', { protocol: 'lotus-notes' }, 422, 'protocol'],
      ['PUT', '/api/integration', { protocol: 'caldav' }, 422, 'protocol'],
      ['PUT', '/api/integration', { protocol: 'google', settings: { syncUserEmail: 'it@example.org' } }, 422, 'secrets.serviceAccountKey'],
      ['PUT', `/api/admins/${alice}`, { displayName: '', email: 'a@b.c', timeZone: 'UTC' }, 400, 'displayName'],
      ['PUT', `/api/admins/${alice}`, { displayName: 'A', email: 'not-an-email', timeZone: 'UTC' }, 400, 'email'],
      ['PUT', `/api/admins/${alice}`, { displayName: 'A', email: 'a@b.c', timeZone: 'Europe/Atlantis' }, 400, 'timeZone'],
      ['PUT', '/api/admins/bad%20id', { displayName: 'A', email: 'a@b.c', timeZone: 'UTC' }, 400, 'adminId'],
      ['GET', '/api/admins/nobody', undefined, 404, null],
      ['PUT', `/api/admins/${alice}/calendar-settings`, { itemTypes: ['sr_due', 'birthday'] }, 400, 'itemTypes.1'],
      ['PUT', `/api/admins/${alice}/calendar-settings`, { itemTypes: ['sr_due', 'sr_due'] }, 400, 'itemTypes'],
      ['PUT', `/api/admins/${alice}/calendar-settings`, { daysBack: -1 }, 400, 'daysBack'],
      ['PUT', `/api/admins/${alice}/calendar-settings`, { daysForward: 1.5 }, 400, 'daysForward'],
      ['PUT', `/api/admins/${alice}/calendar-settings`, { syncEnabled: 'yes' }, 400, 'syncEnabled'],
      ['PUT', `/api/admins/${alice}/calendar-settings`, { lookBack: 3 }, 400, null],
      ['PUT', '/api/admins/nobody/calendar-settings', { syncEnabled: true }, 404, null],
      ['POST', `/api/admins/${alice}/sync/approve-deletes`, { runId: 'yesterday' }, 400, 'runId'],
      ['POST', `/api/admins/${alice}/sync/approve-deletes`, { runId: '00000000-0000-4000-8000-000000000000' }, 404, null],
      ['GET', `/api/admins/${alice}/runs?limit=0`, undefined, 400, 'query.limit'],
      ['GET', `/api/admins/${alice}/runs?before=tuesday`, undefined, 400, 'query.before'],
      ['PUT', '/api/calendar-items/has space', { adminId: alice, type: 'sr_due', title: 'x', timing: { kind: 'deadline', atUtc: inDays(1) } }, 400, 'itemKey'],
      ['PUT', '/api/calendar-items/k1', { adminId: alice, type: 'meeting', title: 'x', timing: { kind: 'deadline', atUtc: inDays(1) } }, 400, 'type'],
      ['PUT', '/api/calendar-items/k1', { adminId: alice, type: 'sr_due', title: 'x', timing: { kind: 'deadline', atUtc: '2026-05-01 10:00' } }, 400, 'timing.atUtc'],
      ['PUT', '/api/calendar-items/k1', { adminId: alice, type: 'software_expiry', title: 'x', timing: { kind: 'all_day', startDate: '2026-02-30' } }, 400, 'timing.startDate'],
      ['PUT', '/api/calendar-items/k1', { adminId: 'nobody', type: 'sr_due', title: 'x', timing: { kind: 'deadline', atUtc: inDays(1) } }, 404, null],
      ['PUT', '/api/calendar-items/k1?sync=whenever', { adminId: alice, type: 'sr_due', title: 'x', timing: { kind: 'deadline', atUtc: inDays(1) } }, 400, 'query.sync'],
      ['DELETE', '/api/calendar-items/k1', undefined, 400, 'query.adminId'],
      ['DELETE', `/api/calendar-items/never-pushed?adminId=${alice}`, undefined, 404, null],
      ['GET', '/api/calendar-items', undefined, 400, 'query.adminId'],
      ['POST', '/api/tokens', { name: 'x', role: 'admin' }, 400, 'adminId'],
      ['POST', '/api/tokens', { name: 'x', role: 'root' }, 400, 'role'],
      ['POST', '/api/tokens', { name: 'x', role: 'admin', adminId: 'nobody' }, 422, 'adminId'],
      ['DELETE', '/api/tokens/not-a-uuid', undefined, 400, 'id'],
      ['DELETE', '/api/tokens/00000000-0000-4000-8000-000000000000', undefined, 404, null],
      ['GET', '/api/nothing-here', undefined, 404, null],
    ];
    for (const [method, path, body, status, field] of cases) {
      const r = await t.call(method, path, body);
      expect([method, path, r.status]).toEqual([method, path, status]);
      expect(r.headers.get('content-type')).toBe('application/problem+json');
      expect(r.json.detail.length).toBeGreaterThan(10);
      expect(r.text).not.toMatch(/at .*\.ts:\d+/);
      if (field) expect(r.json.errors.map((e: { path: string }) => e.path)).toContain(field);
    }
  });

  it('rejects MAPI and Exchange 2003 naming the supported way forward', async () => {
    for (const protocol of ['mapi', 'webdav', 'exchange2003']) {
      const r = await t.call('PUT', '/api/integration', { protocol });
      expect(r.status).toBe(422);
      expect(r.json.detail).toMatch(/"ews"/);
      expect(r.json.detail).toMatch(/"microsoft365"/);
    }
  });
});

describe('sync through the API', () => {
  it('opt-in starts the workflow, pushed items reach the feed, pause/run/resume, opt-out removes events', async () => {
    expect((await t.call('POST', '/api/integration/enable')).status).toBe(200);
    const settings = await t.call('PUT', `/api/admins/${alice}/calendar-settings`, { syncEnabled: true, itemTypes: ['sr_due', 'software_expiry'], daysBack: 10 }, aliceToken);
    expect(settings.status).toBe(200);
    expect(settings.json).toMatchObject({ syncEnabled: true, itemTypes: ['sr_due', 'software_expiry'], daysBack: 10, daysForward: 365 });

    const due = inDays(2);
    const put = await t.call('PUT', '/api/calendar-items/sysaid:sr:7:due', { adminId: alice, type: 'sr_due', title: 'SR #7 Printer', body: 'Paper jam', url: 'https://helpdesk.example/sr/7', timing: { kind: 'deadline', atUtc: due }, statusClass: 'open' });
    expect(put.status).toBe(200);
    expect(put.json.timing).toEqual({ kind: 'deadline', atUtc: due });

    const admin = await t.call('GET', `/api/admins/${alice}`, undefined, aliceToken);
    expect(admin.json.feedUrl).toMatch(new RegExp(`^https://calendar\\.example\\.test/feeds/${alice}\\.[A-Za-z0-9_-]{32}\\.ics$`));
    const feed = await t.eventually(async () => {
      const r = await t.app.request(feedPath(admin.json.feedUrl));
      const text = await r.text();
      return text.includes('SUMMARY:Due: SR #7 Printer') ? { r, text } : null;
    }, 30_000, 'event in feed');
    expect(feed.r.headers.get('content-type')).toBe('text/calendar; charset=utf-8');
    expect(feed.text).toContain('URL;VALUE=URI:https://helpdesk.example/sr/7');

    const status = await t.call('GET', `/api/admins/${alice}/sync`, undefined, aliceToken);
    expect(status.json).toMatchObject({ workflowId: adminWorkflowId(alice), running: true, failedItems: [], heldDeletes: null });
    expect(status.json.lastRun).toMatchObject({ error: null, failed: 0 });

    const run = await t.call('POST', `/api/admins/${alice}/sync/run`, undefined, aliceToken);
    expect(run.status).toBe(200);
    expect(run.json.counts).toMatchObject({ created: 0, updated: 0, deleted: 0, unchanged: 1 });

    const preview = await t.call('GET', `/api/admins/${alice}/preview`, undefined, aliceToken);
    expect(preview.json.counts).toEqual({ create: 0, update: 0, delete: 0, unchanged: 1, held: 0 });
    await t.call('PUT', '/api/calendar-items/sysaid:sr:8:due?sync=later', { adminId: alice, type: 'sr_due', title: 'SR #8', timing: { kind: 'deadline', atUtc: inDays(3) }, statusClass: 'open' });
    const preview2 = await t.call('GET', `/api/admins/${alice}/preview`, undefined, aliceToken);
    expect(preview2.json.changes).toEqual([{ itemKey: 'sysaid:sr:8:due', op: 'create', reason: 'new', held: false, title: 'Due: SR #8' }]);

    const paused = await t.call('POST', `/api/admins/${alice}/sync/pause`, { message: 'audit week' }, aliceToken);
    expect(paused.json).toMatchObject({ state: 'paused', pausedReason: 'manual', pausedMessage: 'audit week' });
    const refused = await t.call('POST', `/api/admins/${alice}/sync/run`, undefined, aliceToken);
    expect(refused.status).toBe(409);
    expect(refused.json.detail).toMatch(/paused \(manual: audit week\); resume it first/);
    expect((await t.call('POST', `/api/admins/${alice}/sync/resume`, undefined, aliceToken)).json.state).not.toBe('paused');
    expect((await t.call('POST', `/api/admins/${alice}/sync/retry-failed`, undefined, aliceToken)).status).toBe(202);
    await t.eventually(async () => (await t.feed(alice)).length === 2, 30_000, 'SR #8 synced after resume');

    const runs = await t.call('GET', `/api/admins/${alice}/runs?limit=2`, undefined, aliceToken);
    expect(runs.json.runs).toHaveLength(2);
    expect(Date.parse(runs.json.runs[0].startedAt)).toBeGreaterThanOrEqual(Date.parse(runs.json.runs[1].startedAt));

    // Global disable pauses, enable resumes.
    expect((await t.call('POST', '/api/integration/disable')).json.workflows).toEqual({ paused: 1 });
    expect((await t.call('GET', `/api/admins/${alice}/sync`)).json).toMatchObject({ state: 'paused', pausedReason: 'integration-disabled' });
    expect((await t.call('POST', `/api/admins/${alice}/sync/resume`, undefined, aliceToken)).status).toBe(409);
    expect((await t.call('POST', '/api/integration/enable')).json.workflows).toMatchObject({ resumed: 1, started: 0 });

    // Opt out with removal: this app's events go, the workflow completes.
    const off = await t.call('PUT', `/api/admins/${alice}/calendar-settings`, { syncEnabled: false, removeEvents: true }, aliceToken);
    expect(off.status).toBe(200);
    await t.eventually(async () => (await t.feed(alice)).length === 0 && !(await t.fleet.isRunning(alice)), 30_000, 'events removed and workflow completed');
    const after = await t.call('GET', `/api/admins/${alice}/sync`, undefined, aliceToken);
    expect(after.json).toMatchObject({ running: false, state: null });
    const noRun = await t.call('POST', `/api/admins/${alice}/sync/run`, undefined, aliceToken);
    expect(noRun.status).toBe(409);
    expect(noRun.json.detail).toMatch(/not running/);
  });

  it('approves held deletes only for the latest run that holds them', async () => {
    for (let i = 0; i < 2; i++) {
      await t.call('PUT', `/api/calendar-items/sysaid:sr:${i}:due?sync=later`, { adminId: bob, type: 'sr_due', title: `SR ${i}`, timing: { kind: 'deadline', atUtc: inDays(1) }, statusClass: 'open' });
    }
    const settings = await t.call('PUT', `/api/admins/${bob}/calendar-settings`, { syncEnabled: true });
    expect(settings.status).toBe(200);
    const first = await t.eventually(async () => {
      const run = (await t.call('GET', `/api/admins/${bob}/sync`)).json.lastRun;
      return run?.finishedAt ? run : null;
    }, 30_000, 'first run');
    expect(first.created).toBe(2);
    expect((await t.call('POST', `/api/admins/${bob}/sync/approve-deletes`, { runId: first.id })).status).toBe(409);
    for (let i = 0; i < 2; i++) await t.call('DELETE', `/api/calendar-items/sysaid:sr:${i}:due?adminId=${bob}&sync=later`);
    const held1 = await t.call('POST', `/api/admins/${bob}/sync/run`);
    const held2 = await t.call('POST', `/api/admins/${bob}/sync/run`);
    expect(held2.json.counts.heldDeletes).toBe(2);
    const stale = await t.call('POST', `/api/admins/${bob}/sync/approve-deletes`, { runId: held1.json.runId });
    expect(stale.status).toBe(409);
    expect(stale.json.detail).toContain(held2.json.runId);
    const ok = await t.call('POST', `/api/admins/${bob}/sync/approve-deletes`, { runId: held2.json.runId });
    expect(ok.status).toBe(202);
    await t.eventually(async () => (await t.feed(bob)).length === 0, 30_000, 'held deletes applied');
  });
});

describe('integration, feeds and tokens', () => {
  it('saves ics settings, tests the connection and bumps the version', async () => {
    const before = (await t.call('GET', '/api/integration')).json;
    const saved = await t.call('PUT', '/api/integration', { protocol: 'ics', settings: { syncUserEmail: 'sync@example.test' } });
    expect(saved.status).toBe(200);
    expect(saved.json).toMatchObject({ protocol: 'ics', settings: { syncUserEmail: 'sync@example.test' }, secrets: {}, version: before.version + 1, updatedBy: 'test sysadmin' });
    const test = await t.call('POST', '/api/integration/test');
    expect(test.json).toMatchObject({ ok: true, checks: [{ name: 'feed', ok: true }] });
  });

  it('rotating a feed URL invalidates the old one', async () => {
    const old = (await t.call('GET', `/api/admins/${bob}`)).json.feedUrl;
    expect((await t.app.request(feedPath(old))).status).toBe(200);
    const rotated = await t.call('POST', `/api/admins/${bob}/feed/rotate`);
    expect(rotated.json.feedUrl).not.toBe(old);
    expect((await t.app.request(feedPath(old))).status).toBe(404);
    expect((await t.app.request(feedPath(rotated.json.feedUrl))).status).toBe(200);
    for (const bad of ['/feeds/nothing.ics', `/feeds/${bob}.ics`, `/feeds/${bob}.${'A'.repeat(32)}.ics`, feedPath(rotated.json.feedUrl).replace('.ics', '')]) {
      expect((await t.app.request(bad)).status).toBe(404);
    }
  });

  it('creates tokens shown once, lists them without values, revokes them, keeps the last sysadmin', async () => {
    const created = await t.call('POST', '/api/tokens', { name: 'second sysadmin', role: 'sysadmin' });
    expect(created.json.token).toMatch(/^cs_[A-Za-z0-9_-]{43}$/);
    const list = await t.call('GET', '/api/tokens');
    expect(list.text).not.toContain(created.json.token);
    expect(list.text).not.toContain(sha256(created.json.token));
    expect((await t.call('GET', '/api/admins', undefined, created.json.token)).status).toBe(200);
    expect((await t.call('DELETE', `/api/tokens/${created.json.id}`)).status).toBe(204);
    expect((await t.call('GET', '/api/admins', undefined, created.json.token)).status).toBe(401);
    const mine = list.json.tokens.find((x: { name: string }) => x.name === 'test sysadmin');
    const last = await t.call('DELETE', `/api/tokens/${mine.id}`);
    expect(last.status).toBe(409);
    expect(last.json.detail).toMatch(/last sysadmin token/);
  });

  it('serves health, readiness, the OpenAPI document and the docs page', async () => {
    expect((await t.call('GET', '/healthz', undefined, null)).json).toEqual({ status: 'ok' });
    expect((await t.call('GET', '/readyz', undefined, null)).json).toEqual({ db: 'ok', temporal: 'ok' });
    const doc = (await t.call('GET', '/openapi.json', undefined, null)).json;
    expect(doc.openapi).toBe('3.1.0');
    expect(Object.keys(doc.paths)).toEqual(
      expect.arrayContaining([
        '/api/integration',
        '/api/integration/test',
        '/api/integration/enable',
        '/api/integration/disable',
        '/api/admins',
        '/api/admins/{adminId}',
        '/api/admins/{adminId}/calendar-settings',
        '/api/admins/{adminId}/sync',
        '/api/admins/{adminId}/sync/run',
        '/api/admins/{adminId}/sync/pause',
        '/api/admins/{adminId}/sync/resume',
        '/api/admins/{adminId}/sync/retry-failed',
        '/api/admins/{adminId}/sync/approve-deletes',
        '/api/admins/{adminId}/runs',
        '/api/admins/{adminId}/preview',
        '/api/calendar-items/{itemKey}',
        '/api/calendar-items',
        '/api/tokens',
        '/api/tokens/{id}',
      ]),
    );
    const docs = await t.app.request('/docs');
    expect(docs.headers.get('content-type')).toMatch(/text\/html/);
    expect(await docs.text()).toContain('/openapi.json');
  });
});

describe('secrets', () => {
  it('never appear in API responses, log lines or workflow histories', async () => {
    const feedMac = (url: string) => url.split('/feeds/')[1]!.split('.').slice(-2, -1)[0]!;
    const secrets = [t.sysadmin, aliceToken, sha256(t.sysadmin), sha256(aliceToken)];
    const macs = [feedMac((await t.call('GET', `/api/admins/${bob}`)).json.feedUrl)];
    const histories: string[] = [];
    for (const id of [alice, bob]) histories.push(historyToJSON(await t.client.workflow.getHandle(adminWorkflowId(id)).fetchHistory()));
    expect(histories.join('').length).toBeGreaterThan(1000);
    expect(t.logLines.length + responses.length).toBeGreaterThan(10);
    for (const secret of [...secrets, ...macs]) {
      expect(t.logLines.join('\n')).not.toContain(secret);
      expect(histories.join('\n')).not.toContain(secret);
    }
    // Token values appear in exactly one response each: the one that created them.
    expect(responses.filter((r) => r.includes(aliceToken))).toHaveLength(1);
    for (const hash of [sha256(t.sysadmin), sha256(aliceToken)]) expect(responses.join('\n')).not.toContain(hash);
  });
});
