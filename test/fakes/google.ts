// A Google Calendar API v3 + OAuth 2.0 token endpoint emulator over HTTPS on 127.0.0.1, for the real
// googleapis SDK (service account + domain-wide delegation). It keeps state per Workspace user and calendar so
// tests can assert exactly what is there. Behaviour follows the documented API: RS256 JWT-bearer grants with
// Google's OAuth error bodies, client-supplied base32hex ids that stay reserved after delete (409 duplicate),
// deletes as status 'cancelled' (second delete 410), quoted etags per write with If-Match (412) and
// If-None-Match (304), start/end validation, list filters (AND-ed extended properties, timeMin on end,
// timeMax on start, showDeleted, updatedMin) with opaque page tokens, a per-user sliding-minute rate limit
// (403 usageLimits rateLimitExceeded), and scriptable faults. Errors always use the
// {"error":{"errors":[{domain,reason,message}],code,message}} shape.
import { generateKeyPairSync, randomBytes, verify } from 'node:crypto';
import https from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { testTls } from './tls';
import { wallClockInstant } from './zones';

export interface ServiceAccount {
  clientEmail: string;
  clientId: string;
  privateKeyId: string;
  privateKey: string;
  publicKey: string;
  /** The whole JSON key file as Google Cloud console downloads it. */
  keyFile: string;
}

/** A new RSA-2048 service account (crypto.generateKeyPairSync). */
export function makeServiceAccount(name = 'calendar-sync', project = 'proj-test'): ServiceAccount {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', {
    modulusLength: 2048,
    publicKeyEncoding: { type: 'spki', format: 'pem' },
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
  });
  const clientEmail = `${name}@${project}.iam.gserviceaccount.com`;
  // Google's numeric OAuth client ids are 21 digits and start with 1.
  const clientId = `1${Array.from(randomBytes(20), (b) => String(b % 10)).join('')}`;
  const privateKeyId = randomBytes(20).toString('hex');
  const keyFile = JSON.stringify(
    {
      type: 'service_account',
      project_id: project,
      private_key_id: privateKeyId,
      private_key: privateKey,
      client_email: clientEmail,
      client_id: clientId,
      auth_uri: 'https://accounts.google.com/o/oauth2/auth',
      token_uri: 'https://oauth2.googleapis.com/token',
      auth_provider_x509_cert_url: 'https://www.googleapis.com/oauth2/v1/certs',
      client_x509_cert_url: `https://www.googleapis.com/robot/v1/metadata/x509/${encodeURIComponent(clientEmail)}`,
      universe_domain: 'googleapis.com',
    },
    null,
    2,
  );
  return { clientEmail, clientId, privateKeyId, privateKey, publicKey, keyFile };
}

export interface GoogleFault {
  status: number;
  reason?: string;
  message?: string;
  /** How many matching requests it applies to (decremented). */
  times: number;
  method?: string;
  /** Destroy the socket instead of answering. */
  drop?: boolean;
  retryAfter?: string;
}

export interface StoredGoogleEvent {
  id: string;
  etag: string;
  status: 'confirmed' | 'cancelled';
  created: string;
  updated: string;
  sequence: number;
  /** Everything the client sent (summary, description, start, end, transparency, visibility, reminders, extendedProperties, ...). */
  props: Record<string, unknown>;
}

export interface GoogleRequest {
  method: string;
  path: string;
  status: number;
  user: string | null;
  receivedAt: number;
  at: number;
  reason?: string;
}

export interface GoogleEmulator {
  /** 'https://localhost:PORT/' (trailing slash; used as googleapis rootUrl). */
  baseUrl: string;
  tokenUrl: string;
  ca: string;
  /** Live (non-cancelled) events of a user's calendar (default 'primary'), in insertion order. */
  events(user: string, calendarId?: string): StoredGoogleEvent[];
  /** All events including cancelled ones. */
  allEvents(user: string, calendarId?: string): StoredGoogleEvent[];
  /** Someone deletes / edits an event in the Google Calendar UI. */
  deleteEvent(user: string, id: string, calendarId?: string): void;
  editEvent(user: string, id: string, props: Record<string, unknown>, calendarId?: string): void;
  addFault(f: GoogleFault): void;
  clearFaults(): void;
  setLatency(ms: number): void;
  /** null removes the client id's delegation. */
  setDelegation(clientId: string, scopes: string[] | null): void;
  /** Deleted key: token requests signed with it get invalid_grant. */
  revokeKey(privateKeyId: string): void;
  requests: GoogleRequest[];
  peakConcurrency(user: string): number;
  /** Attendees sent with sendUpdates != 'none' (should stay 0). */
  invitationsSent(): number;
  close(): Promise<void>;
}

