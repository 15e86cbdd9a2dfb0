// The SysAid reader against an emulator as strict as the real SysAid: server page caps and ties on update_time,
// hard deletes, password encoding, every login cookie, update_time filters that are absent or ignored, status ids,
// follow-up users by name, missing user keys, the cost and the messages of the connection test. On PGlite and
// PostgreSQL.
import { randomInt } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { and, eq, isNull } from 'drizzle-orm';
import { afterEach, describe, expect, it } from 'vitest';
import { adminIdForUser } from '../../activities/sources/sysaid/mapping';
import { readSysaid } from '../../activities/sources/sysaid/read';
import { getSourceConfig } from '../../db/repositories';
import { calendarItems, sourceConfig } from '../../db/schema';
import { startSysaidEmulator, type SysaidEmulator, type SysaidEmulatorOptions, type SysaidSr, type SysaidUser } from '../fakes/sysaid';
import { createTestApp, type TestApp } from '../helpers/app';
import { dbKinds } from '../helpers/db';
import { adminSteps } from '../helpers/providers';

// '%' and '+' make the raw and the URL-encoded password differ for a server that URL-decodes.
const CREDS = { userName: 'api.calendar', password: 'S3cret 50%+pässword!' };
const DAY = 86_400_000;

describe.each(dbKinds)('SysAid reader fidelity on %s', (dbKind) => {
  let t: TestApp;
  let emu: SysaidEmulator;
  afterEach(async () => {
    await t?.close();
    await emu?.close();
    t = emu = undefined as never;
  });

  /** SysAid user ids unique per test: admin workflow ids are global on the shared dev server. */
  function ids() {
    const base = randomInt(100_000, 900_000) * 100;
    return (n: number) => String(base + n);
  }
  const admin = (id: string, userName: string, extra: Partial<SysaidUser> = {}): SysaidUser => ({ id, userName, firstName: userName, lastName: 'Admin', email: `${userName}@helpdesk.test`, type: 'admin', ...extra });
  let seq = 0;
  const sr = (id: string, extra: Partial<SysaidSr>): SysaidSr => ({ id, title: `Printer ${id}`, status: 2, priority: 2, dueDate: null, responsibility: null, updateTime: Date.now() - DAY + seq++, ...extra });

  const baseSettings = () => ({ baseUrl: emu.baseUrl, userName: CREDS.userName, caCertificate: emu.ca, pollIntervalSeconds: 86_400 });
  async function setUp(users: SysaidUser[], srs: SysaidSr[], opts: Partial<SysaidEmulatorOptions> = {}, settings: Record<string, unknown> = {}) {
    t = await createTestApp({ dbKind });
    emu = await startSysaidEmulator({ credentials: CREDS, users, srs, ...opts });
    await save(settings);
  }
  async function save(settings: Record<string, unknown>, secrets: Record<string, string> = { password: CREDS.password }) {
    const saved = await t.call('PUT', '/api/source', { mode: 'sysaid', settings: { ...baseSettings(), ...settings }, secrets });
    expect(saved.status, JSON.stringify(saved.json)).toBe(200);
  }
  const deps = () => ({ db: t.db, sealer: t.sealer, fleet: t.fleet });
  const read = async () => {
    const r = await t.call('POST', '/api/source/read');
    expect(r.status, JSON.stringify(r.json)).toBe(200);
    return r.json;
  };
  const live = async (adminId?: string) =>
    (await t.db.select().from(calendarItems).where(and(eq(calendarItems.source, 'sysaid'), isNull(calendarItems.deletedAt), ...(adminId ? [eq(calendarItems.adminId, adminId)] : [])))).map((r) => r.key).sort();
  const steps = adminSteps(() => t);
  const srRequests = () => emu.requests.filter((r) => r.path === '/api/v1/sr');

  describe('issue 22: ties, the cost of a test, messages', () => {
    it('reads every record exactly once when 150 or 1,500 share one update_time under a server page cap of 100, and later changes still arrive', async () => {
      for (const n of [150, 1500]) {
        const id = ids();
        const ann = id(1);
        const T = Date.now() - DAY;
        const now = Date.now();
        const bulk = Array.from({ length: n }, (_, i) => sr(String(10_000 + i), { dueDate: now + ((i % 50) + 1) * 3_600_000, responsibility: ann, updateTime: T }));
        await setUp([admin(ann, 'ann')], bulk, { pageLimit: 100 });
        const first = await readSysaid(deps());
        expect(first).toMatchObject({ srs: n, itemsWritten: n });
        expect((await live()).length).toBe(n);
        // The next read asks only for what changed after the bulk edit: nothing is read twice.
        const second = await readSysaid(deps());
        expect(second).toMatchObject({ srs: 0, itemsWritten: 0 });
        // A change after the bulk edit arrives (it sorted behind the stuck page before).
        emu.setSr({ ...bulk[n - 1]!, title: 'Changed after the bulk edit' });
        const third = await readSysaid(deps());
        expect(third).toMatchObject({ srs: 1, itemsWritten: 1 });
        const rows = await t.db.select().from(calendarItems).where(eq(calendarItems.key, `sysaid:sr:${10_000 + n - 1}:due`));
        expect(rows[0]!.title).toBe(`SR #${10_000 + n - 1} Changed after the bulk edit`);
        // Every list request asked for one sort field, as SysAid documents.
        expect(srRequests().every((r) => !new URLSearchParams(r.query).get('sort')?.includes(','))).toBe(true);
        await t.close();
        await emu.close();
        t = emu = undefined as never;
      }
    });

    it('a connection test costs one login, one page of admins, one service record and the filter list — not every SR changed in a day', async () => {
      const id = ids();
      const ann = id(1);
      const now = Date.now();
      const srs = Array.from({ length: 519 }, (_, i) => sr(String(20_000 + i), { updateTime: now - 3_600_000 + i, dueDate: now + DAY, responsibility: ann }));
      await setUp([admin(ann, 'ann'), admin(id(2), 'ben')], srs);
      const before = emu.counts();
      const test = await t.call('POST', '/api/source/test');
      expect(test.status, JSON.stringify(test.json)).toBe(200);
      expect(test.json.ok, JSON.stringify(test.json)).toBe(true);
      expect(test.json.checks.map((c: { name: string }) => c.name)).toEqual(['login', 'admins', 'service records', 'filters']);
      const after = emu.counts();
      expect(after.logins - before.logins).toBe(1);
      expect(after.other - before.other).toBe(3);
      const sent = emu.requests.slice(-3).map((r) => `${r.path}?${r.query}`);
      expect(sent[0]).toMatch(/^\/api\/v1\/users\?.*type=admin/);
      expect(new URLSearchParams(sent[1]!.split('?')[1]).get('limit')).toBe('1');
      expect(sent[2]).toMatch(/^\/api\/v1\/filters/);
    });

    it('explains a 404 at login (check baseUrl) and an untrusted certificate (the source’s caCertificate)', async () => {
      const id = ids();
      // Every login attempt counts, the refused ones too: this SysAid allows 4, calendar-sync uses 2.
      await setUp([admin(id(1), 'ann')], [], { maxLogins: 4 }, { maxLoginsPerWindow: 4 });
      const wrongPath = await t.call('POST', '/api/source/test', { settings: { ...baseSettings(), maxLoginsPerWindow: 4, baseUrl: `${emu.baseUrl}/helpdesk` } });
      expect(wrongPath.json.checks[0]).toMatchObject({ name: 'login', ok: false });
      expect(wrongPath.json.checks[0].detail).toMatch(/HTTP 404/);
      expect(wrongPath.json.checks[0].detail).toMatch(/check baseUrl/);
      const { caCertificate: _ca, ...untrusted } = { ...baseSettings(), maxLoginsPerWindow: 4 };
      const noCa = await t.call('POST', '/api/source/test', { settings: untrusted });
      expect(noCa.json.checks[0]).toMatchObject({ name: 'login', ok: false });
      expect(noCa.json.checks[0].detail).toMatch(/caCertificate/);
      expect(noCa.json.checks[0].detail).toMatch(/source/);
      expect(noCa.json.checks[0].detail).not.toMatch(/integration settings/);
    });

    it('a Test click with the login budget spent says when it may log in; a refused password is not tried again, a corrected one as soon as the budget allows', async () => {
      const id = ids();
      // SysAid allows 2 logins per 3 s here; calendar-sync uses 1 of them.
      await setUp([admin(id(1), 'ann')], [], { maxLogins: 2, windowMs: 3_000 }, { maxLoginsPerWindow: 2, windowSeconds: 3 });
      await save({ maxLoginsPerWindow: 2, windowSeconds: 3 }, { password: 'typo' });
      await expect(readSysaid(deps())).rejects.toMatchObject({ kind: 'credentials' });
      expect(emu.counts().logins).toBe(1);
      // The refused password is not tried again by later reads: it would spend the one login the fix needs.
      await expect(readSysaid(deps())).rejects.toMatchObject({ kind: 'credentials', message: expect.stringMatching(/refused/) });
      expect(emu.counts().logins).toBe(1);

      const retest = await t.call('POST', '/api/source/test', { settings: { ...baseSettings(), maxLoginsPerWindow: 2, windowSeconds: 3 }, secrets: { password: CREDS.password } });
      expect(retest.status, JSON.stringify(retest.json)).toBe(200);
      const login = retest.json.checks[0];
      expect(login).toMatchObject({ name: 'login', ok: false });
      expect(login.detail).toMatch(/next login .*\d\d:\d\d:\d\d UTC \(in \d+ s\)/);
      expect(emu.counts().logins).toBe(1);

      // Saving the corrected password reads at once, and the read logs in as soon as the window allows.
      const refusedAt = emu.requests.find((r) => r.login)!.at;
      await save({ maxLoginsPerWindow: 2, windowSeconds: 3 });
      const done = await t.eventually(async () => {
        const cfg = await getSourceConfig(t.db);
        return cfg.lastReadError === null && cfg.lastReadAt && emu.counts().logins === 2 ? cfg : null;
      }, 30_000, 'a read with the corrected password');
      expect(done.lastReadStats).toMatchObject({ status: 'read', logins: 1 });
      const logins = emu.requests.filter((r) => r.login);
      expect(logins.map((r) => r.status)).toEqual([401, 200]);
      expect(logins[1]!.at - refusedAt).toBeGreaterThanOrEqual(2_500);
      // Long before the next scheduled read (a day away here), whatever the machine’s load.
      expect(logins[1]!.at - refusedAt).toBeLessThan(60_000);
    });
  });

  describe('issue 18: faithful to the real API', () => {
    it('§1 removes the items of a deleted SR through the periodic existence check, and a mass deletion waits for approval', async () => {
      const id = ids();
      const ann = id(1);
      const now = Date.now();
      const srs = Array.from({ length: 30 }, (_, i) => sr(String(30_000 + i), { dueDate: now + (i + 1) * 3_600_000, responsibility: ann }));
      await setUp([admin(ann, 'ann')], srs);
      await readSysaid(deps());
      const A = adminIdForUser(ann);
      await steps.enable(A);
      await t.eventually(async () => (await t.feed(A)).length === 30, 60_000, '30 events');

      emu.deleteSr('30000');
      // Not before the check is due; then the SR is in neither the open nor the archived list: its items go.
      expect(await readSysaid(deps())).toMatchObject({ itemsRemoved: 0, existenceCheck: null });
      await t.db.update(sourceConfig).set({ existenceCheckedAt: new Date(now - 2 * 3_600_000) });
      const checked = await readSysaid(deps());
      expect(checked).toMatchObject({ itemsRemoved: 1, existenceCheck: { checked: 30, deleted: 1 } });
      expect(checked.existenceCheck!.requests).toBeLessThanOrEqual(4);
      await t.eventually(async () => (await t.feed(A)).length === 29, 60_000, 'the deleted SR’s event removed');

      // 28 of 29 deleted at once: the plan holds the deletes for approval (the mass-deletion guard).
      for (let i = 1; i < 29; i++) emu.deleteSr(String(30_000 + i));
      await t.db.update(sourceConfig).set({ existenceCheckedAt: new Date(now - 2 * 3_600_000) });
      expect(await readSysaid(deps())).toMatchObject({ itemsRemoved: 28 });
      const held = await t.eventually(async () => {
        const s = (await t.call('GET', `/api/admins/${A}/sync`)).json;
        return s.state === 'needs-approval' ? s : null;
      }, 60_000, 'held deletes');
      expect(held.lastRun.heldDeletes).toBe(28);
      expect((await t.feed(A)).length).toBe(29);
    });

    it('§2 a short page is not the last page: with a server cap of 100 the pages are read until SysAid’s count agrees', async () => {
      const id = ids();
      const ann = id(1);
      const now = Date.now();
      await setUp([admin(ann, 'ann')], Array.from({ length: 250 }, (_, i) => sr(String(40_000 + i), { dueDate: now + DAY, responsibility: ann })), { pageLimit: 100 });
      expect(await readSysaid(deps())).toMatchObject({ srs: 250, itemsWritten: 250 });
      // 500 asked, 100 given: the count says there is more; pages of 100 are then full; the short last one is confirmed.
      const reads = emu.requests.filter((r) => r.path.startsWith('/api/v1/sr')).map((r) => (r.path === '/api/v1/sr' ? `page@${new URLSearchParams(r.query).get('offset')}` : 'count'));
      expect(reads).toEqual(['page@0', 'count', 'page@100', 'page@200', 'count']);
    });

    it('§3 sends the password raw by default or URL-encoded when asked, never both; a refused login names passwordEncoding', async () => {
      const id = ids();
      await setUp([admin(id(1), 'ann')], [], { passwordEncoding: 'url', maxLogins: 4 }, { maxLoginsPerWindow: 4 });
      const error = await readSysaid(deps()).catch((e) => e);
      expect(error).toMatchObject({ kind: 'credentials' });
      expect(error.message).toMatch(/passwordEncoding: raw/);
      expect(error.message).toMatch(/try passwordEncoding: url/);
      expect(emu.counts().logins).toBe(1);
      // The corrected setting after a refused login: a read starts at once and logs in with the URL-encoded password.
      await save({ passwordEncoding: 'url', maxLoginsPerWindow: 4 });
      const done = await t.eventually(async () => {
        const cfg = await getSourceConfig(t.db);
        return cfg.lastReadError === null && cfg.lastReadStats ? cfg : null;
      }, 30_000, 'a read with passwordEncoding url');
      expect(done.lastReadStats).toMatchObject({ status: 'read', logins: 1 });
      expect(emu.requests.filter((r) => r.login).map((r) => r.status)).toEqual([401, 200]);
    });

    it('§4 keeps and replays every cookie the login sets, sealed in the database and shared by the next read', async () => {
      const id = ids();
      await setUp([admin(id(1), 'ann')], [sr('50000', { dueDate: Date.now() + DAY, responsibility: id(1) })], { extraCookies: { SERVERID: 'app2', AWSALB: 'sticky-9' } });
      expect(await readSysaid(deps())).toMatchObject({ srs: 1, logins: 1 });
      expect(await readSysaid(deps())).toMatchObject({ logins: 0 });
      const last = emu.requests.at(-1)!;
      expect(last.cookie).toMatch(/JSESSIONID=/);
      expect(last.cookie).toMatch(/SERVERID=app2/);
      expect(last.cookie).toMatch(/AWSALB=sticky-9/);
      const cfg = await getSourceConfig(t.db);
      expect(cfg.session).toBeTruthy();
      expect(cfg.session).not.toMatch(/app2|sticky-9|JSESSIONID/);
    });

    it('§5 where update_time is no filter, the test says so and the reader falls back to due-date window and insert_time reads', async () => {
      const id = ids();
      const ann = id(1);
      const now = Date.now();
      await setUp([admin(ann, 'ann')], [sr('60001', { dueDate: now + DAY, responsibility: ann }), sr('60002', { dueDate: now + 2 * DAY, responsibility: ann }), sr('60003', { dueDate: null, responsibility: ann, followupUser: ann, followupPlannedDate: now + DAY })], { updateTimeFilter: 'absent' });
      const test = await t.call('POST', '/api/source/test');
      const filters = test.json.checks.find((c: { name: string }) => c.name === 'filters');
      expect(filters.detail).toMatch(/update_time is not a list filter/);
      const first = await readSysaid(deps());
      expect(first).toMatchObject({ status: 'read', changeDetection: 'due-date-window' });
      expect(await live()).toEqual(['sysaid:sr:60001:due', 'sysaid:sr:60002:due', 'sysaid:sr:60003:followup']);
      expect(srRequests().some((r) => new URLSearchParams(r.query).has('update_time'))).toBe(false);
      // A moved due date, a cleared one and a new SR are all seen without update_time.
      emu.setSr(sr('60001', { dueDate: now + 3 * DAY, responsibility: ann }));
      emu.setSr(sr('60002', { dueDate: null, responsibility: ann }));
      emu.setSr(sr('60004', { dueDate: null, responsibility: ann, followupUser: ann, followupPlannedDate: now + DAY }));
      const second = await readSysaid(deps());
      expect(second).toMatchObject({ itemsWritten: 2, itemsRemoved: 1 });
      expect(await live()).toEqual(['sysaid:sr:60001:due', 'sysaid:sr:60003:followup', 'sysaid:sr:60004:followup']);
      const view = (await t.call('GET', '/api/source')).json;
      expect(view.status.changeDetection).toBe('due-date-window');
      expect(view.status.warnings.join(' ')).toMatch(/update_time is not a list filter/);
    });

    it('§5 a SysAid that ignores the update_time filter is detected and warned about, and the reader stops relying on it', async () => {
      const id = ids();
      const ann = id(1);
      const now = Date.now();
      await setUp([admin(ann, 'ann')], [sr('61001', { dueDate: now + DAY, responsibility: ann, updateTime: now - 10 * DAY }), sr('61002', { dueDate: now + DAY, responsibility: ann, updateTime: now - 9 * DAY })], { updateTimeFilter: 'ignored' });
      expect(await readSysaid(deps())).toMatchObject({ srs: 2, changeDetection: 'update_time' });
      const second = await readSysaid(deps());
      expect(second.warnings.join(' ')).toMatch(/ignored the update_time filter/);
      expect(second.changeDetection).toBe('due-date-window');
      const view = (await t.call('GET', '/api/source')).json;
      expect(view.status.warnings.join(' ')).toMatch(/ignored the update_time filter/);
      const before = srRequests().length;
      await readSysaid(deps());
      expect(srRequests().slice(before).some((r) => new URLSearchParams(r.query).has('update_time'))).toBe(false);
    });

    it('§6 closedStatusIds decides which statuses are closed when SysAid does not say it; the test lists the statuses', async () => {
      const id = ids();
      const ann = id(1);
      const now = Date.now();
      await setUp([admin(ann, 'ann')], [sr('62001', { dueDate: now + DAY, responsibility: ann, status: 3 }), sr('62002', { dueDate: now + DAY, responsibility: ann, status: 2 })], { statusClassInValue: false }, { closedStatusIds: [3, 5, 6] });
      const test = await t.call('POST', '/api/source/test');
      expect(test.json.checks.find((c: { name: string }) => c.name === 'filters').detail).toMatch(/1 New, 2 Open, 3 Closed/);
      await readSysaid(deps());
      const rows = await t.db.select().from(calendarItems).where(eq(calendarItems.source, 'sysaid'));
      expect(Object.fromEntries(rows.map((r) => [r.key, r.statusClass]))).toEqual({ 'sysaid:sr:62001:due': 'closed', 'sysaid:sr:62002:due': 'open' });
      const A = adminIdForUser(ann);
      await steps.enable(A);
      await steps.lastRun(A);
      expect((await t.feed(A)).map((e) => e.event.title)).toEqual(['Due: SR #62002 Printer 62002']);
    });

    it('§7 matches the follow-up user by id, and by user name where SysAid stores the name', async () => {
      for (const followupUserAs of ['id', 'name'] as const) {
        const id = ids();
        const [ann, ben] = [id(1), id(2)];
        await setUp([admin(ann, 'ann'), admin(ben, 'Ben.Ode')], [sr('63001', { dueDate: Date.now() + DAY, responsibility: ann, followupUser: ben, followupPlannedDate: Date.now() + 2 * DAY, followupText: 'call back' })], { followupUserAs });
        await readSysaid(deps());
        expect(await live(adminIdForUser(ben)), followupUserAs).toEqual(['sysaid:sr:63001:followup']);
        await t.close();
        await emu.close();
        t = emu = undefined as never;
      }
    });

    it('§8 reads time_zone and disable defensively: absent zone → defaultTimeZone, unknown disable → listed, Y or 1 → not listed', async () => {
      for (const disable of ['absent', 'yn', 'number'] as const) {
        const id = ids();
        const [ann, gone] = [id(1), id(2)];
        await setUp([admin(ann, 'ann', { timeZone: 'Asia/Tokyo' }), admin(gone, 'gone', { disabled: true })], [], { userKeys: { timeZone: false, disable } }, { defaultTimeZone: 'Europe/Vienna' });
        await readSysaid(deps());
        const listed = (await t.call('GET', '/api/admins')).json.admins.filter((a: { id: string }) => [adminIdForUser(ann), adminIdForUser(gone)].includes(a.id));
        const expected = disable === 'absent' ? [adminIdForUser(ann), adminIdForUser(gone)] : [adminIdForUser(ann)];
        expect(listed.map((a: { id: string }) => a.id), disable).toEqual(expected);
        expect(listed.every((a: { timeZone: string }) => a.timeZone === 'Europe/Vienna')).toBe(true);
        await t.close();
        await emu.close();
        t = emu = undefined as never;
      }
    });

    it('§9 the README says which item types come from SysAid, and its push example for an activity works', async () => {
      const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
      const section = readme.slice(readme.indexOf('## Connect SysAid'), readme.indexOf('\n## ', readme.indexOf('## Connect SysAid') + 5));
      expect(section).toMatch(/\| `sr_due` .*\| SysAid/);
      expect(section).toMatch(/\| `sr_followup` .*\| SysAid/);
      for (const type of ['sr_activity', 'software_expiry', 'event', 'task', 'project']) expect(section).toMatch(new RegExp(`\\| \`${type}\` .*\\| push API`));
      const example = /PUT localhost:3000(\/api\/calendar-items\/sysaid:sr:[^ ]+:activity:[^ ]+) -d '(\{[\s\S]*?\})'/.exec(section);
      expect(example, 'a push example for an activity').not.toBeNull();
      const id = ids();
      await setUp([admin(id(1), 'ann')], []);
      await readSysaid(deps());
      await t.call('PUT', '/api/source', { mode: 'both', settings: (await getSourceConfig(t.db)).settings, secrets: {} });
      const body = JSON.parse(example![2]!.replace('"alice"', `"${adminIdForUser(id(1))}"`));
      const pushed = await t.call('PUT', example![1]!, body);
      expect(pushed.status, JSON.stringify(pushed.json)).toBe(200);
    });
  });
});
