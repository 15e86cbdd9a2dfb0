// An emulator of SysAid's classic REST API (`/api/v1`) over HTTPS on 127.0.0.1, for the SysAid source adapter.
// Behaviour follows the SysAid reference (sources-and-peers.md §2, §5): login with a JSESSIONID cookie, sliding-window
// rate limits (2 logins and 1,000 other requests per 5 minutes by default, 429 + Retry-After), users and SRs as
// `{id, info:[{key,keyCaption,value,valueCaption,valueClass}]}`, dates as epoch ms UTC in `value` and as captions
// in a *different* zone (so a client that parses captions is caught), `type` omitted = incidents only, archive,
// comma-list and date-range filters, offset/limit paging, and scriptable faults (status, hang, truncated body).
import { randomBytes } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import https from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import { testTls } from './tls';

export interface SysaidUser { id: string; userName: string; firstName: string; lastName: string; email: string; type: 'admin' | 'user' | 'manager'; /** IANA zone, e.g. 'Europe/Berlin'; optional */ timeZone?: string; disabled?: boolean }
export interface SysaidSr {
  id: string; title: string; srType?: 'incident' | 'request' | 'problem' | 'change';
  status: number;                 // status id; its class comes from the statuses table
  priority?: number;              // 1..5
  dueDate: number | null;         // epoch ms UTC, null = no due date
  responsibility: string | null;  // user id of the responsible admin
  followupUser?: string | null;   // user id
  followupPlannedDate?: number | null; // epoch ms UTC
  followupText?: string;
  updateTime: number;             // epoch ms UTC, bumped on every change by setSr()
  archive?: boolean;
}
export interface SysaidStatus { id: number; caption: string; /** 0 = open class, 1 = closed class */ statusClass: 0 | 1 }
export interface SysaidFault {
  times: number;
  /** Only requests whose path starts with this (e.g. '/api/v1/sr'). */
  path?: string;
  /** Only SR list requests at or after this offset (e.g. fail page 2 of a paged read). */
  minOffset?: number;
  status?: number;        // answer with this status (e.g. 500)
  hang?: boolean;         // never answer (client must time out); socket is destroyed at close()
  truncate?: boolean;     // answer 200 but cut the JSON body in the middle
}

export interface SysaidEmulatorOptions {
  credentials: { userName: string; password: string; accountId?: string };
  users: SysaidUser[];
  /** Seed data, stored as given (its updateTime is kept; only setSr() bumps it). */
  srs?: SysaidSr[];
  statuses?: SysaidStatus[];         // default: 1 New(0), 2 Open(0), 3 Closed(1), 4 Pending(0), 5 Resolved(1), 6 Cancelled(1), 7 Reopened(0)
  maxLogins?: number;                // per window, default 2
  maxRequests?: number;              // non-login requests per window, default 1000
  windowMs?: number;                 // default 300_000 (5 minutes); tests pass a small value
  pageLimit?: number;                // server max/default page size, default 500
  captionZone?: string;              // zone captions are formatted in, default 'America/Chicago' (so anyone parsing captions is caught)
}

export interface SysaidEmulator {
  baseUrl: string;                   // 'https://localhost:PORT'
  ca: string;
  setSr(sr: SysaidSr): void;         // insert or replace; sets updateTime = max(Date.now(), previous+1) unless the caller passes a newer one
  deleteSr(id: string): void;        // moves it to archive (archive=true, updateTime bumped) — SysAid archives, it does not hard-delete
  setUser(u: SysaidUser): void;
  removeUser(id: string): void;
  /** Invalidate every session: the next call with an old cookie gets 401. */
  expireSessions(): void;
  addFault(f: SysaidFault): void;
  clearFaults(): void;
  setLatency(ms: number): void;
  requests: Array<{ method: string; path: string; query: string; status: number; at: number; login: boolean }>;
  /** Requests counted against the budgets (all answered requests, incl. 429s), by kind. */
  counts(): { logins: number; other: number; rejected429: number };
  close(): Promise<void>;
}

