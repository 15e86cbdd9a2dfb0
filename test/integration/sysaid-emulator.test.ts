// The SysAid classic REST API emulator, exercised over real HTTPS with undici's fetch (verification on, the
// emulator's test CA added to the system roots): login and the JSESSIONID cookie, both rate limits, session
// expiry, users, SR shape and filters, paging, archive, captions in another zone, and faults.
import tls from 'node:tls';
import { Agent, fetch } from 'undici';
import { afterEach, describe, expect, it } from 'vitest';
import { startSysaidEmulator, type SysaidEmulator, type SysaidEmulatorOptions, type SysaidSr, type SysaidUser } from '../fakes/sysaid';

const CREDS = { userName: 'api.sync', password: 'Pä ss%&w0rd' };
const USERS: SysaidUser[] = [
  { id: '12', userName: 'jdoe', firstName: 'Jane', lastName: 'Doe', email: 'jane@contoso.test', type: 'admin', timeZone: 'Europe/Berlin' },
  { id: '13', userName: 'gone', firstName: 'Old', lastName: 'Admin', email: 'old@contoso.test', type: 'admin', disabled: true },
  { id: '14', userName: 'enduser', firstName: 'End', lastName: 'User', email: 'end@contoso.test', type: 'user' },
  { id: '15', userName: 'boss', firstName: 'Big', lastName: 'Boss', email: 'boss@contoso.test', type: 'manager' },
];
const T0 = Date.UTC(2024, 6, 1, 15, 30); // 2024-07-01T15:30:00Z = 10:30 AM in Chicago (CDT)
const HOUR = 3_600_000;
const sr = (id: string, extra: Partial<SysaidSr> = {}): SysaidSr => ({ id, title: `SR ${id}`, status: 1, dueDate: null, responsibility: '12', updateTime: T0, ...extra });

let emu: SysaidEmulator | undefined;
let agent: Agent | undefined;
afterEach(async () => {
  await agent?.close();
  await emu?.close();
  emu = agent = undefined;
});

async function start(o: Partial<SysaidEmulatorOptions> = {}) {
  emu = await startSysaidEmulator({ credentials: CREDS, users: USERS, ...o });
  agent = new Agent({ connect: { ca: [...tls.rootCertificates, emu.ca] } });
  return emu;
}

async function call(path: string, init: { method?: string; body?: unknown; cookie?: string; rawCookie?: string; headers?: Record<string, string>; signal?: AbortSignal } = {}) {
  const cookie = init.rawCookie ?? (init.cookie ? `JSESSIONID=${init.cookie}` : undefined);
  const res = await fetch(`${emu!.baseUrl}${path}`, {
    method: init.method ?? 'GET',
    headers: { ...(init.body === undefined ? {} : { 'content-type': 'application/json' }), ...(cookie ? { cookie } : {}), ...init.headers },
    body: init.body === undefined ? undefined : JSON.stringify(init.body),
    dispatcher: agent,
    signal: init.signal,
  });
  const text = await res.text();
  return {
    status: res.status,
    headers: res.headers,
    text,
    get json(): any {
      return JSON.parse(text);
    },
  };
}

