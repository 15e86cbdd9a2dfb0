// An emulator of SysAid over HTTPS on 127.0.0.1: the classic REST API (`/api/v1`) and the newer API (`/connect/v1`)
// on one account's data, for the SysAid source adapter.
//
// Classic, as SysAid documents it (sources-and-peers.md §2): login with a password compared raw or URL-decoded (one
// of them, configured), a JSESSIONID cookie plus any further cookies a deployment sets (all must come back), 2 logins
// and 1,000 other requests per sliding 5 minutes (429 + Retry-After), users and SRs as `{id, info:[{key, keyCaption,
// value, valueCaption, valueClass}]}`, dates as epoch ms UTC in `value` and as captions in a *different* zone (so a
// client that parses captions is caught), `type` omitted = incidents only, archive, comma-list and date-range
// filters (due_date, insert_time; update_time only when configured as a filter), a sort on one field only, a
// server-side page cap that clamps `limit`, `/sr/count`, `GET /filters`, hard deletes (`DELETE /sr?ids=`), and
// scriptable faults (status, hang, truncated body).
//
// Newer API (developers.sysaid.com): application keys → access tokens (`expiresIn`), `x-sysaid-accountid`, ISO 8601
// dates, `limit` ≤ 500, 1,000 requests per fixed 5-minute window with `X-RateLimit-*` headers, users with
// `isDisabled` and `timezone`. Its service-record listing is not publicly documented: the shape served here
// (`/connect/v1/service-records`, filters `updateTimeFrom`/`dueDateFrom`/`dueDateTo`/`insertTimeFrom`/`ids`/
// `archived`, `sort=updateTime`, `/count`) is this project's assumption and must be verified on a live account.
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
  insertTime?: number;            // epoch ms UTC; defaults to the first updateTime seen
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
  pageLimit?: number;                // server max/default page size, default 500 (configurable on a real server)
  captionZone?: string;              // zone captions are formatted in, default 'America/Chicago' (so anyone parsing captions is caught)
  /** How the login password is compared: 'raw' (as sent, default) or 'url' (URL-decoded first, as the docs ask). Never both. */
  passwordEncoding?: 'raw' | 'url';
  /** Cookies the login sets besides JSESSIONID (a load balancer's affinity cookie, …); calls without them get 401. */
  extraCookies?: Record<string, string>;
  /** `update_time` on SR lists: a date 'filter' (default, listed by GET /filters), 'absent' (400 unknown filter), or 'ignored' (listed and accepted, not applied). */
  updateTimeFilter?: 'filter' | 'absent' | 'ignored';
  /** What `followup_user` holds: the user's 'id' (default) or their user 'name'. */
  followupUserAs?: 'id' | 'name';
  /** Whether `status.valueClass` carries the status class (default true); false sends '' as for other keys. */
  statusClassInValue?: boolean;
  /** User profile keys: `time_zone` may be missing; `disable` may be a boolean (default), 'Y'/'N', 1/0, or missing. */
  userKeys?: { timeZone?: boolean; disable?: 'boolean' | 'yn' | 'number' | 'absent' };
  /** The newer API (`/connect/v1`): the account id its callers send in x-sysaid-accountid, and the application keys made for it. */
  connect?: { accountId: string; applicationKeys?: Array<{ clientId: string; clientSecret: string; tokenLifetimeSeconds?: number }>; accountTimeZone?: string };
}