/** The token URL google-auth-library hard-codes, and so the `aud` of every assertion it signs. */
const GOOGLE_TOKEN_URL = 'https://oauth2.googleapis.com/token';
const JWT_BEARER = 'urn:ietf:params:oauth:grant-type:jwt-bearer';
const CAL_SCOPE = 'https://www.googleapis.com/auth/calendar';
const USAGE_LIMITS = new Set(['rateLimitExceeded', 'userRateLimitExceeded', 'quotaExceeded', 'dailyLimitExceeded']);
const DEFAULT_MESSAGE: Record<string, string> = {
  rateLimitExceeded: 'Rate Limit Exceeded',
  userRateLimitExceeded: 'User Rate Limit Exceeded',
  quotaExceeded: 'Calendar usage limits exceeded.',
  dailyLimitExceeded: 'Daily Limit Exceeded',
  backendError: 'Backend Error',
  authError: 'Invalid Credentials',
  notFound: 'Not Found',
  deleted: 'Resource has been deleted',
  forbidden: 'Forbidden',
};
const DEFAULT_REASON: Record<number, string> = { 401: 'authError', 403: 'rateLimitExceeded', 404: 'notFound', 410: 'deleted', 429: 'rateLimitExceeded' };
/** Server-managed fields: ignored when a client sends them. */
const READ_ONLY = ['kind', 'etag', 'id', 'status', 'htmlLink', 'created', 'updated', 'creator', 'organizer', 'iCalUID', 'sequence'];
const ID_RE = /^[a-v0-9]{5,1024}$/;
const BASE32HEX = '0123456789abcdefghijklmnopqrstuv';
const DATE_RE = /^(\d{4})-(\d{2})-(\d{2})$/;
const DATE_TIME_RE = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(\.\d+)?(Z|[+-]\d{2}:\d{2})?$/i;
const RATE_WINDOW_MS = 60_000;

interface ApiError {
  status: number;
  reason: string;
  message: string;
  domain?: string;
  locationType?: string;
  location?: string;
}
const apiErr = (status: number, reason: string, message: string, extra: Partial<ApiError> = {}): ApiError => ({ status, reason, message, ...extra });

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const newEventId = () => Array.from(randomBytes(26), (b) => BASE32HEX[b & 31]).join('');

// ---- time handling -------------------------------------------------------------------------------------

/**
 * The zone names Google's calendar knows. Google keeps each zone under its long-standing name and learns new
 * spellings late: after tz 2022b renamed Europe/Kiev to Europe/Kyiv, Google answered "Invalid time zone
 * definition" to Europe/Kyiv for months. The emulator knows the runtime's canonical names only (CLDR keeps the
 * oldest spelling of each zone), UTC and the fixed-offset Etc/GMT±N zones, so a client that passes other spellings
 * through fails here first.
 */
const GOOGLE_ZONES = new Set([...Intl.supportedValuesOf('timeZone'), 'UTC', ...Array.from({ length: 27 }, (_, i) => (i === 14 ? 'Etc/GMT' : `Etc/GMT${i < 14 ? '-' : '+'}${Math.abs(i - 14)}`))]);
const validZone = (tz: unknown): tz is string => typeof tz === 'string' && GOOGLE_ZONES.has(tz);

/** UTC midnight of a real calendar date, or null. */
function dateInstant(s: string): number | null {
  const m = DATE_RE.exec(s);
  if (!m) return null;
  const t = Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]));
  return new Date(t).toISOString().slice(0, 10) === s ? t : null;
}

/** Instant of an RFC 3339 date-time; one without an offset is wall time in `tz`. Null if invalid or if it needs a zone. */
function dateTimeInstant(s: string, tz?: string): number | null {
  const m = DATE_TIME_RE.exec(s);
  if (!m) return null;
  const [y, mo, d, h, mi, sec] = m.slice(1, 7).map(Number) as [number, number, number, number, number, number];
  const wall = Date.UTC(y, mo - 1, d, h, mi, sec, m[7] ? Math.floor(Number(m[7]) * 1000) : 0);
  const back = new Date(wall);
  if (back.getUTCFullYear() !== y || back.getUTCMonth() !== mo - 1 || back.getUTCDate() !== d || back.getUTCHours() !== h || back.getUTCMinutes() !== mi) return null;
  if (m[8]) {
    if (m[8].toUpperCase() === 'Z') return wall;
    const sign = m[8][0] === '-' ? -1 : 1;
    return wall - sign * (Number(m[8].slice(1, 3)) * 60 + Number(m[8].slice(4, 6))) * 60_000;
  }
  return tz ? wallClockInstant(s, tz) : null;
}