const loginBody = (password = CREDS.password, extra: Record<string, unknown> = {}) => ({ user_name: CREDS.userName, password, ...extra });
async function login(body: unknown = loginBody()) {
  const r = await call('/api/v1/login', { method: 'POST', body });
  expect(r.status).toBe(200);
  return /^JSESSIONID=([^;]+);/.exec(r.headers.get('set-cookie') ?? '')![1]!;
}
const ids = (list: any[]) => list.map((x) => x.id);
const field = (item: any, key: string) => item.info.find((i: { key: string }) => i.key === key);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('SysAid emulator: login and limits', () => {
  it('logs in with the password as sent, sets JSESSIONID, and wants it on every other call', async () => {
    await start();
    const r = await call('/api/v1/login', { method: 'POST', body: loginBody() });
    expect(r.status).toBe(200);
    expect(r.headers.get('set-cookie')).toMatch(/^JSESSIONID=[0-9A-F]{32}; Path=\/; Secure; HttpOnly$/);
    expect(r.json).toMatchObject({ user: { id: '1', name: 'api.sync' }, sysaid_version: '23.3.40', date_format: 'MM/dd/yyyy hh:mm:ss a' });
    const cookie = /^JSESSIONID=([^;]+);/.exec(r.headers.get('set-cookie')!)![1]!;
    // Compared raw (the default): the URL-encoded form of a password with special characters is another password.
    expect((await call('/api/v1/login', { method: 'POST', body: loginBody(encodeURIComponent(CREDS.password)) })).status).toBe(401);

    expect((await call('/api/v1/users', { cookie })).status).toBe(200);
    const anonymous = await call('/api/v1/users');
    expect(anonymous.status).toBe(401);
    expect(anonymous.json).toEqual({ status: 401, message: 'Session expired' });
    expect((await call('/api/v1/users', { cookie: 'FORGED' })).status).toBe(401);
    expect(emu!.counts()).toEqual({ logins: 2, other: 3, rejected429: 0 });
    expect(emu!.requests.map((q) => [q.method, q.path, q.status, q.login])).toEqual([
      ['POST', '/api/v1/login', 200, true],
      ['POST', '/api/v1/login', 401, true],
      ['GET', '/api/v1/users', 200, false],
      ['GET', '/api/v1/users', 401, false],
      ['GET', '/api/v1/users', 401, false],
    ]);
  });

  it('with passwordEncoding url, compares the URL-decoded password: the raw one with special characters is refused', async () => {
    await start({ passwordEncoding: 'url' });
    expect((await call('/api/v1/login', { method: 'POST', body: loginBody() })).status).toBe(401);
    expect((await call('/api/v1/login', { method: 'POST', body: loginBody(encodeURIComponent(CREDS.password)) })).status).toBe(200);
  });

  it('sets further cookies at login (a load balancer’s) and refuses calls that do not send every one back', async () => {
    await start({ extraCookies: { SERVERID: 'app2', AWSALB: 'sticky-1' } });
    const r = await call('/api/v1/login', { method: 'POST', body: loginBody() });
    const setCookies = r.headers.getSetCookie();
    expect(setCookies.map((c) => c.split('=')[0])).toEqual(['JSESSIONID', 'SERVERID', 'AWSALB']);
    const jar = setCookies.map((c) => c.split(';')[0]!);
    const session = jar[0]!.split('=')[1]!;
    expect((await call('/api/v1/users', { cookie: session })).status).toBe(401);
    expect((await call('/api/v1/users', { rawCookie: jar.join('; ') })).status).toBe(200);
    expect((await call('/api/v1/users', { rawCookie: [jar[0], 'SERVERID=app1', jar[2]].join('; ') })).status).toBe(401);
  });

  it('answers 404 for anything outside /api/v1, the login at a wrong base path included', async () => {
    await start();
    const wrong = await call('/sysaid/api/v1/login', { method: 'POST', body: loginBody() });
    expect(wrong.status).toBe(404);
    expect(emu!.counts().logins).toBe(0);
  });

  it('rejects a wrong password with 401 and a missing account id with 400, both counting as logins', async () => {
    await start({ credentials: { ...CREDS, accountId: 'contoso' }, maxLogins: 10 });
    const wrong = await call('/api/v1/login', { method: 'POST', body: loginBody('nope', { account_id: 'contoso' }) });
    expect(wrong.status).toBe(401);
    expect(wrong.json).toEqual({ status: 401, message: 'Wrong user name or password' });
    expect(wrong.headers.get('set-cookie')).toBeNull();
    expect((await call('/api/v1/login', { method: 'POST', body: loginBody() })).status).toBe(400);
    expect((await call('/api/v1/login', { method: 'POST', body: loginBody(CREDS.password, { account_id: 'other' }) })).status).toBe(401);
    await login(loginBody(CREDS.password, { account_id: 'contoso' }));
    expect(emu!.counts()).toEqual({ logins: 4, other: 0, rejected429: 0 });
  });

  it('answers the third login inside the window with 429 and a Retry-After', async () => {
    await start();
    await login();
    expect((await call('/api/v1/login', { method: 'POST', body: loginBody('wrong') })).status).toBe(401);
    const third = await call('/api/v1/login', { method: 'POST', body: loginBody() });
    expect(third.status).toBe(429);
    expect(third.json).toEqual({ status: 429, message: 'Too many login attempts' });
    const retryAfter = third.headers.get('retry-after');
    expect(retryAfter).toMatch(/^\d+$/);
    expect(Number(retryAfter)).toBeGreaterThan(290);
    expect(Number(retryAfter)).toBeLessThanOrEqual(300);
    expect(third.headers.get('set-cookie')).toBeNull();
    expect(emu!.counts()).toEqual({ logins: 3, other: 0, rejected429: 1 });
  });

  it('expires sessions: the old cookie gets 401, a new login works', async () => {
    await start();
    const cookie = await login();
    expect((await call('/api/v1/users/12', { cookie })).status).toBe(200);
    emu!.expireSessions();
    const expired = await call('/api/v1/users/12', { cookie });
    expect(expired.status).toBe(401);
    expect(expired.json.message).toBe('Session expired');
    const fresh = await login();
    expect((await call('/api/v1/users/12', { cookie: fresh })).status).toBe(200);
    expect((await call('/api/v1/users/12', { cookie })).status).toBe(401);
  });

  it('answers 429 after maxRequests in the window (401s count too) and recovers once it slides', async () => {
    await start({ maxRequests: 5, windowMs: 2000 });
    const cookie = await login();
    expect((await call('/api/v1/sr')).status).toBe(401);
    for (let i = 0; i < 4; i++) expect((await call('/api/v1/sr?type=all', { cookie })).status).toBe(200);
    const over = await call('/api/v1/sr?type=all', { cookie });
    expect(over.status).toBe(429);
    expect(over.json).toEqual({ status: 429, message: 'Too many requests' });
    const retryAfter = over.headers.get('retry-after')!;
    expect(retryAfter).toMatch(/^[12]$/);
    expect(emu!.counts()).toEqual({ logins: 1, other: 6, rejected429: 1 });
    await sleep(Number(retryAfter) * 1000 + 50);
    expect((await call('/api/v1/sr?type=all', { cookie })).status).toBe(200);
  });
});