export interface SysaidEmulator {
  baseUrl: string;                   // 'https://localhost:PORT'
  ca: string;
  setSr(sr: SysaidSr): void;         // insert or replace; sets updateTime = max(Date.now(), previous+1) unless the caller passes a newer one
  /** A bulk edit: every SR given gets the same updateTime (`at`, default now), as an import or a mass update does. */
  bulkSetSrs(list: SysaidSr[], at?: number): void;
  archiveSr(id: string): void;       // moves it to the archive (archive=true, updateTime bumped)
  deleteSr(id: string): void;        // deletes it for good: gone from every list, as DELETE /api/v1/sr?ids= does
  setUser(u: SysaidUser): void;
  removeUser(id: string): void;
  /** Invalidate every session and access token: the next call with an old one gets 401. */
  expireSessions(): void;
  addFault(f: SysaidFault): void;
  clearFaults(): void;
  setLatency(ms: number): void;
  requests: Array<{ method: string; path: string; query: string; status: number; at: number; login: boolean; cookie?: string }>;
  /** Requests counted against the budgets (all answered requests, incl. 429s), by kind; token requests count as logins. */
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
const ID_FILTERS = { status: (sr: SysaidSr) => String(sr.status), responsibility: (sr: SysaidSr) => sr.responsibility, priority: (sr: SysaidSr) => (sr.priority === undefined ? null : String(sr.priority)) };
const CONNECT_LIMIT_MAX = 500;
const CONNECT_LIMIT_DEFAULT = 20;

interface Reply { status: number; body: unknown; headers?: Record<string, string | string[]> }
class HttpError extends Error {
  constructor(readonly status: number, message: string) {
    super(message);
  }
}
const error = (status: number, message: string, headers?: Record<string, string>): Reply => ({ status, body: { status, message }, ...(headers ? { headers } : {}) });
/** The newer API's error shape. */
const connectError = (statusCode: number, message: string, headers?: Record<string, string>): Reply => ({ status: statusCode, body: { statusCode, message }, ...(headers ? { headers } : {}) });
/** Numeric ids are numbers in `value` (as SysAid sends them), anything else stays a string. */
const idValue = (id: string) => (/^\d+$/.test(id) ? Number(id) : id);
const byId = (a: string, b: string) => (/^\d+$/.test(a) && /^\d+$/.test(b) ? Number(a) - Number(b) : a < b ? -1 : a > b ? 1 : 0);
const iso = (ms: number | null | undefined) => (ms == null ? null : new Date(ms).toISOString().replace(/\.000Z$/, 'Z'));

export async function startSysaidEmulator(opts: SysaidEmulatorOptions): Promise<SysaidEmulator> {
  const tls = testTls();
  const maxLogins = opts.maxLogins ?? 2;
  const maxRequests = opts.maxRequests ?? 1000;
  const windowMs = opts.windowMs ?? 300_000;
  const pageLimit = opts.pageLimit ?? 500;
  const captionZone = opts.captionZone ?? 'America/Chicago';
  const statuses = opts.statuses ?? DEFAULT_STATUSES;
  const passwordEncoding = opts.passwordEncoding ?? 'raw';
  const extraCookies = opts.extraCookies ?? {};
  const updateTimeFilter = opts.updateTimeFilter ?? 'filter';
  const userKeys = { timeZone: opts.userKeys?.timeZone ?? true, disable: opts.userKeys?.disable ?? 'boolean' };
  const users = new Map<string, SysaidUser>(opts.users.map((u) => [u.id, { ...u }]));
  const srs = new Map<string, SysaidSr>();
  for (const sr of opts.srs ?? []) srs.set(sr.id, { ...sr, insertTime: sr.insertTime ?? sr.updateTime });
  const sessions = new Set<string>();
  const faults: SysaidFault[] = [];
  // Arrival times inside the sliding window; every answered-or-not request that reached accounting is in here.
  const loginTimes: number[] = [];
  const otherTimes: number[] = [];
  // The newer API counts in fixed windows and says so in its headers.
  const connectWindow = { startedAt: 0, used: 0 };
  const tokens = new Map<string, number>(); // token → expires at (ms)
  const applicationKeys = new Map((opts.connect?.applicationKeys ?? []).map((k) => [k.clientId, { ...k }]));
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

  function disableInfo(u: SysaidUser) {
    const off = !!u.disabled;
    if (userKeys.disable === 'absent') return [];
    if (userKeys.disable === 'yn') return [info('disable', 'Disabled', off ? 'Y' : 'N', off ? 'Yes' : 'No')];
    if (userKeys.disable === 'number') return [info('disable', 'Disabled', off ? 1 : 0, off ? 'Yes' : 'No')];
    return [info('disable', 'Disabled', off, off ? 'Yes' : 'No')];
  }

  function userJson(u: SysaidUser, fields: string[] | null) {
    const items = [
      info('first_name', 'First Name', u.firstName, u.firstName),
      info('last_name', 'Last Name', u.lastName, u.lastName),
      info('display_name', 'Display Name', displayName(u), displayName(u)),
      info('email_address', 'Email', u.email, u.email),
      ...(u.timeZone && userKeys.timeZone ? [info('time_zone', 'Time Zone', u.timeZone, zoneCaption(u.timeZone))] : []),
      ...disableInfo(u),
    ];
    return { id: u.id, name: u.userName, info: pick(items, fields) };
  }

  /** A user reference: value = numeric id, caption = display name; nobody = 0 / 'none'. */
  function userRef(key: string, keyCaption: string, id: string | null | undefined) {
    if (!id) return info(key, keyCaption, 0, 'none');
    const u = users.get(id);
    return info(key, keyCaption, idValue(id), u ? displayName(u) : '');
  }
  /** The follow-up user, by id or — as some SysAid versions store it — by user name. */
  function followupRef(id: string | null | undefined) {
    if (!id || opts.followupUserAs !== 'name') return userRef('followup_user', 'Follow-up User', id);
    const u = users.get(id);
    return info('followup_user', 'Follow-up User', u?.userName ?? id, u ? displayName(u) : id);
  }
  /** A date: value = epoch ms UTC (0 when unset, so a client that does not check gets 1970), caption in captionZone. */
  const dateInfo = (key: string, keyCaption: string, ms: number | null | undefined) => info(key, keyCaption, ms ?? 0, ms == null ? '' : caption(ms));

  function srJson(sr: SysaidSr, fields: string[] | null) {
    const type = sr.srType ?? 'incident';
    const status = statuses.find((s) => s.id === sr.status);
    const items = [
      info('title', 'Title', sr.title, sr.title),
      info('sr_type', 'Service Record Type', SR_TYPES[type], SR_TYPE_CAPTIONS[SR_TYPES[type]]),
      // valueClass carrying the status class is an assumption *(verify on a live instance)*; an instance may send ''.
      info('status', 'Status', sr.status, status?.caption ?? String(sr.status), opts.statusClassInValue === false ? '' : (status?.statusClass ?? 0)),
      info('priority', 'Priority', sr.priority ?? 0, PRIORITY_CAPTIONS[sr.priority ?? 0] ?? ''),
      dateInfo('due_date', 'Due Date', sr.dueDate),
      userRef('responsibility', 'Assigned to', sr.responsibility),
      followupRef(sr.followupUser),
      dateInfo('followup_planned_date', 'Follow-up Planned Date', sr.followupPlannedDate),
      info('followup_text', 'Follow-up Text', sr.followupText ?? '', sr.followupText ?? ''),
      dateInfo('update_time', 'Modify time', sr.updateTime),
      dateInfo('insert_time', 'Request time', sr.insertTime ?? sr.updateTime),
      info('archive', 'Archived', sr.archive ? 1 : 0, sr.archive ? 'Yes' : 'No'),
    ];
    return { id: sr.id, canUpdate: true, canDelete: true, canArchive: true, hasChildren: false, info: pick(items, fields) };
  }

  // ---- query parsing (invalid values answer 400 rather than being ignored, so client bugs surface) ----
  function intParam(q: URLSearchParams, name: string, fallback: number, min: number) {
    const raw = q.get(name);
    if (raw === null || raw === '') return fallback;
    if (!/^\d+$/.test(raw) || Number(raw) < min) throw new HttpError(400, `Invalid ${name}: ${raw}`);
    return Number(raw);
  }
  /** The server caps every page at its configured limit, whatever the client asks for. */
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
  /** The date filters of SR lists on this instance: due_date and insert_time always, update_time as configured. */
  const dateFilters = (): Record<string, (sr: SysaidSr) => number | null> => ({
    due_date: (sr) => sr.dueDate,
    insert_time: (sr) => sr.insertTime ?? sr.updateTime,
    ...(updateTimeFilter === 'filter' ? { update_time: (sr: SysaidSr) => sr.updateTime } : {}),
  });

  /** The SRs a list or count call selects (type, archive, ids, filters), unsorted. */
  function selectSrs(q: URLSearchParams) {
    const dates = dateFilters();
    for (const key of q.keys()) {
      if (key === 'update_time' && updateTimeFilter === 'ignored') continue;
      if (!SR_LIST_PARAMS.has(key) && !(key in ID_FILTERS) && !(key in dates)) throw new HttpError(400, `Unknown filter: ${key}`);
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
    for (const [name, get] of Object.entries(dates)) {
      const raw = q.get(name);
      if (raw === null) continue;
      const inRange = range(raw, name);
      tests.push((sr) => inRange(get(sr)));
    }
    return [...srs.values()].filter((sr) => tests.every((t) => t(sr)));
  }

  /** One sort field and a direction, as documented; ties come in id order (an implementation detail clients must not rely on). */
  function sortSrs(selected: SysaidSr[], sort: string, descending: boolean) {
    const key: Record<string, (sr: SysaidSr) => number> = { update_time: (sr) => sr.updateTime, due_date: (sr) => sr.dueDate ?? 0, insert_time: (sr) => sr.insertTime ?? sr.updateTime };
    if (sort !== 'id' && !key[sort]) throw new HttpError(400, `Invalid sort: ${sort}`);
    selected.sort((a, b) => (sort === 'id' ? 0 : key[sort]!(a) - key[sort]!(b)) || byId(a.id, b.id));
    if (descending) selected.reverse();
    return selected;
  }

  function srList(q: URLSearchParams): Reply {
    const dir = q.get('dir') ?? 'asc';
    if (dir !== 'asc' && dir !== 'desc') throw new HttpError(400, `Invalid dir: ${dir}`);
    const selected = sortSrs(selectSrs(q), q.get('sort') ?? 'id', dir === 'desc');
    const { offset, limit } = paging(q);
    const fields = fieldsParam(q);
    return { status: 200, body: selected.slice(offset, offset + limit).map((sr) => srJson(sr, fields)) };
  }

  /** `GET /filters`: the SR list filters with their type and, for lists, their values (`{id, caption}`). */
  function filtersList(): Reply {
    const listFilter = (id: string, caption: string, values: Array<{ id: string; caption: string }>) => ({ id, caption, type: 'list', metadata: { limit: 500, offset: 0, total: values.length }, values });
    const dateFilter = (id: string, caption: string) => ({ id, caption, type: 'date', metadata: { limit: 500, offset: 0, total: 0 }, values: [] });
    const admins = [...users.values()].filter((u) => u.type === 'admin').sort((a, b) => byId(a.id, b.id));
    return {
      status: 200,
      body: [
        listFilter('status', 'Status', statuses.map((s) => ({ id: String(s.id), caption: s.caption }))),
        listFilter('priority', 'Priority', PRIORITY_CAPTIONS.slice(1).map((c, i) => ({ id: String(i + 1), caption: c }))),
        listFilter('responsibility', 'Assigned to', admins.map((u) => ({ id: u.id, caption: displayName(u) }))),
        dateFilter('due_date', 'Due Date'),
        dateFilter('insert_time', 'Request time'),
        ...(updateTimeFilter !== 'absent' ? [dateFilter('update_time', 'Modify time')] : []),
      ],
    };
  }

  function route(method: string, parts: string[], q: URLSearchParams): Reply {
    const [resource, sub, extra] = parts;
    if (method === 'DELETE' && resource === 'sr' && !sub) {
      // Hard delete: the SRs are gone from the open and the archived lists alike.
      const wanted = list(q.get('ids') ?? '', 'ids');
      const unknown = wanted.filter((id) => !srs.has(id));
      if (unknown.length) return error(400, `Invalid service record id: ${unknown.join(',')}`);
      for (const id of wanted) srs.delete(id);
      return { status: 200, body: {} };
    }
    if (method !== 'GET') return error(405, 'Method not allowed');
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
    if (resource === 'filters' && !sub) return filtersList();
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
    let received: string | null = typeof body.password === 'string' ? body.password : null;
    if (received !== null && passwordEncoding === 'url') {
      try {
        received = decodeURIComponent(received);
      } catch {
        received = null; // not valid percent-encoding
      }
    }
    if (body.user_name !== userName || received !== password || (accountId !== undefined && body.account_id !== accountId)) return error(401, 'Wrong user name or password');
    const session = randomBytes(16).toString('hex').toUpperCase();
    sessions.add(session);
    // The API account is usually not among the calendar's users; then it gets id "1".
    const self = [...users.values()].find((u) => u.userName === userName);
    const cookies = [`JSESSIONID=${session}; Path=/; Secure; HttpOnly`, ...Object.entries(extraCookies).map(([k, v]) => `${k}=${v}; Path=/; Secure`)];
    return {
      status: 200,
      headers: { 'set-cookie': cookies },
      body: { user: self ? userJson(self, null) : { id: '1', name: userName, info: [info('display_name', 'Display Name', userName, userName)] }, sysaid_version: '23.3.40', date_format: 'MM/dd/yyyy hh:mm:ss a' },
    };
  }

  /** Every cookie the login set must come back: the session, and the deployment's others (load balancer affinity). */
  function sessionOk(cookieHeader: string | undefined) {
    const jar = new Map((cookieHeader ?? '').split(/;\s*/).filter(Boolean).map((c) => [c.slice(0, c.indexOf('=')), c.slice(c.indexOf('=') + 1)] as const));
    return sessions.has(jar.get('JSESSIONID') ?? '') && Object.entries(extraCookies).every(([k, v]) => jar.get(k) === v);
  }

  // ---- the newer API (/connect/v1) ----
  function connectUser(u: SysaidUser) {
    return { id: Number(u.id), userEmail: u.email, userName: u.userName, firstName: u.firstName, lastName: u.lastName, displayName: displayName(u), isDisabled: !!u.disabled, timezone: u.timeZone ?? opts.connect?.accountTimeZone ?? 'UTC', language: 'en' };
  }
  function connectSr(sr: SysaidSr) {
    const status = statuses.find((s) => s.id === sr.status);
    const ref = (id: string | null | undefined) => (id && users.get(id) ? { id: Number(id), userName: users.get(id)!.userName, displayName: displayName(users.get(id)!) } : null);
    return {
      id: Number(sr.id),
      title: sr.title,
      srType: sr.srType ?? 'incident',
      status: { id: sr.status, name: status?.caption ?? String(sr.status) },
      priority: sr.priority ? { id: sr.priority, name: PRIORITY_CAPTIONS[sr.priority] } : null,
      dueDate: iso(sr.dueDate),
      assignedTo: ref(sr.responsibility),
      followUp: { user: ref(sr.followupUser), plannedDate: iso(sr.followupPlannedDate), text: sr.followupText ?? '' },
      insertTime: iso(sr.insertTime ?? sr.updateTime),
      updateTime: iso(sr.updateTime),
      archived: !!sr.archive,
    };
  }
  /** ISO 8601 UTC only (`2024-06-10T14:32:00Z`, milliseconds allowed): epoch numbers are refused. */
  function isoParam(q: URLSearchParams, name: string): number | null {
    const raw = q.get(name);
    if (raw === null) return null;
    if (!/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,3})?Z$/.test(raw)) throw new HttpError(400, `${name} must be an ISO 8601 UTC date such as 2024-06-10T14:32:00Z`);
    return Date.parse(raw);
  }
  function connectPaging(q: URLSearchParams) {
    const limit = intParam(q, 'limit', CONNECT_LIMIT_DEFAULT, 1);
    if (limit > CONNECT_LIMIT_MAX) throw new HttpError(400, `limit must be at most ${CONNECT_LIMIT_MAX}`);
    return { offset: intParam(q, 'offset', 0, 0), limit: Math.min(limit, pageLimit) };
  }
  const CONNECT_SR_PARAMS = new Set(['limit', 'offset', 'sort', 'order', 'archived', 'ids', 'updateTimeFrom', 'dueDateFrom', 'dueDateTo', 'insertTimeFrom']);
  function connectSelect(q: URLSearchParams) {
    for (const key of q.keys()) if (!CONNECT_SR_PARAMS.has(key)) throw new HttpError(400, `Unknown query parameter: ${key}`);
    const archived = q.get('archived') ?? 'false';
    if (archived !== 'true' && archived !== 'false') throw new HttpError(400, 'archived must be true or false');
    const updatedFrom = isoParam(q, 'updateTimeFrom');
    const dueFrom = isoParam(q, 'dueDateFrom');
    const dueTo = isoParam(q, 'dueDateTo');
    const insertedFrom = isoParam(q, 'insertTimeFrom');
    const ids = q.get('ids') === null ? null : list(q.get('ids')!, 'ids');
    return [...srs.values()].filter(
      (sr) =>
        !!sr.archive === (archived === 'true') &&
        (updatedFrom === null || sr.updateTime >= updatedFrom) &&
        (dueFrom === null || (sr.dueDate !== null && sr.dueDate >= dueFrom)) &&
        (dueTo === null || (sr.dueDate !== null && sr.dueDate <= dueTo)) &&
        (insertedFrom === null || (sr.insertTime ?? sr.updateTime) >= insertedFrom) &&
        (ids === null || ids.includes(sr.id)),
    );
  }
  function connectRoute(method: string, parts: string[], q: URLSearchParams): Reply {
    if (method !== 'GET') return connectError(405, 'Method not allowed');
    const [resource, sub, extra] = parts;
    if (resource === 'agents' && !sub) {
      const { offset, limit } = connectPaging(q);
      const agents = [...users.values()].filter((u) => u.type === 'admin').sort((a, b) => byId(a.id, b.id));
      return { status: 200, body: agents.slice(offset, offset + limit).map(connectUser) };
    }
    if (resource === 'service-records' && !sub) {
      const sort = q.get('sort') ?? 'id';
      const order = q.get('order') ?? 'asc';
      if (sort !== 'id' && sort !== 'updateTime') throw new HttpError(400, `sort must be id or updateTime`);
      if (order !== 'asc' && order !== 'desc') throw new HttpError(400, 'order must be asc or desc');
      const selected = sortSrs(connectSelect(q), sort === 'updateTime' ? 'update_time' : 'id', order === 'desc');
      const { offset, limit } = connectPaging(q);
      return { status: 200, body: selected.slice(offset, offset + limit).map(connectSr) };
    }
    if (resource === 'service-records' && sub === 'count' && !extra) return { status: 200, body: { count: connectSelect(q).length } };
    return connectError(404, 'Requested resource was not found');
  }
  function connectAuth(path: string, raw: string): Reply {
    let body: Record<string, unknown>;
    try {
      body = JSON.parse(raw) as Record<string, unknown>;
    } catch {
      return connectError(400, 'Invalid request parameters');
    }
    if (path === '/connect/v1/application-keys') {
      if (body.userName !== opts.credentials.userName || body.password !== opts.credentials.password) return connectError(401, 'Invalid user name or password');
      const key = { clientId: randomBytes(8).toString('hex'), clientSecret: randomBytes(24).toString('base64url'), tokenLifetimeSeconds: Number(body.tokenLifetime) || 86_400 };
      applicationKeys.set(key.clientId, key);
      return { status: 200, body: { clientId: key.clientId, clientSecret: key.clientSecret, applicationName: body.applicationName ?? '' } };
    }
    const key = applicationKeys.get(String(body.clientId));
    if (!key || key.clientSecret !== body.clientSecret) return connectError(401, 'Invalid client credentials');
    const token = randomBytes(24).toString('base64url');
    const lifetime = key.tokenLifetimeSeconds ?? 86_400;
    tokens.set(token, Date.now() + lifetime * 1000);
    return { status: 200, body: { token, tokenType: 'Bearer', expiresIn: lifetime } };
  }
  /** Fixed 5-minute windows; every answer carries the account's limit, what is left and the seconds until the reset. */
  function connectAdmit(now: number): { headers: Record<string, string>; full: boolean } {
    if (now >= connectWindow.startedAt + windowMs) Object.assign(connectWindow, { startedAt: now, used: 0 });
    const full = connectWindow.used >= maxRequests;
    connectWindow.used++;
    const reset = Math.max(1, Math.ceil((connectWindow.startedAt + windowMs - now) / 1000));
    return { full, headers: { 'x-ratelimit-limit': String(maxRequests), 'x-ratelimit-remaining': String(Math.max(0, maxRequests - connectWindow.used)), 'x-ratelimit-reset': String(reset) } };
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
    requests.push({ method: res.req.method!, path: url.pathname, query: url.search.slice(1), status, at: arrived, login: isLogin, cookie: res.req.headers.cookie });
    if (isLogin) totals.logins++;
    else totals.other++;
    if (status === 429) totals.rejected429++;
  }

