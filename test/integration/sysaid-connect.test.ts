// The SysAid reader through the newer API (apiVersion connect): an application key's access token, kept sealed
// until it expires; the account header; ISO 8601 dates; pages of at most 500; the account's X-RateLimit-* count in
// the shared budget; the same change-driven read, ties, deleted SRs and connection test as the classic API. On
// PGlite and PostgreSQL, against the emulator's /connect/v1 mode.
import { randomInt } from 'node:crypto';
import { rootCertificates } from 'node:tls';
import { Agent, fetch } from 'undici';
import { and, eq, isNull } from 'drizzle-orm';
import { afterEach, describe, expect, it } from 'vitest';
import { adminIdForUser } from '../../activities/sources/sysaid/mapping';
import { readSysaid } from '../../activities/sources/sysaid/read';
import { getSourceConfig } from '../../db/repositories';
import { calendarItems, sourceConfig } from '../../db/schema';
import { startSysaidEmulator, type SysaidEmulator, type SysaidEmulatorOptions, type SysaidSr, type SysaidUser } from '../fakes/sysaid';
import { createTestApp, type TestApp } from '../helpers/app';
import { dbKinds } from '../helpers/db';

const DAY = 86_400_000;
const ACCOUNT = 'contoso';
const KEY = { clientId: 'calendar-sync-key', clientSecret: 'key-secret-4711' };
const TOKEN_LIFETIME_S = 8;

