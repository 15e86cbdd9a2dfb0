// A Microsoft Graph + Entra ID token emulator over HTTPS on 127.0.0.1, for the real msal-node and
// microsoft-graph-client SDKs. It keeps state per mailbox so tests can assert exactly what is there.
// Behaviour follows the documented API: client-credentials tokens with AADSTS errors, events CRUD with
// 7-digit fractional seconds and new changeKeys per write, transactionId de-duplication, single-value
// extended properties (stored, echoed only under $expand, filterable with Any()), all-day validation,
// page size 10 with absolute @odata.nextLink, the MailboxConcurrency 429 above 4 requests in flight per
// mailbox, and scriptable faults. Times are returned as stored (no Prefer: outlook.timezone conversion); each
// start and end is read in its Windows zone as Outlook reads it (test/fakes/zones.ts), an id Windows does not
// have is refused with TimeZoneNotSupportedException, and the instants are kept for tests to check.
import { randomBytes, randomUUID } from 'node:crypto';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { testTls } from './tls';
import { wallClockInstant, windowsZoneRules } from './zones';

export interface GraphApp {
  secret: string;
  /** The secret exists but has expired (AADSTS7000222). */
  expired?: boolean;
  /** Application roles granted by admin consent; without Calendars.ReadWrite Graph answers 403. */
  roles?: string[];
}

export interface GraphFault {
  status: number;
  code?: string;
  message?: string;
  retryAfter?: string;
  /** How many matching requests it applies to. */
  times: number;
  method?: string;
  /** Close the connection instead of answering. */
  drop?: boolean;
}

export interface StoredEvent {
  id: string;
  changeKey: string;
  calendarId: string;
  createdDateTime: string;
  lastModifiedDateTime: string;
  transactionId: string | null;
  props: Record<string, unknown>;
  extended: Record<string, string>;
  /** The instants Graph read from start and end in their zones (ISO-8601 UTC). */
  startUtc: string;
  endUtc: string;
}

const now7 = () => new Date().toISOString().replace(/\.(\d{3})Z$/, '.$10000Z');
const with7 = (dt: unknown) => (typeof dt === 'string' ? dt.replace(/(T\d{2}:\d{2}:\d{2})(\.\d+)?$/, (_m, hms, frac) => `${hms}${((frac ?? '.') + '0000000').slice(0, 8)}`) : dt);
const newId = () => `AAMkAG${randomBytes(24).toString('base64url')}`;
const newChangeKey = () => randomBytes(12).toString('base64');
const PAGE = 10;
const CONCURRENCY = 4;