describe('SysAid emulator: data', () => {
  it('lists users by type with their info array, pages them, and finds one by id', async () => {
    await start();
    const cookie = await login();
    const admins = await call('/api/v1/users?type=admin', { cookie });
    expect(ids(admins.json)).toEqual(['12', '13']);
    expect(admins.json[0]).toEqual({
      id: '12',
      name: 'jdoe',
      info: [
        { key: 'first_name', keyCaption: 'First Name', value: 'Jane', valueCaption: 'Jane', valueClass: '' },
        { key: 'last_name', keyCaption: 'Last Name', value: 'Doe', valueCaption: 'Doe', valueClass: '' },
        { key: 'display_name', keyCaption: 'Display Name', value: 'Jane Doe', valueCaption: 'Jane Doe', valueClass: '' },
        { key: 'email_address', keyCaption: 'Email', value: 'jane@contoso.test', valueCaption: 'jane@contoso.test', valueClass: '' },
        { key: 'time_zone', keyCaption: 'Time Zone', value: 'Europe/Berlin', valueCaption: '(GMT+01:00) Berlin', valueClass: '' },
        { key: 'disable', keyCaption: 'Disabled', value: false, valueCaption: 'No', valueClass: '' },
      ],
    });
    expect(field(admins.json[1], 'disable')).toMatchObject({ value: true, valueCaption: 'Yes' });
    expect(field(admins.json[1], 'time_zone')).toBeUndefined();
    expect(ids((await call('/api/v1/users?type=user', { cookie })).json)).toEqual(['14']);
    expect(ids((await call('/api/v1/users?type=manager', { cookie })).json)).toEqual(['15']);
    expect(ids((await call('/api/v1/users', { cookie })).json)).toEqual(['12', '13', '14', '15']);
    expect(ids((await call('/api/v1/users?offset=1&limit=2', { cookie })).json)).toEqual(['13', '14']);
    const slim = await call('/api/v1/users/12?fields=display_name,email_address', { cookie });
    expect(slim.json.info.map((i: { key: string }) => i.key)).toEqual(['display_name', 'email_address']);
    const missing = await call('/api/v1/users/99', { cookie });
    expect(missing.status).toBe(404);
    emu!.removeUser('14');
    emu!.setUser({ ...USERS[3]!, firstName: 'Bigger' });
    expect(ids((await call('/api/v1/users', { cookie })).json)).toEqual(['12', '13', '15']);
    expect(field((await call('/api/v1/users/15', { cookie })).json, 'first_name').value).toBe('Bigger');
  });

  it('lists incidents only without type, every type with type=all, and counts the same way', async () => {
    await start({ srs: [sr('1', { srType: 'incident' }), sr('2', { srType: 'request' }), sr('3', { srType: 'change' }), sr('4'), sr('5', { srType: 'problem' })] });
    const cookie = await login();
    expect(ids((await call('/api/v1/sr', { cookie })).json)).toEqual(['1', '4']);
    const all = await call('/api/v1/sr?type=all', { cookie });
    expect(ids(all.json)).toEqual(['1', '2', '3', '4', '5']);
    expect(all.json.map((s: unknown) => field(s, 'sr_type').valueCaption)).toEqual(['Incident', 'Request', 'Change', 'Incident', 'Problem']);
    expect(ids((await call('/api/v1/sr?type=request', { cookie })).json)).toEqual(['2']);
    expect((await call('/api/v1/sr/count', { cookie })).json).toEqual({ count: 2 });
    expect((await call('/api/v1/sr/count?type=all&status=1', { cookie })).json).toEqual({ count: 5 });
    expect((await call('/api/v1/sr/count?type=all&status=2,3', { cookie })).json).toEqual({ count: 0 });
    expect(all.json[0]).toMatchObject({ id: '1', canUpdate: true, canDelete: true, canArchive: true, hasChildren: false });
    const one = await call('/api/v1/sr/2', { cookie });
    expect(one.json.id).toBe('2');
    const missing = await call('/api/v1/sr/99', { cookie });
    expect(missing.status).toBe(404);
    expect(missing.json).toEqual({ status: 404, message: 'Service record not found' });
  });

  it('filters by due_date ranges (open ends, exact value) and never returns SRs without a due date', async () => {
    await start({ srs: [sr('1', { dueDate: T0 }), sr('2', { dueDate: T0 + HOUR }), sr('3', { dueDate: T0 + 2 * HOUR }), sr('4', { dueDate: null }), sr('5', { dueDate: T0 + HOUR, responsibility: '13' })] });
    const cookie = await login();
    const list = async (q: string) => ids((await call(`/api/v1/sr?type=all&${q}`, { cookie })).json);
    expect(await list(`due_date=${T0 + HOUR},${T0 + 2 * HOUR}`)).toEqual(['2', '3', '5']);
    expect(await list(`due_date=${T0 + HOUR},0`)).toEqual(['2', '3', '5']);
    expect(await list(`due_date=0,${T0}`)).toEqual(['1']);
    expect(await list(`due_date=${T0 + HOUR}`)).toEqual(['2', '5']);
    expect(await list(`due_date=${T0 + HOUR},${T0 + 2 * HOUR}&responsibility=13,14`)).toEqual(['5']);
    expect(await list('due_date=0,0')).toEqual(['1', '2', '3', '5']);
    const noDue = await call('/api/v1/sr/4', { cookie });
    expect(field(noDue.json, 'due_date')).toMatchObject({ value: 0, valueCaption: '' });
    expect((await call('/api/v1/sr?type=all&due_date=tomorrow', { cookie })).status).toBe(400);
    expect((await call('/api/v1/sr?type=all&dueDate=1,2', { cookie })).status).toBe(400);
  });

  it('filters by update_time and sorts by update_time, ascending or descending', async () => {
    await start({ srs: [sr('1', { updateTime: T0 + 3000 }), sr('2', { updateTime: T0 + 1000 }), sr('3', { updateTime: T0 + 2000 }), sr('4', { updateTime: T0 + 2000 }), sr('10', { updateTime: T0 + 2000 })] });
    const cookie = await login();
    const asc = await call(`/api/v1/sr?type=all&update_time=${T0 + 2000},0&sort=update_time&dir=asc&fields=update_time`, { cookie });
    expect(ids(asc.json)).toEqual(['3', '4', '10', '1']);
    expect(asc.json.map((s: unknown) => field(s, 'update_time').value)).toEqual([T0 + 2000, T0 + 2000, T0 + 2000, T0 + 3000]);
    expect(asc.json[0].info.map((i: { key: string }) => i.key)).toEqual(['update_time']);
    const desc = await call(`/api/v1/sr?type=all&update_time=${T0 + 1000},${T0 + 2000}&sort=update_time&dir=desc`, { cookie });
    expect(ids(desc.json)).toEqual(['10', '4', '3', '2']);
    // setSr bumps update_time past both the clock and the previous value.
    const before = Date.now();
    emu!.setSr(sr('2', { title: 'renamed', updateTime: T0 }));
    const bumped = field((await call('/api/v1/sr/2', { cookie })).json, 'update_time').value;
    expect(bumped).toBeGreaterThanOrEqual(before);
    // A newer value from the caller is kept; a write that would not move it forward still bumps it by one.
    const future = Date.now() + 60_000;
    const updateTime = async () => field((await call('/api/v1/sr/2', { cookie })).json, 'update_time').value;
    emu!.setSr(sr('2', { updateTime: future }));
    expect(await updateTime()).toBe(future);
    emu!.setSr(sr('2', { title: 'again', updateTime: future }));
    expect(await updateTime()).toBe(future + 1);
    expect(ids((await call(`/api/v1/sr?type=all&update_time=${before},0`, { cookie })).json)).toEqual(['2']);
  });

  it('pages with offset and limit, clamping the limit to the server page size', async () => {
    await start({ pageLimit: 3, srs: ['1', '2', '3', '4', '5', '6', '7'].map((id) => sr(id)) });
    const cookie = await login();
    const pages: string[][] = [];
    for (let offset = 0; offset < 8; offset += 2) pages.push(ids((await call(`/api/v1/sr?type=all&offset=${offset}&limit=2`, { cookie })).json));
    expect(pages).toEqual([['1', '2'], ['3', '4'], ['5', '6'], ['7']]);
    expect(ids((await call('/api/v1/sr?type=all&limit=100', { cookie })).json)).toEqual(['1', '2', '3']);
    expect(ids((await call('/api/v1/sr?type=all', { cookie })).json)).toEqual(['1', '2', '3']);
    expect(ids((await call('/api/v1/sr?type=all&offset=7', { cookie })).json)).toEqual([]);
    expect((await call('/api/v1/sr?type=all&limit=0', { cookie })).status).toBe(400);
  });

  it('archives: archive=0 hides it, archive=1 shows only archived SRs', async () => {
    await start({ srs: [sr('1'), sr('2'), sr('3', { archive: true })] });
    const cookie = await login();
    expect(ids((await call('/api/v1/sr?type=all', { cookie })).json)).toEqual(['1', '2']);
    const before = Date.now();
    emu!.archiveSr('2');
    expect(ids((await call('/api/v1/sr?type=all&archive=0', { cookie })).json)).toEqual(['1']);
    const archived = await call('/api/v1/sr?type=all&archive=1', { cookie });
    expect(ids(archived.json)).toEqual(['2', '3']);
    expect(field(archived.json[0], 'archive')).toMatchObject({ value: 1 });
    expect(field(archived.json[0], 'update_time').value).toBeGreaterThanOrEqual(before);
    expect((await call('/api/v1/sr/count?type=all&archive=1', { cookie })).json).toEqual({ count: 2 });
  });

  it('deletes for good: a deleted SR is in neither the open nor the archived list, nor found by id', async () => {
    await start({ srs: [sr('1'), sr('2'), sr('3', { archive: true }), sr('4')] });
    const cookie = await login();
    expect((await call('/api/v1/sr?ids=2,3', { method: 'DELETE', cookie })).status).toBe(200);
    emu!.deleteSr('4');
    expect(ids((await call('/api/v1/sr?type=all&archive=0', { cookie })).json)).toEqual(['1']);
    expect(ids((await call('/api/v1/sr?type=all&archive=1', { cookie })).json)).toEqual([]);
    expect(ids((await call('/api/v1/sr?type=all&archive=0&ids=1,2,4', { cookie })).json)).toEqual(['1']);
    expect((await call('/api/v1/sr/2', { cookie })).status).toBe(404);
    const again = await call('/api/v1/sr?ids=2', { method: 'DELETE', cookie });
    expect(again.status).toBe(400);
    expect(again.json.message).toBe('Invalid service record id: 2');
  });

  it('gives dates as epoch ms UTC with captions in another zone, and user references as ids', async () => {
    await start({ srs: [sr('25', { dueDate: T0, status: 3, priority: 2, responsibility: '12', followupUser: null, followupPlannedDate: T0 + HOUR, followupText: 'call back' })] });
    const cookie = await login();
    const one = (await call('/api/v1/sr/25', { cookie })).json;
    const due = field(one, 'due_date');
    expect(due.value).toBe(T0);
    expect(due.valueCaption).toBe('07/01/2024 10:30:00 AM');
    const captionHour = Number(/ (\d\d):/.exec(due.valueCaption)![1]);
    expect(captionHour).not.toBe(new Date(T0).getUTCHours() % 12 || 12);
    expect(field(one, 'followup_planned_date')).toMatchObject({ value: T0 + HOUR, valueCaption: '07/01/2024 11:30:00 AM' });
    expect(field(one, 'responsibility')).toMatchObject({ value: 12, valueCaption: 'Jane Doe' });
    expect(field(one, 'followup_user')).toMatchObject({ value: 0, valueCaption: 'none' });
    expect(field(one, 'followup_text').value).toBe('call back');
    expect(field(one, 'status')).toMatchObject({ value: 3, valueCaption: 'Closed', valueClass: 1 });
    expect(field(one, 'priority')).toMatchObject({ value: 2, valueCaption: 'High' });
    // Another caption zone moves the caption, never the value.
    await agent!.close();
    await emu!.close();
    await start({ captionZone: 'Asia/Tokyo', srs: [sr('25', { dueDate: T0 })] });
    const tokyo = field((await call('/api/v1/sr/25', { cookie: await login() })).json, 'due_date');
    expect(tokyo).toMatchObject({ value: T0, valueCaption: '07/02/2024 12:30:00 AM' });
  });

  it('serves the status table with ids, captions and classes', async () => {
    await start();
    const cookie = await login();
    const filters = (await call('/api/v1/filters/status', { cookie })).json;
    expect(filters.slice(0, 3)).toEqual([{ id: '1', caption: 'New' }, { id: '2', caption: 'Open' }, { id: '3', caption: 'Closed' }]);
    const list = (await call('/api/v1/list/status?fields=id,caption,status_class', { cookie })).json;
    expect(list.slice(0, 5)).toEqual([
      { id: 1, caption: 'New', status_class: 0 },
      { id: 2, caption: 'Open', status_class: 0 },
      { id: 3, caption: 'Closed', status_class: 1 },
      { id: 4, caption: 'Pending', status_class: 0 },
      { id: 5, caption: 'Resolved', status_class: 1 },
    ]);
    const unknown = await call('/api/v1/calendar', { cookie });
    expect(unknown.status).toBe(404);
    expect(unknown.json).toEqual({ status: 404, message: 'Not found' });
  });
});