describe.each(dbKinds)('SysAid newer API (connect) on %s', (dbKind) => {
  let t: TestApp;
  let emu: SysaidEmulator;
  let other: Agent | undefined;
  afterEach(async () => {
    await other?.close();
    await t?.close();
    await emu?.close();
    t = emu = undefined as never;
    other = undefined;
  });

  const base = randomInt(100_000, 900_000) * 100;
  const admin = (n: number, userName: string, extra: Partial<SysaidUser> = {}): SysaidUser => ({ id: String(base + n), userName, firstName: userName, lastName: 'Admin', email: `${userName}@helpdesk.test`, type: 'admin', ...extra });
  const sr = (id: number, extra: Partial<SysaidSr>): SysaidSr => ({ id: String(id), title: `Laptop ${id}`, status: 2, priority: 2, dueDate: null, responsibility: null, updateTime: Date.now() - DAY, ...extra });
  const settings = (extra: Record<string, unknown> = {}) => ({ apiVersion: 'connect', baseUrl: emu.baseUrl, accountId: ACCOUNT, clientId: KEY.clientId, caCertificate: emu.ca, pollIntervalSeconds: 86_400, ...extra });
  async function setUp(users: SysaidUser[], srs: SysaidSr[], opts: Partial<SysaidEmulatorOptions> = {}, extra: Record<string, unknown> = {}) {
    t = await createTestApp({ dbKind });
    emu = await startSysaidEmulator({ credentials: { userName: 'owner', password: 'x' }, users, srs, connect: { accountId: ACCOUNT, applicationKeys: [{ ...KEY, tokenLifetimeSeconds: TOKEN_LIFETIME_S }], accountTimeZone: 'America/Chicago' }, ...opts });
    const saved = await t.call('PUT', '/api/source', { mode: 'sysaid', settings: settings(extra), secrets: { clientSecret: KEY.clientSecret } });
    expect(saved.status, JSON.stringify(saved.json)).toBe(200);
  }
  const deps = () => ({ db: t.db, sealer: t.sealer, fleet: t.fleet });
  const live = async () => (await t.db.select().from(calendarItems).where(and(eq(calendarItems.source, 'sysaid'), isNull(calendarItems.deletedAt)))).map((r) => r.key).sort();
  const connectRequests = () => emu.requests.filter((r) => r.path.startsWith('/connect/v1/') && !r.login);

  it('reads admins and service records with one access token until it expires, the account header, ISO dates and pages of at most 500', async () => {
    const now = Date.now();
    const due = Date.UTC(2030, 0, 5, 13, 15);
    // A bulk edit: 150 SRs on one update time, under a server page cap of 100.
    const bulk = Array.from({ length: 150 }, (_, i) => sr(70_000 + i, { dueDate: now + DAY, responsibility: String(base + 1), updateTime: now - DAY }));
    await setUp(
      [admin(1, 'ann', { timeZone: 'Asia/Tokyo' }), admin(2, 'ben'), admin(3, 'gone', { disabled: true })],
      [...bulk, sr(70_500, { dueDate: due, responsibility: String(base + 2), followupUser: String(base + 1), followupPlannedDate: due - DAY, updateTime: now - 2 * DAY })],
      { pageLimit: 100 },
      { maxLoginsPerWindow: 4, windowSeconds: 5 },
    );
    const first = await readSysaid(deps());
    expect(first).toMatchObject({ status: 'read', changeDetection: 'update_time', srs: 151, itemsWritten: 152, logins: 1, admins: { added: 2, skipped: 1 } });
    // Zones from the users' `timezone` (the account zone where they set none).
    const mine = [1, 2, 3].map((n) => adminIdForUser(String(base + n)));
    const listed = (await t.call('GET', '/api/admins')).json.admins.filter((a: { id: string }) => mine.includes(a.id));
    expect(Object.fromEntries(listed.map((a: { id: string; timeZone: string }) => [a.id, a.timeZone]))).toEqual({ [adminIdForUser(String(base + 1))]: 'Asia/Tokyo', [adminIdForUser(String(base + 2))]: 'America/Chicago' });
    const ben = await t.db.select().from(calendarItems).where(eq(calendarItems.key, 'sysaid:sr:70500:due'));
    expect(ben[0]!.timing).toEqual({ kind: 'deadline', atUtc: new Date(due).toISOString() });
    expect(await live()).toContain('sysaid:sr:70500:followup');
    // Every call asked for at most 500 and sent ISO dates; the emulator refuses anything else.
    expect(connectRequests().every((r) => Number(new URLSearchParams(r.query).get('limit') ?? 0) <= 500)).toBe(true);
    expect(connectRequests().some((r) => /updateTimeFrom=\d{4}-\d\d-\d\dT/.test(decodeURIComponent(r.query)))).toBe(true);

    // The token is kept (sealed) and reused until it expires; then one new token.
    expect(await readSysaid(deps())).toMatchObject({ srs: 0, logins: 0 });
    const cfg = await getSourceConfig(t.db);
    expect(cfg.session).toBeTruthy();
    expect(JSON.stringify(cfg)).not.toContain(KEY.clientSecret);
    const issuedAt = emu.requests.find((r) => r.path === '/connect/v1/access-tokens')!.at;
    await new Promise((r) => setTimeout(r, Math.max(0, issuedAt + TOKEN_LIFETIME_S * 1000 + 100 - Date.now())));
    expect(await readSysaid(deps())).toMatchObject({ logins: 1 });
    expect(JSON.stringify((await t.call('GET', '/api/source')).json)).not.toContain(KEY.clientSecret);

    // A hard-deleted SR goes at the existence check, as with the classic API.
    emu.deleteSr('70000');
    await t.db.update(sourceConfig).set({ existenceCheckedAt: new Date(now - 2 * 3_600_000) });
    expect(await readSysaid(deps())).toMatchObject({ itemsRemoved: 1, existenceCheck: { deleted: 1 } });
  });

  it('keeps the account’s X-RateLimit-* count with the shared budget: nothing is sent while the account is nearly out, until it resets', async () => {
    await setUp([admin(1, 'ann')], [sr(71_000, { dueDate: Date.now() + DAY, responsibility: String(base + 1) })], { maxRequests: 20, windowMs: 10_000 }, { windowSeconds: 10 });
    await readSysaid(deps());
    const view = (await t.call('GET', '/api/source')).json;
    expect(view.status.budget.account).toMatchObject({ limit: 20, remaining: expect.any(Number) });
    expect(view.status.budget.account.remaining).toBeLessThan(20);
    // Another integration on the account spends nearly all the rest of the window.
    const token = ((await (await fetchEmu('/connect/v1/access-tokens', { method: 'POST', body: JSON.stringify(KEY) })).json()) as { token: string }).token;
    for (let left = 20; left > 2; ) left = Number((await fetchEmu('/connect/v1/agents', { token })).headers.get('x-ratelimit-remaining'));
    const error = await readSysaid(deps()).catch((e) => e);
    expect(error).toMatchObject({ kind: 'throttled' });
    expect(error.options.retryAfterMs).toBeLessThanOrEqual(10_000);
    expect(emu.counts().rejected429).toBe(0);
    await new Promise((r) => setTimeout(r, error.options.retryAfterMs + 100));
    expect(await readSysaid(deps())).toMatchObject({ status: 'read' });
  });

  it('tests an application key: one token, one page of agents, one service record; a wrong secret names what to check', async () => {
    await setUp([admin(1, 'ann')], [sr(72_000, { dueDate: Date.now() + DAY, responsibility: String(base + 1) })], {}, { maxLoginsPerWindow: 4 });
    const before = emu.counts();
    const ok = await t.call('POST', '/api/source/test');
    expect(ok.json, JSON.stringify(ok.json)).toMatchObject({ ok: true, checks: [{ name: 'access token', ok: true }, { name: 'admins', ok: true }, { name: 'service records', ok: true, detail: 'Read service record #72000.' }] });
    expect(emu.counts().logins - before.logins).toBe(1);
    expect(emu.counts().other - before.other).toBe(2);
    const wrong = await t.call('POST', '/api/source/test', { settings: settings({ maxLoginsPerWindow: 4 }), secrets: { clientSecret: 'not-it' } });
    expect(wrong.json.checks[0]).toMatchObject({ name: 'access token', ok: false });
    expect(wrong.json.checks[0].detail).toMatch(/clientSecret/);
    expect(wrong.json.checks[0].detail).toMatch(/application-keys/);
    // The form wants what the newer API needs.
    const missing = await t.call('PUT', '/api/source', { mode: 'sysaid', settings: { apiVersion: 'connect', baseUrl: emu.baseUrl }, secrets: { clientSecret: null } });
    expect(missing.status).toBe(422);
    expect(missing.json.errors.map((e: { path: string }) => e.path).sort()).toEqual(['settings.accountId', 'settings.clientId']);
  });

  /** Another integration on the same account. */
  function fetchEmu(path: string, init: { method?: string; body?: string; token?: string } = {}) {
    other ??= new Agent({ connect: { ca: [...rootCertificates, emu.ca] } });
    return fetch(`${emu.baseUrl}${path}`, {
      method: init.method ?? 'GET',
      body: init.body,
      headers: { 'content-type': 'application/json', 'x-sysaid-accountid': ACCOUNT, ...(init.token ? { authorization: `Bearer ${init.token}` } : {}) },
      dispatcher: other,
    });
  }
});