interface Bound {
  allDay: boolean;
  at: number;
}

/** Reads and validates an event's start or end. */
function readBound(v: unknown, which: 'start' | 'end'): Bound | ApiError {
  if (!isObj(v)) return apiErr(400, 'required', `Missing ${which} time.`);
  const hasDate = v.date !== undefined && v.date !== null;
  const hasDateTime = v.dateTime !== undefined && v.dateTime !== null;
  if (!hasDate && !hasDateTime) return apiErr(400, 'required', `Missing ${which} time.`);
  if (hasDate && hasDateTime) return apiErr(400, 'invalid', `Invalid ${which} time.`);
  if (v.timeZone !== undefined && v.timeZone !== null && !validZone(v.timeZone)) return apiErr(400, 'invalid', `Invalid time zone definition for ${which} time.`);
  if (hasDate) {
    const at = typeof v.date === 'string' ? dateInstant(v.date) : null;
    return at === null ? apiErr(400, 'invalid', `Invalid ${which} time.`) : { allDay: true, at };
  }
  if (typeof v.dateTime !== 'string' || !DATE_TIME_RE.test(v.dateTime)) return apiErr(400, 'invalid', `Invalid ${which} time.`);
  const at = dateTimeInstant(v.dateTime, (v.timeZone as string | undefined) ?? undefined);
  if (at === null) {
    const local = !DATE_TIME_RE.exec(v.dateTime)![8];
    return local && !v.timeZone ? apiErr(400, 'required', `Missing time zone definition for ${which} time.`) : apiErr(400, 'invalid', `Invalid ${which} time.`);
  }
  return { allDay: false, at };
}

const isError = (v: unknown): v is ApiError => isObj(v) && typeof v.reason === 'string';

/** What Google validates on insert/update/patch for the fields calendar-sync writes; the parsed bounds or an error. */
function validateEvent(p: Obj): { start: Bound; end: Bound } | ApiError {
  const start = readBound(p.start, 'start');
  if (isError(start)) return start;
  const end = readBound(p.end, 'end');
  if (isError(end)) return end;
  if (start.allDay !== end.allDay) return apiErr(400, 'invalid', 'Start and end times must either both be date or both be dateTime.');
  if (end.at < start.at || (start.allDay && end.at <= start.at)) return apiErr(400, 'timeRangeEmpty', 'The specified time range is empty.');
  for (const [field, allowed] of [['transparency', ['opaque', 'transparent']], ['visibility', ['default', 'public', 'private', 'confidential']]] as const) {
    if (p[field] !== undefined && p[field] !== null && !(allowed as readonly unknown[]).includes(p[field])) return apiErr(400, 'invalid', `Invalid value for: ${field}`);
  }
  if (isObj(p.reminders)) {
    const overrides = Array.isArray(p.reminders.overrides) ? p.reminders.overrides : [];
    if (p.reminders.useDefault === true && overrides.length) return apiErr(400, 'cannotUseDefaultRemindersAndSpecifyOverride', 'Cannot specify both default reminders and overrides at the same time.');
    if (overrides.length > 5) return apiErr(400, 'invalid', 'The maximum number of override reminders is 5.');
    for (const o of overrides) {
      if (!isObj(o) || !['email', 'popup'].includes(o.method as string) || typeof o.minutes !== 'number' || o.minutes < 0 || o.minutes > 40320) return apiErr(400, 'invalid', 'Invalid reminder override.');
    }
  }
  return { start, end };
}

/** Patch semantics: top-level fields replace (null clears), extendedProperties.private/shared merge key-wise. */
function mergePatch(base: Obj, patch: Obj): Obj {
  const out: Obj = { ...base };
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) {
      delete out[k];
    } else if (k === 'extendedProperties' && isObj(v)) {
      const prev = isObj(base.extendedProperties) ? base.extendedProperties : {};
      const ep: Obj = { ...prev };
      for (const scope of ['private', 'shared']) {
        if (v[scope] === null) delete ep[scope];
        else if (isObj(v[scope])) {
          const merged: Obj = { ...(isObj(prev[scope]) ? prev[scope] : {}) };
          for (const [pk, pv] of Object.entries(v[scope] as Obj)) {
            if (pv === null) delete merged[pk];
            else merged[pk] = pv;
          }
          ep[scope] = merged;
        }
      }
      out[k] = ep;
    } else {
      out[k] = v;
    }
  }
  return out;
}