describe('SysAid emulator: what instances differ in', () => {
  it('sorts on one field only: a second sort key is refused, as SysAid documents a single field', async () => {
    await start({ srs: [sr('1', { updateTime: T0 }), sr('2', { updateTime: T0 })] });
    const cookie = await login();
    expect((await call('/api/v1/sr?type=all&sort=update_time&dir=asc', { cookie })).status).toBe(200);
    const two = await call('/api/v1/sr?type=all&sort=update_time,id&dir=asc', { cookie });
    expect(two.status).toBe(400);
    expect(two.json.message).toBe('Invalid sort: update_time,id');
  });

  it('lists its filters (GET /filters): status values, due_date and insert_time as dates, update_time only where it is one', async () => {
    await start({ srs: [sr('1', { updateTime: T0, insertTime: T0 - HOUR }), sr('2', { updateTime: T0 + HOUR, insertTime: T0 })] });
    const cookie = await login();
    const filters = (await call('/api/v1/filters', { cookie })).json;
    expect(filters.map((f: { id: string; type: string }) => `${f.id}:${f.type}`)).toEqual(['status:list', 'priority:list', 'responsibility:list', 'due_date:date', 'insert_time:date', 'update_time:date']);
    expect(filters[0].values.slice(0, 3)).toEqual([{ id: '1', caption: 'New' }, { id: '2', caption: 'Open' }, { id: '3', caption: 'Closed' }]);
    expect(ids((await call(`/api/v1/sr?type=all&insert_time=${T0},0`, { cookie })).json)).toEqual(['2']);
    await agent!.close();
    await emu!.close();

    await start({ updateTimeFilter: 'absent', srs: [sr('1', { updateTime: T0 })] });
    const absent = await login();
    expect((await call('/api/v1/filters', { cookie: absent })).json.map((f: { id: string }) => f.id)).not.toContain('update_time');
    const refused = await call(`/api/v1/sr?type=all&update_time=${T0},0`, { cookie: absent });
    expect(refused.status).toBe(400);
    expect(refused.json.message).toBe('Unknown filter: update_time');
    await agent!.close();
    await emu!.close();

    // Some instances accept the parameter and return everything.
    await start({ updateTimeFilter: 'ignored', srs: [sr('1', { updateTime: T0 }), sr('2', { updateTime: T0 + HOUR })] });
    const ignored = await login();
    expect(ids((await call(`/api/v1/sr?type=all&update_time=${T0 + HOUR},0`, { cookie: ignored })).json)).toEqual(['1', '2']);
  });

  it('may leave the status class out of valueClass, and may store the follow-up user by user name', async () => {
    await start({ statusClassInValue: false, followupUserAs: 'name', srs: [sr('1', { status: 3, followupUser: '12', followupPlannedDate: T0 })] });
    const cookie = await login();
    const one = (await call('/api/v1/sr/1', { cookie })).json;
    expect(field(one, 'status')).toMatchObject({ value: 3, valueCaption: 'Closed', valueClass: '' });
    expect(field(one, 'followup_user')).toMatchObject({ value: 'jdoe', valueCaption: 'Jane Doe' });
  });

  it('may have users without time_zone, and disable as Y/N, 1/0 or not at all', async () => {
    for (const [style, expected] of [['yn', 'Y'], ['number', 1], ['absent', undefined]] as const) {
      await start({ userKeys: { timeZone: false, disable: style } });
      const cookie = await login();
      const gone = (await call('/api/v1/users/13', { cookie })).json;
      expect(field(gone, 'disable')?.value).toBe(expected);
      expect(field((await call('/api/v1/users/12', { cookie })).json, 'time_zone')).toBeUndefined();
      await agent!.close();
      await emu!.close();
      emu = agent = undefined;
    }
  });

  it('hard-deleted and bulk-edited SRs: a bulk edit gives every SR the same update_time', async () => {
    await start({ srs: ['1', '2', '3'].map((id) => sr(id, { updateTime: T0 })) });
    const cookie = await login();
    const at = Date.now();
    emu!.bulkSetSrs(['1', '2', '3'].map((id) => sr(id, { title: 'bulk', updateTime: T0 })), at);
    const all = (await call(`/api/v1/sr?type=all&update_time=${at},${at}`, { cookie })).json;
    expect(ids(all)).toEqual(['1', '2', '3']);
    expect(new Set(all.map((s: unknown) => field(s, 'update_time').value))).toEqual(new Set([at]));
  });
});