const DEFAULT_STATUSES: SysaidStatus[] = [
  { id: 1, caption: 'New', statusClass: 0 },
  { id: 2, caption: 'Open', statusClass: 0 },
  { id: 3, caption: 'Closed', statusClass: 1 },
  { id: 4, caption: 'Pending', statusClass: 0 },
  { id: 5, caption: 'Resolved', statusClass: 1 },
  { id: 6, caption: 'Cancelled', statusClass: 1 },
  { id: 7, caption: 'Reopened', statusClass: 0 },
];
// sr_type ids as this emulator numbers them; the real ids differ between versions *(verify on a live instance)*.
const SR_TYPES = { incident: 1, request: 2, problem: 3, change: 4 } as const;
const SR_TYPE_CAPTIONS = ['', 'Incident', 'Request', 'Problem', 'Change'];
const PRIORITY_CAPTIONS = ['', 'Highest', 'High', 'Medium', 'Low', 'Lowest'];
const SR_LIST_PARAMS = new Set(['type', 'archive', 'fields', 'ids', 'offset', 'limit', 'sort', 'dir', 'view']);
const ID_FILTERS = { status: (sr: SysaidSr) => String(sr.status), responsibility: (sr: SysaidSr) => sr.responsibility, followup_user: (sr: SysaidSr) => sr.followupUser ?? null, priority: (sr: SysaidSr) => (sr.priority === undefined ? null : String(sr.priority)) };
const DATE_FILTERS = { due_date: (sr: SysaidSr) => sr.dueDate, update_time: (sr: SysaidSr) => sr.updateTime, followup_planned_date: (sr: SysaidSr) => sr.followupPlannedDate ?? null };

interface Reply { status: number; body: unknown; headers?: Record<string, string> }
class HttpError extends Error {
  constructor(readonly status: number, message: string) {
    super(message);
  }
}
const error = (status: number, message: string, headers?: Record<string, string>): Reply => ({ status, body: { status, message }, ...(headers ? { headers } : {}) });
/** Numeric ids are numbers in `value` (as SysAid sends them), anything else stays a string. */
const idValue = (id: string) => (/^\d+$/.test(id) ? Number(id) : id);
const byId = (a: string, b: string) => (/^\d+$/.test(a) && /^\d+$/.test(b) ? Number(a) - Number(b) : a < b ? -1 : a > b ? 1 : 0);