export async function startGraphEmulator(opts: { tenants: Record<string, Record<string, GraphApp>>; mailboxes: string[]; calendars?: Record<string, string[]> }) {
  const tls = testTls();
  const tokens = new Map<string, { tenant: string; clientId: string; roles: string[] }>();
  const mailboxes = new Map<string, { events: Map<string, StoredEvent>; calendars: Array<{ id: string; name: string }> }>();
  for (const m of opts.mailboxes) {
    const extra = (opts.calendars?.[m] ?? []).map((name) => ({ id: `cal-${randomBytes(6).toString('hex')}`, name }));
    mailboxes.set(m.toLowerCase(), { events: new Map(), calendars: [{ id: `cal-default-${randomBytes(6).toString('hex')}`, name: 'Calendar' }, ...extra] });
  }
  const faults: GraphFault[] = [];
  const inFlight = new Map<string, number>();
  const peak = new Map<string, number>();
  const requests: Array<{ method: string; path: string; status: number; receivedAt: number; at: number }> = [];
  let latencyMs = 0;
  let invitationsSent = 0;
  let baseUrl = '';

  const received = new WeakMap<object, number>();
  const server = https.createServer({ key: tls.key, cert: tls.cert }, (req, res) => {
    received.set(res, Date.now());
    let raw = '';
    req.on('data', (d) => (raw += d));
    req.on('end', () => {
      void handle(req, res, raw).catch((err) => send(res, 500, { error: { code: 'InternalServerError', message: String(err) } }));
    });
  });

  function send(res: import('node:http').ServerResponse, status: number, body?: unknown, headers: Record<string, string> = {}) {
    res.writeHead(status, { ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...headers });
    res.end(body === undefined ? undefined : JSON.stringify(body));
    requests.push({ method: res.req.method!, path: res.req.url!, status, receivedAt: received.get(res) ?? Date.now(), at: Date.now() });
  }
  const graphError = (res: import('node:http').ServerResponse, status: number, code: string, message: string, headers: Record<string, string> = {}) =>
    send(res, status, { error: { code, message, innerError: { 'request-id': randomUUID(), date: new Date().toISOString().slice(0, 19), 'client-request-id': randomUUID() } } }, headers);

  async function handle(req: import('node:http').IncomingMessage, res: import('node:http').ServerResponse, raw: string) {
    const url = new URL(req.url!, baseUrl);
    const parts = url.pathname.split('/').filter(Boolean).map(decodeURIComponent);
    // Entra ID: tenant discovery and the token endpoint.
    if (parts[1] === 'v2.0' && parts[2] === '.well-known') {
      const tenant = parts[0]!;
      if (!opts.tenants[tenant]) return send(res, 400, { error: 'invalid_tenant', error_description: `AADSTS90002: Tenant '${tenant}' not found.` });
      return send(res, 200, {
        token_endpoint: `${baseUrl}/${tenant}/oauth2/v2.0/token`,
        authorization_endpoint: `${baseUrl}/${tenant}/oauth2/v2.0/authorize`,
        issuer: `${baseUrl}/${tenant}/v2.0`,
        jwks_uri: `${baseUrl}/${tenant}/discovery/v2.0/keys`,
        response_types_supported: ['code', 'id_token', 'code id_token', 'id_token token'],
        subject_types_supported: ['pairwise'],
        id_token_signing_alg_values_supported: ['RS256'],
        scopes_supported: ['openid', 'profile', 'email', 'offline_access'],
        token_endpoint_auth_methods_supported: ['client_secret_post', 'private_key_jwt', 'client_secret_basic'],
      });
    }
    if (parts[1] === 'oauth2' && parts[3] === 'token' && req.method === 'POST') return token(res, parts[0]!, new URLSearchParams(raw));
    if (parts[0] !== 'v1.0' || parts[1] !== 'users' || !parts[2]) return graphError(res, 400, 'BadRequest', `Resource not found for the segment '${parts[0] ?? ''}'.`);

    const auth = /^Bearer (.+)$/.exec(req.headers.authorization ?? '');
    const grant = auth ? tokens.get(auth[1]!) : undefined;
    if (!grant) return graphError(res, 401, 'InvalidAuthenticationToken', auth ? 'Access token validation failure. Invalid audience.' : 'Access token is empty.');
    const user = parts[2].toLowerCase();
    const mailbox = mailboxes.get(user);

    const fault = faults.find((f) => f.times > 0 && (!f.method || f.method === req.method));
    if (fault) {
      fault.times--;
      if (fault.drop) return req.socket.destroy();
      return graphError(res, fault.status, fault.code ?? 'TooManyRequests', fault.message ?? 'Too many requests.', fault.retryAfter ? { 'Retry-After': fault.retryAfter } : {});
    }
    const current = (inFlight.get(user) ?? 0) + 1;
    if (current > CONCURRENCY) {
      return graphError(res, 429, 'ApplicationThrottled', 'Application is over its MailboxConcurrency limit.', { 'Retry-After': '1' });
    }
    inFlight.set(user, current);
    peak.set(user, Math.max(peak.get(user) ?? 0, current));
    try {
      if (latencyMs) await new Promise((r) => setTimeout(r, latencyMs));
      if (!grant.roles.includes('Calendars.ReadWrite')) return graphError(res, 403, 'ErrorAccessDenied', 'Access is denied. Check credentials and try again.');
      if (parts.length === 3 && req.method === 'GET') {
        if (!mailbox) return graphError(res, 404, 'Request_ResourceNotFound', `Resource '${parts[2]}' does not exist or one of its queried reference-property objects are not present.`);
        return send(res, 200, { id: randomUUID(), mail: user, userPrincipalName: user, displayName: user.split('@')[0] });
      }
      if (!mailbox) return graphError(res, 404, 'ErrorInvalidUser', `The requested user '${parts[2]}' is invalid.`);
      return await calendarRoute(req, res, url, parts.slice(3), mailbox, raw);
    } finally {
      inFlight.set(user, (inFlight.get(user) ?? 1) - 1);
    }
  }

  function token(res: import('node:http').ServerResponse, tenant: string, form: URLSearchParams) {
    const trace = { trace_id: randomUUID(), correlation_id: randomUUID(), timestamp: new Date().toISOString().replace('T', ' ').slice(0, 19) + 'Z' };
    const apps = opts.tenants[tenant];
    if (!apps) return send(res, 400, { error: 'invalid_request', error_description: `AADSTS90002: Tenant '${tenant}' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud.`, error_codes: [90002], ...trace });
    const clientId = form.get('client_id') ?? '';
    const app = apps[clientId];
    if (form.get('grant_type') !== 'client_credentials') return send(res, 400, { error: 'unsupported_grant_type', error_description: 'AADSTS70003: The app requested an unsupported grant type.', error_codes: [70003], ...trace });
    if (!app) return send(res, 400, { error: 'unauthorized_client', error_description: `AADSTS700016: Application with identifier '${clientId}' was not found in the directory '${tenant}'.`, error_codes: [700016], ...trace });
    if (form.get('client_secret') !== app.secret) return send(res, 401, { error: 'invalid_client', error_description: `AADSTS7000215: Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '${clientId}'.`, error_codes: [7000215], ...trace });
    if (app.expired) return send(res, 401, { error: 'invalid_client', error_description: `AADSTS7000222: The provided client secret keys for app '${clientId}' are expired.`, error_codes: [7000222], ...trace });
    const accessToken = `eyJ0eXAiOiJKV1QifQ.${randomBytes(24).toString('base64url')}.${randomBytes(16).toString('base64url')}`;
    tokens.set(accessToken, { tenant, clientId, roles: app.roles ?? ['Calendars.ReadWrite'] });
    return send(res, 200, { token_type: 'Bearer', expires_in: 3599, ext_expires_in: 3599, access_token: accessToken });
  }

  const eventJson = (e: StoredEvent, expandId: string | null) => ({
    '@odata.etag': `W/"${e.changeKey}"`,
    id: e.id,
    createdDateTime: e.createdDateTime,
    lastModifiedDateTime: e.lastModifiedDateTime,
    changeKey: e.changeKey,
    categories: [],
    showAs: 'busy',
    isReminderOn: true,
    reminderMinutesBeforeStart: 15,
    sensitivity: 'normal',
    isAllDay: false,
    type: 'singleInstance',
    iCalUId: `040000008200E00074C5B7101A82E008${e.id.slice(-16)}`,
    webLink: `https://outlook.office365.com/owa/?itemid=${encodeURIComponent(e.id)}`,
    attendees: [],
    ...e.props,
    start: { ...(e.props.start as object), dateTime: with7((e.props.start as { dateTime?: string })?.dateTime) },
    end: { ...(e.props.end as object), dateTime: with7((e.props.end as { dateTime?: string })?.dateTime) },
    ...(e.transactionId ? { transactionId: e.transactionId } : {}),
    ...(expandId && e.extended[expandId] !== undefined ? { singleValueExtendedProperties: [{ id: expandId, value: e.extended[expandId] }] } : {}),
  });

  /** Validates what Graph validates for the times we write; the instants they name, or Graph's error. */
  function readTimes(props: Record<string, unknown>): { startUtc: string; endUtc: string } | { code: string; message: string } {
    const start = props.start as { dateTime?: string; timeZone?: string } | undefined;
    const end = props.end as { dateTime?: string; timeZone?: string } | undefined;
    if (!start?.dateTime || !end?.dateTime || !start.timeZone || !end.timeZone) return { code: 'ErrorInvalidRequest', message: 'Start and End must both be set with a dateTime and a timeZone.' };
    const local = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,7})?$/;
    if (!local.test(start.dateTime) || !local.test(end.dateTime)) return { code: 'ErrorInvalidRequest', message: 'Cannot convert the literal to the expected type Edm.DateTimeOffset.' };
    for (const zone of [start.timeZone, end.timeZone]) {
      if (!windowsZoneRules(zone)) return { code: 'TimeZoneNotSupportedException', message: `A valid TimeZone value must be specified. The following TimeZone value is not supported: '${zone}'.` };
    }
    const s = wallClockInstant(start.dateTime.slice(0, 23), windowsZoneRules(start.timeZone)!);
    const e = wallClockInstant(end.dateTime.slice(0, 23), windowsZoneRules(end.timeZone)!);
    if (props.isAllDay) {
      if (!/T00:00:00(\.0+)?$/.test(start.dateTime) || !/T00:00:00(\.0+)?$/.test(end.dateTime)) return { code: 'ErrorInvalidRequest', message: 'The start and end of an event marked as All day must be set to midnight.' };
      if (Date.parse(`${end.dateTime.slice(0, 10)}Z`) - Date.parse(`${start.dateTime.slice(0, 10)}Z`) < 86_400_000) return { code: 'ErrorInvalidRequest', message: 'The duration of an event marked as All day must be at least 24 hours.' };
    }
    if (e < s) return { code: 'ErrorCalendarEndDateIsEarlierThanStartDate', message: 'The end date you entered occurs before the start date.' };
    return { startUtc: new Date(s).toISOString(), endUtc: new Date(e).toISOString() };
  }

  async function calendarRoute(req: import('node:http').IncomingMessage, res: import('node:http').ServerResponse, url: URL, rest: string[], mb: { events: Map<string, StoredEvent>; calendars: Array<{ id: string; name: string }> }, raw: string) {
    const body = raw ? (JSON.parse(raw) as Record<string, unknown>) : {};
    const expand = /singleValueExtendedProperties\(\$filter=id eq '([^']+)'\)/.exec(url.searchParams.get('$expand') ?? '');
    const expandId = expand ? expand[1]! : null;
    // /calendars?$filter=name eq 'X'
    if (rest[0] === 'calendars' && rest.length === 1 && req.method === 'GET') {
      const byName = /name eq '((?:[^']|'')*)'/.exec(url.searchParams.get('$filter') ?? '');
      const list = byName ? mb.calendars.filter((c) => c.name === byName[1]!.replace(/''/g, "'")) : mb.calendars;
      return send(res, 200, { value: list.map((c) => ({ id: c.id, name: c.name, canEdit: true })) });
    }
    let calendarId: string | null = null;
    let tail = rest;
    if (rest[0] === 'calendar') {
      calendarId = mb.calendars[0]!.id;
      tail = rest.slice(1);
    } else if (rest[0] === 'calendars' && rest[1]) {
      const cal = mb.calendars.find((c) => c.id === rest[1]);
      if (!cal) return graphError(res, 404, 'ErrorItemNotFound', 'The specified object was not found in the store.');
      calendarId = cal.id;
      tail = rest.slice(2);
    }
    if (tail[0] !== 'events') return graphError(res, 400, 'BadRequest', `Resource not found for the segment '${tail[0] ?? ''}'.`);
    const id = tail[1];
    if (!id && req.method === 'POST') {
      if (Array.isArray(body.attendees) && body.attendees.length) invitationsSent += body.attendees.length;
      const txn = typeof body.transactionId === 'string' ? body.transactionId : null;
      const existing = txn ? [...mb.events.values()].find((e) => e.transactionId === txn) : undefined;
      if (existing) return send(res, 201, eventJson(existing, null));
      const times = readTimes(body);
      if ('code' in times) return graphError(res, 400, times.code, times.message);
      const { singleValueExtendedProperties, transactionId: _t, ...props } = body as { singleValueExtendedProperties?: Array<{ id: string; value: string }> } & Record<string, unknown>;
      const event: StoredEvent = {
        id: newId(),
        changeKey: newChangeKey(),
        calendarId: calendarId ?? mb.calendars[0]!.id,
        createdDateTime: now7(),
        lastModifiedDateTime: now7(),
        transactionId: txn,
        props,
        extended: Object.fromEntries((singleValueExtendedProperties ?? []).map((p) => [p.id, p.value])),
        ...times,
      };
      mb.events.set(event.id, event);
      return send(res, 201, eventJson(event, null));
    }
    if (!id && req.method === 'GET') {
      const filter = url.searchParams.get('$filter') ?? '';
      const any = /singleValueExtendedProperties\/Any\(ep: ep\/id eq '([^']+)'(?: and ep\/value eq '((?:[^']|'')*)')?\)/.exec(filter);
      let list = [...mb.events.values()].filter((e) => !calendarId || e.calendarId === calendarId);
      if (filter && !any) return graphError(res, 400, 'ErrorInvalidUrlQueryFilter', 'The query filter contains one or more invalid nodes.');
      if (any) {
        const [, propId, value] = any;
        list = list.filter((e) => e.extended[propId!] !== undefined && (value === undefined || e.extended[propId!]!.toLowerCase() === value.replace(/''/g, "'").toLowerCase()));
      }
      const top = Math.min(Number(url.searchParams.get('$top') ?? PAGE), 1000);
      const skip = Number(url.searchParams.get('$skip') ?? 0);
      const page = list.slice(skip, skip + top);
      const next = new URL(url.toString());
      next.searchParams.set('$skip', String(skip + top));
      return send(res, 200, { '@odata.context': `${baseUrl}/v1.0/$metadata#users('${rest.join('/')}')/events`, value: page.map((e) => eventJson(e, expandId)), ...(skip + top < list.length ? { '@odata.nextLink': next.toString() } : {}) });
    }
    const event = id ? mb.events.get(id) : undefined;
    if (!event) return graphError(res, 404, 'ErrorItemNotFound', 'The specified object was not found in the store.');
    if (req.method === 'GET') return send(res, 200, eventJson(event, expandId));
    if (req.method === 'DELETE') {
      mb.events.delete(event.id);
      return send(res, 204);
    }
    if (req.method === 'PATCH') {
      if (Array.isArray(body.attendees) && body.attendees.length) invitationsSent += body.attendees.length;
      const { singleValueExtendedProperties, ...props } = body as { singleValueExtendedProperties?: Array<{ id: string; value: string }> } & Record<string, unknown>;
      const merged = { ...event.props, ...props };
      const times = readTimes(merged);
      if ('code' in times) return graphError(res, 400, times.code, times.message);
      event.props = merged;
      Object.assign(event, times);
      for (const p of singleValueExtendedProperties ?? []) event.extended[p.id] = p.value;
      event.changeKey = newChangeKey();
      event.lastModifiedDateTime = now7();
      return send(res, 200, eventJson(event, null));
    }
    return graphError(res, 405, 'MethodNotAllowed', 'The method is not allowed.');
  }

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  baseUrl = `https://localhost:${port}`;
  const box = (m: string) => {
    const b = mailboxes.get(m.toLowerCase());
    if (!b) throw new Error(`no mailbox ${m}`);
    return b;
  };

  return {
    baseUrl,
    ca: tls.ca,
    /** Every event in a mailbox, oldest first, as stored. */
    events: (mailbox: string) => [...box(mailbox).events.values()],
    calendars: (mailbox: string) => box(mailbox).calendars,
    /** Someone deletes or edits an event in Outlook. */
    deleteEvent: (mailbox: string, id: string) => box(mailbox).events.delete(id),
    editEvent(mailbox: string, id: string, props: Record<string, unknown>) {
      const e = box(mailbox).events.get(id)!;
      const times = readTimes({ ...e.props, ...props });
      if ('code' in times) throw new Error(times.message);
      Object.assign(e, times, { props: { ...e.props, ...props }, changeKey: newChangeKey() });
    },
    addFault: (fault: GraphFault) => faults.push(fault),
    clearFaults: () => (faults.length = 0),
    setLatency: (ms: number) => (latencyMs = ms),
    setApp: (tenant: string, clientId: string, app: GraphApp) => (opts.tenants[tenant]![clientId] = app),
    peakConcurrency: (mailbox: string) => peak.get(mailbox.toLowerCase()) ?? 0,
    requests,
    invitationsSent: () => invitationsSent,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

export type GraphEmulator = Awaited<ReturnType<typeof startGraphEmulator>>;