describe('SysAid emulator: the newer API (/connect/v1)', () => {
  const ACCOUNT = 'contoso';
  const KEY = { clientId: 'client-1', clientSecret: 'secret-1' };
  const connect = (path: string, init: { method?: string; body?: unknown; token?: string; account?: string | null } = {}) =>
    call(`/connect/v1${path}`, { method: init.method, body: init.body, headers: { ...(init.account === null ? {} : { 'x-sysaid-accountid': init.account ?? ACCOUNT }), ...(init.token ? { authorization: `Bearer ${init.token}` } : {}) } });
  async function token() {
    const r = await connect('/access-tokens', { method: 'POST', body: KEY });
    expect(r.status).toBe(200);
    return r.json.token as string;
  }

  it('makes application keys from a user’s credentials and access tokens from the keys, for one account', async () => {
    await start({ connect: { accountId: ACCOUNT } });
    const made = await connect('/application-keys', { method: 'POST', body: { userName: CREDS.userName, password: CREDS.password, applicationName: 'calendar-sync', tokenLifetime: 3600 } });
    expect(made.status).toBe(200);
    expect(made.json).toMatchObject({ clientId: expect.any(String), clientSecret: expect.any(String), applicationName: 'calendar-sync' });
    const t = await connect('/access-tokens', { method: 'POST', body: { clientId: made.json.clientId, clientSecret: made.json.clientSecret } });
    expect(t.json).toEqual({ token: expect.any(String), tokenType: 'Bearer', expiresIn: 3600 });
    const wrong = await connect('/access-tokens', { method: 'POST', body: { clientId: made.json.clientId, clientSecret: 'nope' } });
    expect(wrong.status).toBe(401);
    expect(wrong.json).toEqual({ statusCode: 401, message: 'Invalid client credentials' });
    expect((await connect('/access-tokens', { method: 'POST', body: { clientId: made.json.clientId, clientSecret: made.json.clientSecret }, account: 'other' })).status).toBe(401);
    expect(emu!.counts().logins).toBe(4);
  });

  it('wants the bearer token and the account header on every call; an expired token gets 401', async () => {
    await start({ connect: { accountId: ACCOUNT, applicationKeys: [{ ...KEY, tokenLifetimeSeconds: 1 }] } });
    const bearer = await token();
    expect((await connect('/agents', { token: bearer })).status).toBe(200);
    expect((await connect('/agents')).status).toBe(401);
    expect((await connect('/agents', { token: bearer, account: null })).status).toBe(401);
    await sleep(1_100);
    const expired = await connect('/agents', { token: bearer });
    expect(expired.status).toBe(401);
    expect(expired.json).toEqual({ statusCode: 401, message: 'Unauthorized' });
  });

  it('lists agents with isDisabled and timezone (the account zone when unset), and pages with limit ≤ 500', async () => {
    await start({ connect: { accountId: ACCOUNT, applicationKeys: [KEY], accountTimeZone: 'America/New_York' } });
    const bearer = await token();
    const agents = (await connect('/agents?limit=500', { token: bearer })).json;
    expect(agents).toEqual([
      { id: 12, userEmail: 'jane@contoso.test', userName: 'jdoe', firstName: 'Jane', lastName: 'Doe', displayName: 'Jane Doe', isDisabled: false, timezone: 'Europe/Berlin', language: 'en' },
      { id: 13, userEmail: 'old@contoso.test', userName: 'gone', firstName: 'Old', lastName: 'Admin', displayName: 'Old Admin', isDisabled: true, timezone: 'America/New_York', language: 'en' },
    ]);
    expect((await connect('/agents?limit=1&offset=1', { token: bearer })).json.map((a: { id: number }) => a.id)).toEqual([13]);
    const tooMany = await connect('/agents?limit=501', { token: bearer });
    expect(tooMany.status).toBe(400);
    expect(tooMany.json).toEqual({ statusCode: 400, message: 'limit must be at most 500' });
  });

  it('lists service records with ISO 8601 dates, filters on update time, due date, ids and archive, sorts by updateTime, and counts', async () => {
    await start({
      pageLimit: 2,
      connect: { accountId: ACCOUNT, applicationKeys: [KEY] },
      srs: [sr('1', { updateTime: T0, dueDate: T0 + HOUR, responsibility: '12', followupUser: '12', followupPlannedDate: T0 + 2 * HOUR, followupText: 'call', priority: 2 }), sr('2', { updateTime: T0 + 2000 }), sr('3', { updateTime: T0 + 1000, archive: true }), sr('4', { updateTime: T0 + 1000 })],
    });
    const bearer = await token();
    const first = (await connect('/service-records?limit=500&ids=1', { token: bearer })).json[0];
    expect(first).toEqual({
      id: 1, title: 'SR 1', srType: 'incident', status: { id: 1, name: 'New' }, priority: { id: 2, name: 'High' },
      dueDate: '2024-07-01T16:30:00Z', assignedTo: { id: 12, userName: 'jdoe', displayName: 'Jane Doe' },
      followUp: { user: { id: 12, userName: 'jdoe', displayName: 'Jane Doe' }, plannedDate: '2024-07-01T17:30:00Z', text: 'call' },
      insertTime: '2024-07-01T15:30:00Z', updateTime: '2024-07-01T15:30:00Z', archived: false,
    });
    const sorted = await connect(`/service-records?limit=500&sort=updateTime&order=asc&updateTimeFrom=${new Date(T0 + 1).toISOString()}`, { token: bearer });
    // The server caps pages at 2 whatever the limit asked.
    expect(sorted.json.map((x: { id: number }) => x.id)).toEqual([4, 2]);
    expect((await connect(`/service-records/count?updateTimeFrom=${new Date(T0).toISOString()}`, { token: bearer })).json).toEqual({ count: 3 });
    expect((await connect('/service-records?archived=true', { token: bearer })).json.map((x: { id: number }) => x.id)).toEqual([3]);
    expect((await connect(`/service-records?dueDateFrom=${new Date(T0).toISOString()}&dueDateTo=${new Date(T0 + HOUR).toISOString()}`, { token: bearer })).json.map((x: { id: number }) => x.id)).toEqual([1]);
    const epoch = await connect(`/service-records?updateTimeFrom=${T0}`, { token: bearer });
    expect(epoch.status).toBe(400);
    expect(epoch.json.message).toMatch(/ISO 8601/);
  });

  it('counts requests in fixed windows and says so in X-RateLimit-* headers; over the limit it answers 429', async () => {
    await start({ maxRequests: 3, windowMs: 2_000, connect: { accountId: ACCOUNT, applicationKeys: [KEY] } });
    const bearer = await token();
    const second = await connect('/agents', { token: bearer });
    expect(second.headers.get('x-ratelimit-limit')).toBe('3');
    expect(second.headers.get('x-ratelimit-remaining')).toBe('1');
    expect(Number(second.headers.get('x-ratelimit-reset'))).toBeGreaterThanOrEqual(1);
    expect(Number(second.headers.get('x-ratelimit-reset'))).toBeLessThanOrEqual(2);
    expect((await connect('/agents', { token: bearer })).headers.get('x-ratelimit-remaining')).toBe('0');
    const over = await connect('/agents', { token: bearer });
    expect(over.status).toBe(429);
    expect(over.json).toEqual({ statusCode: 429, message: 'Too many requests' });
    await sleep(Number(over.headers.get('x-ratelimit-reset')) * 1000 + 50);
    expect((await connect('/agents', { token: bearer })).status).toBe(200);
  });
});