export async function startSysaidEmulator(opts: SysaidEmulatorOptions): Promise<SysaidEmulator> {
  const tls = testTls();
  const maxLogins = opts.maxLogins ?? 2;
  const maxRequests = opts.maxRequests ?? 1000;
  const windowMs = opts.windowMs ?? 300_000;
  const pageLimit = opts.pageLimit ?? 500;
  const captionZone = opts.captionZone ?? 'America/Chicago';
  const statuses = opts.statuses ?? DEFAULT_STATUSES;
  const users = new Map<string, SysaidUser>(opts.users.map((u) => [u.id, { ...u }]));
  const srs = new Map<string, SysaidSr>();
  const insertTimes = new Map<string, number>();
  for (const sr of opts.srs ?? []) {
    srs.set(sr.id, { ...sr });
    insertTimes.set(sr.id, sr.updateTime);
  }
  const sessions = new Set<string>();
  const faults: SysaidFault[] = [];
  // Arrival times inside the sliding window; every answered-or-not request that reached accounting is in here.
  const loginTimes: number[] = [];
  const otherTimes: number[] = [];
  const totals = { logins: 0, other: 0, rejected429: 0 };
  const requests: SysaidEmulator['requests'] = [];
  const hung = new Set<Socket>();
  let latencyMs = 0;

  const captionFormat = new Intl.DateTimeFormat('en-US', { timeZone: captionZone, year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', second: '2-digit', hour12: true });
  /** `MM/dd/yyyy hh:mm:ss a` in captionZone — deliberately not UTC and not the admin's zone. */
  function caption(ms: number) {
    const p = Object.fromEntries(captionFormat.formatToParts(new Date(ms)).map((x) => [x.type, x.value]));
    return `${p.month}/${p.day}/${p.year} ${p.hour}:${p.minute}:${p.second} ${String(p.dayPeriod).toUpperCase()}`;
  }
  /** A Windows-style zone caption, e.g. '(GMT+01:00) Berlin' (offset in January; display only). */
  function zoneCaption(zone: string) {
    const offset = new Intl.DateTimeFormat('en-US', { timeZone: zone, timeZoneName: 'longOffset' }).formatToParts(new Date(Date.UTC(new Date().getUTCFullYear(), 0, 1))).find((x) => x.type === 'timeZoneName')?.value ?? 'GMT';
    return `(${offset === 'GMT' ? 'GMT+00:00' : offset}) ${zone.split('/').pop()!.replace(/_/g, ' ')}`;
  }
  const info = (key: string, keyCaption: string, value: unknown, valueCaption: unknown, valueClass: unknown = '') => ({ key, keyCaption, value, valueCaption, valueClass });
  const displayName = (u: SysaidUser) => `${u.firstName} ${u.lastName}`.trim();
  const pick = <T extends { key: string }>(items: T[], fields: string[] | null) => (fields ? items.filter((i) => fields.includes(i.key)) : items);

  function userJson(u: SysaidUser, fields: string[] | null) {
    const items = [
      info('first_name', 'First Name', u.firstName, u.firstName),
      info('last_name', 'Last Name', u.lastName, u.lastName),
      info('display_name', 'Display Name', displayName(u), displayName(u)),
      info('email_address', 'Email', u.email, u.email),
      ...(u.timeZone ? [info('time_zone', 'Time Zone', u.timeZone, zoneCaption(u.timeZone))] : []),
      info('disable', 'Disabled', !!u.disabled, u.disabled ? 'Yes' : 'No'),
    ];
    return { id: u.id, name: u.userName, info: pick(items, fields) };
  }

  /** A user reference: value = numeric id, caption = display name; nobody = 0 / 'none'. */
  function userRef(key: string, keyCaption: string, id: string | null | undefined) {
    if (!id) return info(key, keyCaption, 0, 'none');
    const u = users.get(id);
    return info(key, keyCaption, idValue(id), u ? displayName(u) : '');
  }
  /** A date: value = epoch ms UTC (0 when unset, so a client that does not check gets 1970), caption in captionZone. */
  const dateInfo = (key: string, keyCaption: string, ms: number | null | undefined) => info(key, keyCaption, ms ?? 0, ms == null ? '' : caption(ms));

  function srJson(sr: SysaidSr, fields: string[] | null) {
    const type = sr.srType ?? 'incident';
    const status = statuses.find((s) => s.id === sr.status);
    const items = [
      info('title', 'Title', sr.title, sr.title),
      info('sr_type', 'Service Record Type', SR_TYPES[type], SR_TYPE_CAPTIONS[SR_TYPES[type]]),
      // valueClass carrying the status class is an assumption *(verify on a live instance)*.
      info('status', 'Status', sr.status, status?.caption ?? String(sr.status), status?.statusClass ?? 0),
      info('priority', 'Priority', sr.priority ?? 0, PRIORITY_CAPTIONS[sr.priority ?? 0] ?? ''),
      dateInfo('due_date', 'Due Date', sr.dueDate),
      userRef('responsibility', 'Assigned to', sr.responsibility),
      userRef('followup_user', 'Follow-up User', sr.followupUser),
      dateInfo('followup_planned_date', 'Follow-up Planned Date', sr.followupPlannedDate),
      info('followup_text', 'Follow-up Text', sr.followupText ?? '', sr.followupText ?? ''),
      dateInfo('update_time', 'Modify time', sr.updateTime),
      dateInfo('insert_time', 'Request time', insertTimes.get(sr.id) ?? sr.updateTime),
      info('archive', 'Archived', sr.archive ? 1 : 0, sr.archive ? 'Yes' : 'No'),
    ];
    return { id: sr.id, canUpdate: true, canDelete: false, canArchive: true, hasChildren: false, info: pick(items, fields) };
  }

  // ---- query parsing (invalid values answer 400 rather than being ignored, so client bugs surface) ----
  function intParam(q: URLSearchParams, name: string, fallback: number, min: number) {
    const raw = q.get(name);
    if (raw === null || raw === '') return fallback;
    if (!/^\d+$/.test(raw) || Number(raw) < min) throw new HttpError(400, `Invalid ${name}: ${raw}`);
    return Number(raw);
  }
  function paging(q: URLSearchParams) {
    return { offset: intParam(q, 'offset', 0, 0), limit: Math.min(intParam(q, 'limit', pageLimit, 1), pageLimit) };
  }
  const fieldsParam = (q: URLSearchParams) => (q.get('fields') ? q.get('fields')!.split(',').map((f) => f.trim()) : null);
  function list(raw: string, name: string) {
    const values = raw.split(',').map((v) => v.trim());
    if (values.some((v) => v === '')) throw new HttpError(400, `Invalid ${name}: ${raw}`);
    return values;
  }
  /** `from,to` with 0 = open end, or one exact value; bounds inclusive. */
  function range(raw: string, name: string): (v: number | null) => boolean {
    const parts = raw.split(',');
    if (parts.length > 2 || parts.some((p) => !/^\d+$/.test(p.trim()))) throw new HttpError(400, `Invalid ${name}: ${raw}`);
    const [from, to] = parts.map(Number) as [number, number | undefined];
    if (to === undefined) return (v) => v !== null && v === from;
    return (v) => v !== null && (from === 0 || v >= from) && (to === 0 || v <= to);
  }

  /** The SRs a list or count call selects (type, archive, ids, filters), unsorted. */
  function selectSrs(q: URLSearchParams) {
    for (const key of q.keys()) {
      if (!SR_LIST_PARAMS.has(key) && !(key in ID_FILTERS) && !(key in DATE_FILTERS)) throw new HttpError(400, `Unknown filter: ${key}`);
    }
    const type = q.get('type'); // documented quirk: omitted = incidents only
    if (type !== null && type !== 'all' && !(type in SR_TYPES)) throw new HttpError(400, `Invalid type: ${type}`);
    const archive = q.get('archive') ?? '0';
    if (archive !== '0' && archive !== '1') throw new HttpError(400, `Invalid archive: ${archive}`);
    const tests: Array<(sr: SysaidSr) => boolean> = [
      (sr) => type === 'all' || (sr.srType ?? 'incident') === (type ?? 'incident'),
      (sr) => !!sr.archive === (archive === '1'),
    ];
    const ids = q.get('ids');
    if (ids !== null) {
      const wanted = list(ids, 'ids');
      tests.push((sr) => wanted.includes(sr.id));
    }
    for (const [name, get] of Object.entries(ID_FILTERS)) {
      const raw = q.get(name);
      if (raw === null) continue;
      const wanted = list(raw, name);
      tests.push((sr) => wanted.includes(get(sr) ?? ''));
    }
    for (const [name, get] of Object.entries(DATE_FILTERS)) {
      const raw = q.get(name);
      if (raw === null) continue;
      const inRange = range(raw, name);
      tests.push((sr) => inRange(get(sr)));
    }
    return [...srs.values()].filter((sr) => tests.every((t) => t(sr)));
  }

  function srList(q: URLSearchParams): Reply {
    const selected = selectSrs(q);
    const sort = q.get('sort') ?? 'id';
    const dir = q.get('dir') ?? 'asc';
    if (dir !== 'asc' && dir !== 'desc') throw new HttpError(400, `Invalid dir: ${dir}`);
    const key: Record<string, (sr: SysaidSr) => number> = { update_time: (sr) => sr.updateTime, due_date: (sr) => sr.dueDate ?? 0, insert_time: (sr) => insertTimes.get(sr.id) ?? sr.updateTime };
    if (sort !== 'id' && !key[sort]) throw new HttpError(400, `Invalid sort: ${sort}`);
    // Ties (and sort=id) fall back to the id, so pages are stable.
    selected.sort((a, b) => (sort === 'id' ? 0 : key[sort]!(a) - key[sort]!(b)) || byId(a.id, b.id));
    if (dir === 'desc') selected.reverse();
    const { offset, limit } = paging(q);
    const fields = fieldsParam(q);
    return { status: 200, body: selected.slice(offset, offset + limit).map((sr) => srJson(sr, fields)) };
  }

  function route(method: string, parts: string[], q: URLSearchParams): Reply {
    if (method !== 'GET') return error(405, 'Method not allowed');
    const [resource, sub, extra] = parts;
    if (resource === 'users' && !sub) {
      const type = q.get('type');
      const all = [...users.values()].filter((u) => !type || u.type === type).sort((a, b) => byId(a.id, b.id));
      const { offset, limit } = paging(q);
      const fields = fieldsParam(q);
      return { status: 200, body: all.slice(offset, offset + limit).map((u) => userJson(u, fields)) };
    }
    if (resource === 'users' && sub && !extra) {
      const u = users.get(sub);
      return u ? { status: 200, body: userJson(u, fieldsParam(q)) } : error(404, 'User not found');
    }
    if (resource === 'sr' && !sub) return srList(q);
    if (resource === 'sr' && sub === 'count' && !extra) return { status: 200, body: { count: selectSrs(q).length } };
    if (resource === 'sr' && sub && !extra) {
      const sr = srs.get(sub);
      return sr ? { status: 200, body: srJson(sr, fieldsParam(q)) } : error(404, 'Service record not found');
    }
    if (resource === 'filters' && sub === 'status' && !extra) return { status: 200, body: statuses.map((s) => ({ id: String(s.id), caption: s.caption })) };
    if (resource === 'list' && sub === 'status' && !extra) {
      // The status class is exposed here as `status_class` (numeric id, unlike /filters/status). The real
      // field name and whether /list/status carries the class at all must be verified on a live instance.
      const fields = fieldsParam(q);
      return {
        status: 200,
        body: statuses.map((s) => {
          const all: Record<string, unknown> = { id: s.id, caption: s.caption, status_class: s.statusClass };
          return fields ? Object.fromEntries(Object.entries(all).filter(([k]) => fields.includes(k))) : all;
        }),
      };
    }
    return error(404, 'Not found');
  }

  // ---- rate limiting: sliding windows of arrival times; rejected requests count too ----
  /** Records an arrival; returns Retry-After seconds when the window was already full, else null. */
  function admit(times: number[], max: number, now: number): number | null {
    while (times.length && times[0]! + windowMs <= now) times.shift();
    const full = times.length >= max;
    times.push(now);
    if (!full) return null;
    // The next request is admitted once fewer than `max` arrivals remain in the window, i.e. once the
    // arrival at index length-max has expired (this one included, as it counts as well).
    return Math.max(1, Math.ceil((times[times.length - max]! + windowMs - now) / 1000));
  }

  function login(raw: string): Reply {
    let body: { user_name?: unknown; password?: unknown; account_id?: unknown };
    try {
      body = JSON.parse(raw) as typeof body;
      if (!body || typeof body !== 'object') throw new Error('not an object');
    } catch {
      return error(400, 'Invalid request body');
    }
    const { userName, password, accountId } = opts.credentials;
    if (accountId !== undefined && (body.account_id === undefined || body.account_id === '')) return error(400, 'Missing account id');
    // The docs ask for a URL-encoded (UTF-8) password, client libraries often send it plain: accept both.
    let decoded: string | null = null;
    try {
      decoded = typeof body.password === 'string' ? decodeURIComponent(body.password) : null;
    } catch {
      /* not percent-encoded */
    }
    const passwordOk = body.password === password || decoded === password;
    if (body.user_name !== userName || !passwordOk || (accountId !== undefined && body.account_id !== accountId)) return error(401, 'Wrong user name or password');
    const session = randomBytes(16).toString('hex').toUpperCase();
    sessions.add(session);
    // The API account is usually not among the calendar's users; then it gets id "1".
    const self = [...users.values()].find((u) => u.userName === userName);
    return {
      status: 200,
      headers: { 'set-cookie': `JSESSIONID=${session}; Path=/; Secure; HttpOnly` },
      body: { user: self ? userJson(self, null) : { id: '1', name: userName, info: [info('display_name', 'Display Name', userName, userName)] }, sysaid_version: '23.3.40', date_format: 'MM/dd/yyyy hh:mm:ss a' },
    };
  }

  function send(res: ServerResponse, arrived: number, isLogin: boolean, reply: Reply, truncate = false) {
    let text = JSON.stringify(reply.body);
    let status = reply.status;
    if (truncate) {
      status = 200;
      text = text.slice(0, Math.floor(text.length / 2));
    }
    res.writeHead(status, { 'content-type': 'application/json;charset=UTF-8', ...reply.headers });
    res.end(text);
    const url = new URL(res.req.url!, 'https://localhost');
    requests.push({ method: res.req.method!, path: url.pathname, query: url.search.slice(1), status, at: arrived, login: isLogin });
    if (isLogin) totals.logins++;
    else totals.other++;
    if (status === 429) totals.rejected429++;
  }

  async function handle(req: IncomingMessage, res: ServerResponse, raw: string, arrived: number) {
    const url = new URL(req.url!, 'https://localhost');
    const path = url.pathname.replace(/\/+$/, '');
    const isLogin = req.method === 'POST' && path === '/api/v1/login';
    const answer = (reply: Reply, truncate = false) => send(res, arrived, isLogin, reply, truncate);

    // 1. Rate accounting (counts every request, including the ones rejected below).
    const retryAfter = isLogin ? admit(loginTimes, maxLogins, arrived) : admit(otherTimes, maxRequests, arrived);
    if (latencyMs) await new Promise((r) => setTimeout(r, latencyMs));
    if (retryAfter !== null) return answer(error(429, isLogin ? 'Too many login attempts' : 'Too many requests', { 'retry-after': String(retryAfter) }));
    // 2. Authentication.
    if (!isLogin) {
      const cookie = /(?:^|;\s*)JSESSIONID=([^;]+)/.exec(req.headers.cookie ?? '');
      if (!cookie || !sessions.has(cookie[1]!)) return answer(error(401, 'Session expired'));
    }
    // 3. Faults.
    const offset = Number(url.searchParams.get('offset') ?? 0);
    // A fault without a path never hits the login (it is meant for the calls after it); target it by path.
    const fault = faults.find((f) => f.times > 0 && (f.path ? path.startsWith(f.path) : !isLogin) && (f.minOffset === undefined || (path === '/api/v1/sr' && offset >= f.minOffset)));
    if (fault) {
      fault.times--;
      if (fault.hang) {
        hung.add(req.socket); // answered never; destroyed at close()
        return;
      }
      if (!fault.truncate) return answer(error(fault.status ?? 500, fault.status === 429 ? 'Too many requests' : 'Internal server error', fault.status === 429 ? { 'retry-after': '1' } : undefined));
    }
    // 4. The route itself.
    let reply: Reply;
    try {
      reply = isLogin ? login(raw) : path.startsWith('/api/v1/') ? route(req.method!, path.slice('/api/v1/'.length).split('/').map(decodeURIComponent), url.searchParams) : error(404, 'Not found');
    } catch (err) {
      if (!(err instanceof HttpError)) throw err;
      reply = error(err.status, err.message);
    }
    return answer(reply, !!fault?.truncate);
  }

  const server = https.createServer({ key: tls.key, cert: tls.cert }, (req, res) => {
    const arrived = Date.now();
    let raw = '';
    req.setEncoding('utf8');
    req.on('data', (d: string) => (raw += d));
    req.on('end', () => {
      void handle(req, res, raw, arrived).catch((err) => {
        if (!res.headersSent) send(res, arrived, false, error(500, String(err)));
      });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;

  return {
    baseUrl: `https://localhost:${port}`,
    ca: tls.ca,
    setSr(sr) {
      const previous = srs.get(sr.id);
      const updateTime = Math.max(sr.updateTime ?? 0, Date.now(), previous ? previous.updateTime + 1 : 0);
      srs.set(sr.id, { ...sr, updateTime });
      if (!insertTimes.has(sr.id)) insertTimes.set(sr.id, updateTime);
    },
    deleteSr(id) {
      const sr = srs.get(id);
      if (!sr) throw new Error(`no SR ${id}`);
      srs.set(id, { ...sr, archive: true, updateTime: Math.max(Date.now(), sr.updateTime + 1) });
    },
    setUser: (u) => void users.set(u.id, { ...u }),
    removeUser: (id) => void users.delete(id),
    expireSessions: () => sessions.clear(),
    addFault: (f) => void faults.push(f),
    clearFaults: () => void (faults.length = 0),
    setLatency: (ms) => void (latencyMs = ms),
    requests,
    counts: () => ({ ...totals }),
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of hung) socket.destroy();
        server.close(() => resolve());
        server.closeAllConnections(); // keep-alive sockets of the test's client
      }),
  };
}