  async function handleConnect(req: IncomingMessage, res: ServerResponse, raw: string, arrived: number, path: string, url: URL) {
    const isLogin = req.method === 'POST' && (path === '/connect/v1/access-tokens' || path === '/connect/v1/application-keys');
    const { headers, full } = connectAdmit(arrived);
    const answer = (reply: Reply) => send(res, arrived, isLogin, { ...reply, headers: { ...headers, ...reply.headers } });
    if (latencyMs) await new Promise((r) => setTimeout(r, latencyMs));
    if (full) return answer(connectError(429, 'Too many requests'));
    const account = req.headers['x-sysaid-accountid'];
    if (!opts.connect || account !== opts.connect.accountId) return answer(connectError(401, 'Unknown or missing account (x-sysaid-accountid)'));
    if (isLogin) return answer(connectAuth(path, raw));
    const bearer = /^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1];
    const expiresAt = bearer ? tokens.get(bearer) : undefined;
    if (!expiresAt || expiresAt <= Date.now()) return answer(connectError(401, 'Unauthorized'));
    const fault = takeFault(path, url, false);
    if (fault) return fault.hang ? void hung.add(req.socket) : answer(connectError(fault.status ?? 500, 'Internal server error'));
    try {
      return answer(connectRoute(req.method!, path.slice('/connect/v1/'.length).split('/').map(decodeURIComponent), url.searchParams));
    } catch (err) {
      if (!(err instanceof HttpError)) throw err;
      return answer(connectError(err.status, err.message));
    }
  }

  function takeFault(path: string, url: URL, isLogin: boolean) {
    const offset = Number(url.searchParams.get('offset') ?? 0);
    // A fault without a path never hits the login (it is meant for the calls after it); target it by path.
    const fault = faults.find((f) => f.times > 0 && (f.path ? path.startsWith(f.path) : !isLogin) && (f.minOffset === undefined || offset >= f.minOffset));
    if (fault) fault.times--;
    return fault;
  }

  async function handle(req: IncomingMessage, res: ServerResponse, raw: string, arrived: number) {
    const url = new URL(req.url!, 'https://localhost');
    const path = url.pathname.replace(/\/+$/, '');
    if (path.startsWith('/connect/v1/')) return handleConnect(req, res, raw, arrived, path, url);
    const isLogin = req.method === 'POST' && path === '/api/v1/login';
    const answer = (reply: Reply, truncate = false) => send(res, arrived, isLogin, reply, truncate);

    // 1. Rate accounting (counts every request, including the ones rejected below).
    const retryAfter = isLogin ? admit(loginTimes, maxLogins, arrived) : admit(otherTimes, maxRequests, arrived);
    if (latencyMs) await new Promise((r) => setTimeout(r, latencyMs));
    if (retryAfter !== null) return answer(error(429, isLogin ? 'Too many login attempts' : 'Too many requests', { 'retry-after': String(retryAfter) }));
    // 2. Authentication (only the API lives here: anything else is not found, login included).
    if (!path.startsWith('/api/v1/')) return answer(error(404, 'Not found'));
    if (!isLogin && !sessionOk(req.headers.cookie)) return answer(error(401, 'Session expired'));
    // 3. Faults.
    const fault = takeFault(path, url, isLogin);
    if (fault) {
      if (fault.hang) {
        hung.add(req.socket); // answered never; destroyed at close()
        return;
      }
      if (!fault.truncate) return answer(error(fault.status ?? 500, fault.status === 429 ? 'Too many requests' : 'Internal server error', fault.status === 429 ? { 'retry-after': '1' } : undefined));
    }
    // 4. The route itself.
    let reply: Reply;
    try {
      reply = isLogin ? login(raw) : route(req.method!, path.slice('/api/v1/'.length).split('/').map(decodeURIComponent), url.searchParams);
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

  function store(sr: SysaidSr, updateTime: number) {
    const previous = srs.get(sr.id);
    srs.set(sr.id, { ...sr, updateTime, insertTime: previous?.insertTime ?? sr.insertTime ?? updateTime });
  }

  return {
    baseUrl: `https://localhost:${port}`,
    ca: tls.ca,
    setSr(sr) {
      const previous = srs.get(sr.id);
      store(sr, Math.max(sr.updateTime ?? 0, Date.now(), previous ? previous.updateTime + 1 : 0));
    },
    bulkSetSrs(list, at = Date.now()) {
      for (const sr of list) store(sr, at);
    },
    archiveSr(id) {
      const sr = srs.get(id);
      if (!sr) throw new Error(`no SR ${id}`);
      srs.set(id, { ...sr, archive: true, updateTime: Math.max(Date.now(), sr.updateTime + 1) });
    },
    deleteSr(id) {
      if (!srs.delete(id)) throw new Error(`no SR ${id}`);
    },
    setUser: (u) => void users.set(u.id, { ...u }),
    removeUser: (id) => void users.delete(id),
    expireSessions: () => {
      sessions.clear();
      tokens.clear();
    },
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