describe('SysAid emulator: faults', () => {
  it('fails a later page with 500 via minOffset, once, and counts the faulted request', async () => {
    await start({ srs: ['1', '2', '3', '4'].map((id) => sr(id)) });
    const cookie = await login();
    emu!.addFault({ times: 1, path: '/api/v1/sr', minOffset: 2, status: 500 });
    expect((await call('/api/v1/sr/count?type=all', { cookie })).status).toBe(200);
    expect(ids((await call('/api/v1/sr?type=all&offset=0&limit=2', { cookie })).json)).toEqual(['1', '2']);
    const failed = await call('/api/v1/sr?type=all&offset=2&limit=2', { cookie });
    expect(failed.status).toBe(500);
    expect(ids((await call('/api/v1/sr?type=all&offset=2&limit=2', { cookie })).json)).toEqual(['3', '4']);
    expect(emu!.counts()).toEqual({ logins: 1, other: 4, rejected429: 0 });
    expect(emu!.requests.at(-2)).toMatchObject({ path: '/api/v1/sr', query: 'type=all&offset=2&limit=2', status: 500, login: false });
  });

  it('truncates a body (200, JSON cut in the middle) and hangs a request until the client gives up', async () => {
    await start({ srs: ['1', '2', '3'].map((id) => sr(id)) });
    const cookie = await login();
    const whole = await call('/api/v1/sr?type=all', { cookie });
    emu!.addFault({ times: 1, path: '/api/v1/sr', truncate: true });
    const cut = await call('/api/v1/sr?type=all', { cookie });
    expect(cut.status).toBe(200);
    expect(cut.headers.get('content-type')).toMatch(/^application\/json/);
    expect(cut.text).toBe(whole.text.slice(0, Math.floor(whole.text.length / 2)));
    expect(() => cut.json).toThrow(SyntaxError);
    emu!.clearFaults();
    emu!.addFault({ times: 1, hang: true });
    await expect(call('/api/v1/sr?type=all', { cookie, signal: AbortSignal.timeout(300) })).rejects.toThrow(/abort|timeout/i);
    expect((await call('/api/v1/sr?type=all', { cookie })).text).toBe(whole.text);
    emu!.setLatency(200);
    const started = Date.now();
    expect((await call('/api/v1/users/12', { cookie })).status).toBe(200);
    expect(Date.now() - started).toBeGreaterThanOrEqual(190);
  });
});