const writable = (body: Obj): Obj => Object.fromEntries(Object.entries(body).filter(([k]) => !READ_ONLY.includes(k)));
const timesDiffer = (a: Obj, b: Obj) => JSON.stringify(a.start) !== JSON.stringify(b.start) || JSON.stringify(a.end) !== JSON.stringify(b.end);

// ---- the server ------------------------------------------------------------------------------------------

interface Ctx {
  req: IncomingMessage;
  res: ServerResponse;
  receivedAt: number;
  user: string | null;
}

interface Calendar {
  /** 'primary' or the extra calendar's id. */
  id: string;
  /** What Google shows as the calendar's address (the user for primary). */
  email: string;
  events: Map<string, StoredGoogleEvent>;
}

export async function startGoogleEmulator(opts: {
  accounts: ServiceAccount[];
  /** Domain-wide delegation: client id -> scopes granted in the Admin console. */
  delegation: Record<string, string[]>;
  users: string[];
  calendars?: Record<string, string[]>;
  /** Per-user requests per minute before 403 rateLimitExceeded; default 600. */
  userRatePerMinute?: number;
}): Promise<GoogleEmulator> {
  const tls = testTls();
  const accounts = new Map(opts.accounts.map((a) => [a.clientEmail, a]));
  const delegation = new Map(Object.entries(opts.delegation));
  const revokedKeys = new Set<string>();
  const ratePerMinute = opts.userRatePerMinute ?? 600;
  const extraCalendars = new Map(Object.entries(opts.calendars ?? {}).map(([u, ids]) => [u.toLowerCase(), ids]));
  const store = new Map<string, Map<string, Calendar>>();
  for (const raw of opts.users) {
    const user = raw.toLowerCase();
    const cals = new Map<string, Calendar>([['primary', { id: 'primary', email: user, events: new Map() }]]);
    for (const id of extraCalendars.get(user) ?? []) cals.set(id, { id, email: id, events: new Map() });
    store.set(user, cals);
  }
  const tokens = new Map<string, { user: string; scopes: string[]; expiresAt: number }>();
  const pageTokens = new Map<string, { offset: number; query: string }>();
  const admitted = new Map<string, number[]>();
  const inFlight = new Map<string, number>();
  const peak = new Map<string, number>();
  const faults: GoogleFault[] = [];
  const requests: GoogleRequest[] = [];
  let latencyMs = 0;
  let invitations = 0;
  let etagSeq = 0;
  let baseUrl = '';

  /** Google etags are quoted decimal strings that change on every write. */
  const nextEtag = () => {
    etagSeq = Math.max(etagSeq + 1, Date.now() * 1000);
    return `"${etagSeq}"`;
  };

  const server = https.createServer({ key: tls.key, cert: tls.cert }, (req, res) => {
    const ctx: Ctx = { req, res, receivedAt: Date.now(), user: null };
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      void route(ctx, Buffer.concat(chunks).toString('utf8')).catch((err) => {
        if (!res.headersSent) fail(ctx, apiErr(500, 'backendError', `Emulator error: ${String(err)}`));
      });
    });
  });

  function send(ctx: Ctx, status: number, body?: unknown, headers: Record<string, string> = {}, reason?: string) {
    ctx.res.writeHead(status, { ...(body === undefined ? {} : { 'content-type': 'application/json; charset=UTF-8' }), ...headers });
    ctx.res.end(body === undefined ? undefined : JSON.stringify(body));
    requests.push({ method: ctx.req.method!, path: ctx.req.url!, status, user: ctx.user, receivedAt: ctx.receivedAt, at: Date.now(), ...(reason ? { reason } : {}) });
  }

  function fail(ctx: Ctx, e: ApiError, headers: Record<string, string> = {}) {
    const item = { domain: e.domain ?? (USAGE_LIMITS.has(e.reason) ? 'usageLimits' : 'global'), reason: e.reason, message: e.message, ...(e.location ? { locationType: e.locationType, location: e.location } : {}) };
    send(ctx, e.status, { error: { errors: [item], code: e.status, message: e.message } }, headers, e.reason);
  }

  async function route(ctx: Ctx, raw: string) {
    const { req } = ctx;
    const url = new URL(req.url!, baseUrl);
    if (url.pathname === '/token' && req.method === 'POST') return token(ctx, new URLSearchParams(raw));
    const m = /^\/calendar\/v3\/calendars\/([^/]+)\/events(?:\/([^/]+))?\/?$/.exec(url.pathname);
    if (!m) return fail(ctx, apiErr(404, 'notFound', 'Not Found'));

    const bearer = /^Bearer (.+)$/.exec(req.headers.authorization ?? '');
    const grant = bearer ? tokens.get(bearer[1]!) : undefined;
    if (!grant || grant.expiresAt <= Date.now()) {
      return fail(ctx, apiErr(401, 'authError', 'Invalid Credentials', { locationType: 'header', location: 'Authorization' }), { 'www-authenticate': 'Bearer realm="https://accounts.google.com/", error="invalid_token"' });
    }
    const user = grant.user;
    ctx.user = user;
    const current = (inFlight.get(user) ?? 0) + 1;
    inFlight.set(user, current);
    peak.set(user, Math.max(peak.get(user) ?? 0, current));
    try {
      if (latencyMs) await new Promise((r) => setTimeout(r, latencyMs));
      // Scripted faults apply to calendar requests only, before the rate limit.
      const fault = faults.find((f) => f.times > 0 && (!f.method || f.method.toUpperCase() === req.method));
      if (fault) {
        fault.times--;
        if (fault.drop) {
          requests.push({ method: req.method!, path: req.url!, status: 0, user, receivedAt: ctx.receivedAt, at: Date.now(), reason: 'dropped' });
          req.socket.destroy();
          return;
        }
        const reason = fault.reason ?? DEFAULT_REASON[fault.status] ?? 'backendError';
        return fail(ctx, apiErr(fault.status, reason, fault.message ?? DEFAULT_MESSAGE[reason] ?? 'Backend Error'), fault.retryAfter ? { 'retry-after': fault.retryAfter } : {});
      }
      // Sliding minute per user; only admitted requests count, so capacity returns 60 s after them.
      const now = Date.now();
      const window = (admitted.get(user) ?? []).filter((t) => t > now - RATE_WINDOW_MS);
      admitted.set(user, window);
      if (window.length >= ratePerMinute) return fail(ctx, apiErr(403, 'rateLimitExceeded', 'Rate Limit Exceeded'));
      window.push(now);

      const write = req.method !== 'GET';
      const scopeOk = grant.scopes.some((s) => s === CAL_SCOPE || s === `${CAL_SCOPE}.events` || (!write && (s === `${CAL_SCOPE}.readonly` || s === `${CAL_SCOPE}.events.readonly`)));
      if (!scopeOk) return fail(ctx, apiErr(403, 'insufficientPermissions', 'Request had insufficient authentication scopes.'));

      const calendarId = decodeURIComponent(m[1]!);
      const cals = store.get(user)!;
      // 'primary' and the user's own address are the same calendar; anything not the user's is invisible.
      const cal = calendarId === 'primary' || calendarId.toLowerCase() === user ? cals.get('primary')! : cals.get(calendarId);
      if (!cal) return fail(ctx, apiErr(404, 'notFound', 'Not Found'));
      const eventId = m[2] === undefined ? undefined : decodeURIComponent(m[2]);
      return await calendarRoute(ctx, url, cal, user, eventId, raw);
    } finally {
      inFlight.set(user, (inFlight.get(user) ?? 1) - 1);
    }
  }

  function token(ctx: Ctx, form: URLSearchParams) {
    const oauthError = (status: number, error: string, description: string) => send(ctx, status, { error, error_description: description }, {}, error);
    const grantType = form.get('grant_type');
    if (grantType !== JWT_BEARER) return oauthError(400, 'unsupported_grant_type', `Invalid grant_type: ${grantType ?? ''}`);
    const assertion = form.get('assertion');
    if (!assertion) return oauthError(400, 'invalid_request', 'Missing required parameter: assertion');
    const parts = assertion.split('.');
    const decode = (s: string | undefined): Obj | null => {
      try {
        const v: unknown = JSON.parse(Buffer.from(s ?? '', 'base64url').toString('utf8'));
        return isObj(v) ? v : null;
      } catch {
        return null;
      }
    };
    const header = parts.length === 3 ? decode(parts[0]) : null;
    const claims = parts.length === 3 ? decode(parts[1]) : null;
    if (!header || !claims) return oauthError(400, 'invalid_grant', 'Invalid JWT Signature.');
    if (typeof claims.sub === 'string') ctx.user = claims.sub.toLowerCase();
    const account = typeof claims.iss === 'string' ? accounts.get(claims.iss) : undefined;
    const signed = header.alg === 'RS256' && !!account && verify('RSA-SHA256', Buffer.from(`${parts[0]}.${parts[1]}`), account.publicKey, Buffer.from(parts[2]!, 'base64url'));
    // A deleted key is reported exactly like a bad signature.
    if (!signed || revokedKeys.has(account!.privateKeyId)) return oauthError(400, 'invalid_grant', 'Invalid JWT Signature.');
    if (claims.aud !== GOOGLE_TOKEN_URL && claims.aud !== `${baseUrl}token`) {
      return oauthError(400, 'invalid_grant', `Invalid JWT: Failed audience check. The expected value was ${GOOGLE_TOKEN_URL} but the actual value was ${String(claims.aud)}`);
    }
    const now = Date.now() / 1000;
    const { iat, exp } = claims;
    if (typeof iat !== 'number' || typeof exp !== 'number' || exp <= now || exp - iat > 3600 || iat > now + 300) {
      return oauthError(400, 'invalid_grant', 'Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable timeframe. Check your iat and exp values in the JWT claim.');
    }
    const scopes = typeof claims.scope === 'string' ? claims.scope.split(' ').filter(Boolean) : [];
    if (!scopes.length) return oauthError(400, 'invalid_scope', 'Invalid OAuth scope or ID token audience provided.');
    const granted = delegation.get(account!.clientId);
    // The broad calendar scope covers the narrower calendar.* ones.
    const covered = (s: string) => !!granted && (granted.includes(s) || (granted.includes(CAL_SCOPE) && s.startsWith(`${CAL_SCOPE}.`)));
    if (typeof claims.sub !== 'string' || !claims.sub || !scopes.every(covered)) {
      return oauthError(401, 'unauthorized_client', 'Client is unauthorized to retrieve access tokens using this method, or client not authorized for any of the scopes requested.');
    }
    const user = claims.sub.toLowerCase();
    if (!store.has(user)) return oauthError(400, 'invalid_grant', 'Invalid email or User ID');
    const accessToken = `ya29.${randomBytes(48).toString('base64url')}`;
    tokens.set(accessToken, { user, scopes, expiresAt: Date.now() + 3599_000 });
    return send(ctx, 200, { access_token: accessToken, expires_in: 3599, token_type: 'Bearer' });
  }

  function eventJson(e: StoredGoogleEvent, user: string, cal: Calendar) {
    return {
      kind: 'calendar#event',
      etag: e.etag,
      id: e.id,
      status: e.status,
      htmlLink: `https://www.google.com/calendar/event?eid=${Buffer.from(`${e.id} ${cal.email}`).toString('base64url')}`,
      created: e.created,
      updated: e.updated,
      ...e.props,
      creator: { email: user, self: true },
      organizer: cal.email === user ? { email: user, self: true } : { email: cal.email, displayName: cal.email.split('@')[0], self: true },
      iCalUID: `${e.id}@google.com`,
      sequence: e.sequence,
      reminders: e.props.reminders ?? { useDefault: true },
      eventType: e.props.eventType ?? 'default',
    };
  }

  /** If-Match: '*' or the current etag. */
  const preconditionFails = (req: IncomingMessage, e: StoredGoogleEvent) => {
    const want = req.headers['if-match'];
    return typeof want === 'string' && want.trim() !== '*' && want.trim() !== e.etag;
  };
  const PRECONDITION = apiErr(412, 'conditionNotMet', 'Precondition Failed', { locationType: 'header', location: 'If-Match' });

  function countInvitations(url: URL, body: Obj) {
    if (Array.isArray(body.attendees) && body.attendees.length && url.searchParams.get('sendUpdates') !== 'none') invitations += body.attendees.length;
  }

  async function calendarRoute(ctx: Ctx, url: URL, cal: Calendar, user: string, eventId: string | undefined, raw: string) {
    const { req } = ctx;
    let body: Obj = {};
    if (raw && (req.method === 'POST' || req.method === 'PUT' || req.method === 'PATCH')) {
      try {
        const parsed: unknown = JSON.parse(raw);
        if (!isObj(parsed)) throw new Error('not an object');
        body = parsed;
      } catch {
        return fail(ctx, apiErr(400, 'parseError', 'Parse Error'));
      }
    }

    if (eventId === undefined) {
      if (req.method === 'GET') return list(ctx, url, cal, user);
      if (req.method !== 'POST') return fail(ctx, apiErr(404, 'notFound', 'Not Found'));
      // insert
      if (body.id !== undefined && (typeof body.id !== 'string' || !ID_RE.test(body.id))) return fail(ctx, apiErr(400, 'invalid', 'Invalid resource id value.'));
      // Ids stay reserved after delete: cancelled events still collide.
      if (typeof body.id === 'string' && cal.events.has(body.id)) return fail(ctx, apiErr(409, 'duplicate', 'The requested identifier already exists.'));
      const props = writable(body);
      const valid = validateEvent(props);
      if (isError(valid)) return fail(ctx, valid);
      countInvitations(url, body);
      const now = new Date().toISOString();
      const e: StoredGoogleEvent = { id: typeof body.id === 'string' ? body.id : newEventId(), etag: nextEtag(), status: 'confirmed', created: now, updated: now, sequence: 0, props };
      cal.events.set(e.id, e);
      return send(ctx, 200, eventJson(e, user, cal));
    }

    const e = cal.events.get(eventId);
    if (!e) return fail(ctx, apiErr(404, 'notFound', 'Not Found'));
    if (req.method === 'GET') {
      // Deleted events are still readable, as status 'cancelled'.
      if (req.headers['if-none-match'] === e.etag) return send(ctx, 304, undefined, { etag: e.etag });
      return send(ctx, 200, eventJson(e, user, cal), { etag: e.etag });
    }
    if (req.method === 'DELETE') {
      if (e.status === 'cancelled') return fail(ctx, apiErr(410, 'deleted', 'Resource has been deleted'));
      if (preconditionFails(req, e)) return fail(ctx, PRECONDITION);
      e.status = 'cancelled';
      e.etag = nextEtag();
      e.updated = new Date().toISOString();
      return send(ctx, 204);
    }
    if (req.method === 'PATCH' || req.method === 'PUT') {
      if (e.status === 'cancelled') return fail(ctx, apiErr(410, 'deleted', 'Resource has been deleted'));
      if (preconditionFails(req, e)) return fail(ctx, PRECONDITION);
      const props = req.method === 'PATCH' ? mergePatch(e.props, writable(body)) : writable(body);
      const valid = validateEvent(props);
      if (isError(valid)) return fail(ctx, valid);
      countInvitations(url, body);
      if (timesDiffer(e.props, props)) e.sequence++;
      e.props = props;
      e.etag = nextEtag();
      e.updated = new Date().toISOString();
      return send(ctx, 200, eventJson(e, user, cal));
    }
    return fail(ctx, apiErr(404, 'notFound', 'Not Found'));
  }

  /** An event's span for list filters; all-day dates count as UTC midnight. */
  function span(e: StoredGoogleEvent): { start: number; end: number } | null {
    const start = readBound(e.props.start, 'start');
    const end = readBound(e.props.end, 'end');
    return isError(start) || isError(end) ? null : { start: start.at, end: end.at };
  }

  function list(ctx: Ctx, url: URL, cal: Calendar, user: string) {
    const q = url.searchParams;
    if (q.has('syncToken')) return fail(ctx, apiErr(400, 'invalid', 'syncToken is not supported by this emulator.'));
    const constraints: Array<{ scope: 'private' | 'shared'; key: string; value: string }> = [];
    for (const scope of ['private', 'shared'] as const) {
      for (const c of q.getAll(`${scope}ExtendedProperty`)) {
        const i = c.indexOf('=');
        if (i <= 0) return fail(ctx, apiErr(400, 'invalid', `Invalid value for: ${scope}ExtendedProperty`));
        constraints.push({ scope, key: c.slice(0, i), value: c.slice(i + 1) });
      }
    }
    // Query bounds must carry an offset.
    const bound = (name: string): number | null | ApiError => {
      const v = q.get(name);
      if (v === null) return null;
      const m = DATE_TIME_RE.exec(v);
      const at = m?.[8] ? dateTimeInstant(v) : null;
      return at === null ? apiErr(400, 'badRequest', 'Bad Request') : at;
    };
    const timeMin = bound('timeMin');
    const timeMax = bound('timeMax');
    const updatedMin = bound('updatedMin');
    for (const b of [timeMin, timeMax, updatedMin]) if (isError(b)) return fail(ctx, b);
    if (typeof timeMin === 'number' && typeof timeMax === 'number' && timeMax <= timeMin) return fail(ctx, apiErr(400, 'timeRangeEmpty', 'The specified time range is empty.'));
    let maxResults = 250;
    if (q.has('maxResults')) {
      const n = Number(q.get('maxResults'));
      if (!Number.isInteger(n) || n < 1) return fail(ctx, apiErr(400, 'invalid', `Invalid value '${q.get('maxResults')}'. Values must be within the range: [1, 2500]`));
      maxResults = Math.min(n, 2500);
    }
    const orderBy = q.get('orderBy');
    if (orderBy !== null && orderBy !== 'updated' && !(orderBy === 'startTime' && q.get('singleEvents') === 'true')) {
      return fail(ctx, apiErr(400, 'invalid', 'The requested ordering is not available for the particular query.'));
    }
    // A page token belongs to one calendar and one query (page size aside).
    const query = JSON.stringify([user, cal.id, [...q.entries()].filter(([k]) => k !== 'pageToken' && k !== 'maxResults').sort()]);
    let offset = 0;
    const pageToken = q.get('pageToken');
    if (pageToken !== null) {
      const saved = pageTokens.get(pageToken);
      if (!saved || saved.query !== query) return fail(ctx, apiErr(400, 'invalid', 'Invalid Value'));
      offset = saved.offset;
    }

    const showDeleted = q.get('showDeleted') === 'true';
    let items = [...cal.events.values()].filter((e) => {
      // With updatedMin, events deleted since then are always included.
      if (e.status === 'cancelled' && !showDeleted && typeof updatedMin !== 'number') return false;
      if (typeof updatedMin === 'number' && Date.parse(e.updated) < updatedMin) return false;
      for (const c of constraints) {
        const ep = e.props.extendedProperties;
        const bag = isObj(ep) && isObj(ep[c.scope]) ? (ep[c.scope] as Obj) : {};
        if (bag[c.key] !== c.value) return false;
      }
      if (typeof timeMin === 'number' || typeof timeMax === 'number') {
        const s = span(e);
        if (!s) return false;
        if (typeof timeMin === 'number' && !(s.end > timeMin)) return false;
        if (typeof timeMax === 'number' && !(s.start < timeMax)) return false;
      }
      return true;
    });
    if (orderBy === 'updated') items = items.sort((a, b) => a.updated.localeCompare(b.updated));
    if (orderBy === 'startTime') items = items.sort((a, b) => (span(a)?.start ?? 0) - (span(b)?.start ?? 0));

    const page = items.slice(offset, offset + maxResults);
    let nextPageToken: string | undefined;
    if (offset + maxResults < items.length) {
      nextPageToken = randomBytes(24).toString('base64url');
      pageTokens.set(nextPageToken, { offset: offset + maxResults, query });
    }
    const lastUpdate = [...cal.events.values()].reduce((m, e) => (e.updated > m ? e.updated : m), '');
    return send(ctx, 200, {
      kind: 'calendar#events',
      etag: `"p${etagSeq || Date.now() * 1000}"`,
      summary: cal.email,
      description: '',
      updated: lastUpdate || new Date().toISOString(),
      timeZone: 'UTC',
      accessRole: 'owner',
      defaultReminders: [],
      ...(nextPageToken ? { nextPageToken } : {}),
      // Deleted events come back with little more than their id.
      items: page.map((e) => (e.status === 'cancelled' ? { kind: 'calendar#event', etag: e.etag, id: e.id, status: 'cancelled' } : eventJson(e, user, cal))),
    });
  }

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  baseUrl = `https://localhost:${(server.address() as AddressInfo).port}/`;

  const calendar = (user: string, calendarId = 'primary') => {
    const cals = store.get(user.toLowerCase());
    if (!cals) throw new Error(`no user ${user}`);
    const cal = calendarId === 'primary' || calendarId.toLowerCase() === user.toLowerCase() ? cals.get('primary') : cals.get(calendarId);
    if (!cal) throw new Error(`no calendar ${calendarId} for ${user}`);
    return cal;
  };
  const event = (user: string, id: string, calendarId?: string) => {
    const e = calendar(user, calendarId).events.get(id);
    if (!e) throw new Error(`no event ${id} for ${user}`);
    return e;
  };

  return {
    baseUrl,
    tokenUrl: `${baseUrl}token`,
    ca: tls.ca,
    events: (user, calendarId) => [...calendar(user, calendarId).events.values()].filter((e) => e.status !== 'cancelled'),
    allEvents: (user, calendarId) => [...calendar(user, calendarId).events.values()],
    deleteEvent(user, id, calendarId) {
      const e = event(user, id, calendarId);
      e.status = 'cancelled';
      e.etag = nextEtag();
      e.updated = new Date().toISOString();
    },
    editEvent(user, id, props, calendarId) {
      const e = event(user, id, calendarId);
      const merged = mergePatch(e.props, props);
      if (timesDiffer(e.props, merged)) e.sequence++;
      e.props = merged;
      e.etag = nextEtag();
      e.updated = new Date().toISOString();
    },
    addFault: (f) => void faults.push(f),
    clearFaults: () => void (faults.length = 0),
    setLatency: (ms) => void (latencyMs = ms),
    setDelegation(clientId, scopes) {
      if (scopes) delegation.set(clientId, scopes);
      else delegation.delete(clientId);
    },
    revokeKey: (privateKeyId) => void revokedKeys.add(privateKeyId),
    requests,
    peakConcurrency: (user) => peak.get(user.toLowerCase()) ?? 0,
    invitationsSent: () => invitations,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
