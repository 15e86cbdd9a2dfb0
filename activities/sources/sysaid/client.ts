// What the reader asks of SysAid, whichever API answers: admins, service records by change, due date, insertion or
// id, their count, and the list filters. `classic.ts` and `connect.ts` implement it over one HTTPS transport with one
// error mapping, one shared session (sealed in the database) and the shared request budget (`budget.ts`).
import { eq, sql } from 'drizzle-orm';
import type { Db } from '../../../db/client';
import { sourceConfig } from '../../../db/schema';
import type { Sealer } from '../../../db/seal';
import { credentials, itemRejected, throttled, transient } from '../../providers/errors';
import { explainTls, fetchWith, networkErrorCode, tlsDispatcher, tlsErrorCode } from '../../providers/http';
import { loginWaitMessage, requestWaitMessage, takeBudget } from './budget';
import type { ServiceRecord, SysaidUser } from './mapping';
import type { SysaidSecrets, SysaidSettings } from './settings';

const REQUEST_TIMEOUT_MS = 30_000;

/** Which service records a list or count asks for; dates are epoch ms, bounds inclusive. */
export interface SrQuery {
  archived: boolean;
  updatedFrom?: number;
  dueFrom?: number;
  dueTo?: number;
  insertedFrom?: number;
  ids?: string[];
}

/** What GET /filters says about this instance: whether update_time is a date filter, and the statuses. */
export interface SysaidFilters {
  updateTime: boolean;
  statuses: Array<{ id: string; caption: string }>;
}

export interface SysaidApi {
  readonly stats: { requests: number; logins: number };
  /** The page size asked for (SysAid may cap pages lower on its side). */
  readonly pageLimit: number;
  /** Logs in (classic) or gets an access token (connect): counts as a login. */
  login(): Promise<void>;
  /** The admins: every page (until an empty one), or the first page only (the connection test). */
  admins(opts?: { firstPageOnly?: boolean }): Promise<SysaidUser[]>;
  /** One page of the SRs the query selects; with `updatedFrom`, oldest change first (SysAid sorts on one field only). */
  srPage(query: SrQuery, offset: number, limit?: number): Promise<ServiceRecord[]>;
  countSrs(query: SrQuery): Promise<number>;
  /** The list filters of this instance, or null where the API has no such list (connect). */
  filters(): Promise<SysaidFilters | null>;
  /** SysAid's clock (its Date header) at the last answer, for telling settled changes from recent ones. */
  serverNow(): number;
}

export interface ClientOptions {
  /** false: a session of its own (the connection test of unsaved values), never the saved one. */
  sharedSession?: boolean;
  /** Log in even with credentials SysAid refused before (the Test button: the sysadmin asks for a verdict). */
  retryRefused?: boolean;
  /**
   * Waits out the spent budget or SysAid's 429 in place, so a read larger than one window's budget completes (a read
   * is all or nothing: started over, it would never fit); without it, the wait is the caller's (a throttled error).
   */
  pause?: (ms: number) => Promise<void>;
  /** Called with every request: the read's activity heartbeats. */
  heartbeat?: () => void;
}

/** The saved session: every cookie of the classic login, or the newer API's token and when to replace it. */
export type SavedSession = { cookies: Record<string, string> } | { token: string; expiresAt: number };

/** The one HTTPS transport: TLS with the source's CA, a timeout, errors that say what to check, SysAid's clock. */
export function createTransport(settings: SysaidSettings) {
  const fetcher = fetchWith(tlsDispatcher(settings.caCertificate));
  const host = new URL(settings.baseUrl).host;
  let clockOffsetMs = 0;

  async function send(method: string, url: string, headers: Record<string, string>, body?: string): Promise<Response> {
    let res: Response;
    try {
      res = (await fetcher(url, { method, headers, body, signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) })) as unknown as Response;
    } catch (err) {
      const tls = tlsErrorCode(err);
      if (tls) throw credentials(explainTls(tls, host, 'the source setting caCertificate (PUT /api/source)'), { code: tls });
      if ((err as Error)?.name === 'TimeoutError') throw transient(`SysAid did not answer within ${REQUEST_TIMEOUT_MS / 1000} s (${host})`);
      throw transient(`Could not reach SysAid at ${host} (${networkErrorCode(err) ?? (err as Error).message})`, { cause: err });
    }
    const date = Date.parse(res.headers.get('date') ?? '');
    if (Number.isFinite(date)) clockOffsetMs = date - Date.now();
    return res;
  }

  /** A list or object from an answer: anything else (or a cut-off body) fails the read as a whole. */
  async function json(res: Response, path: string): Promise<unknown> {
    const text = await res.text();
    try {
      return JSON.parse(text);
    } catch {
      throw transient(`SysAid sent an incomplete or malformed answer for ${path} (${text.length} bytes); the read is retried as a whole.`);
    }
  }

  /** The statuses every authenticated call maps the same way (authentication itself is the caller's). */
  async function failIfNotOk(res: Response, path: string): Promise<void> {
    if (res.status === 429) throw throttled('SysAid is limiting requests for this account (HTTP 429).', retryAfterMs(res), { status: 429 });
    if (res.status >= 500) throw transient(`SysAid failed (HTTP ${res.status} on ${path})`, { status: res.status });
    if (!res.ok) throw itemRejected(`SysAid refused ${path} (HTTP ${res.status}: ${(await res.text()).slice(0, 200)})`, { status: res.status });
  }

  /** A 404 where SysAid's API should be: the address is not SysAid's, or has a path of its own. */
  const notFound = (url: string) => credentials(`SysAid answered HTTP 404 at ${url}: check baseUrl — it is the address users open (e.g. https://acme.sysaidit.com), without /api/v1, /connect/v1 or another path.`, { status: 404 });

  return { send, json, failIfNotOk, notFound, host, serverNow: () => Date.now() + clockOffsetMs };
}
export type Transport = ReturnType<typeof createTransport>;

function retryAfterMs(res: Response): number | undefined {
  const v = Number(res.headers.get('retry-after'));
  return Number.isFinite(v) && v > 0 ? v * 1000 : undefined;
}

/** The longest wait in place for the budget or a Retry-After; a longer one is the caller's (throttled). */
const MAX_PAUSE_MS = 10 * 60_000;
/** SysAid's 429s waited out in place for one request before the read fails. */
const MAX_429_WAITS = 3;

/** One request counted in the shared budget: waited for in place when the caller can, else the wait is thrown. */
async function spendRequest(db: Db, settings: SysaidSettings, stats: { requests: number }, opts: ClientOptions): Promise<void> {
  for (;;) {
    const budget = await takeBudget(db, 'request', settings);
    if (budget.ok) break;
    if (!opts.pause || budget.retryAfterMs > MAX_PAUSE_MS) throw throttled(requestWaitMessage(settings), budget.retryAfterMs);
    await opts.pause(budget.retryAfterMs);
  }
  opts.heartbeat?.();
  stats.requests++;
}

/** After a 429: whether to wait in place and send the request again (true), or let the read fail throttled. */
async function waitOut429(res: Response, waits: number, opts: ClientOptions): Promise<boolean> {
  const wait = retryAfterMs(res) ?? 1000 * 2 ** waits;
  if (!opts.pause || waits >= MAX_429_WAITS || wait > MAX_PAUSE_MS) return false;
  await opts.pause(wait);
  return true;
}

/** Pages until an empty page (or `atMost` rows, or one page): offsets advance by what came back, whatever was asked. */
export async function pageAll<T>(fetchPage: (offset: number) => Promise<T[]>, opts: { firstPageOnly?: boolean; atMost?: number } = {}): Promise<T[]> {
  const all: T[] = [];
  for (let offset = 0; ; ) {
    const page = await fetchPage(offset);
    all.push(...page);
    if (page.length === 0 || opts.firstPageOnly || (opts.atMost !== undefined && all.length >= opts.atMost)) return all;
    offset += page.length;
  }
}

/** A JSON list (a bare array, or `{data: [...]}`), else the read fails as a whole. */
export function asList(body: unknown, path: string): Array<Record<string, unknown>> {
  const list = Array.isArray(body) ? body : Array.isArray((body as { data?: unknown })?.data) ? (body as { data: unknown[] }).data : null;
  if (!list) throw transient(`SysAid answered ${path} with something other than a list; the read is retried as a whole.`);
  return list as Array<Record<string, unknown>>;
}

/** The fingerprint of the credentials in use: a login SysAid refused is not tried again with the same ones. */
function credentialsFingerprint(sealer: Sealer, settings: SysaidSettings, secrets: SysaidSecrets): string {
  return sealer.fingerprint(JSON.stringify([settings.apiVersion, settings.baseUrl, settings.accountId ?? '', settings.userName ?? '', settings.clientId ?? '', settings.passwordEncoding, secrets.password ?? '', secrets.clientSecret ?? '']));
}

/** Remembers (or forgets) that SysAid refused these credentials; only the shared reader does, never a test. */
async function markRefused(db: Db, fingerprint: string | null): Promise<void> {
  await db.update(sourceConfig).set({ loginRefused: fingerprint, loginRefusedAt: fingerprint ? new Date() : null }).where(eq(sourceConfig.id, 1));
}

/** Refuses to log in again with credentials SysAid already refused (each try spends a login the fix needs). */
async function failIfRefusedBefore(db: Db, fingerprint: string, who: string): Promise<void> {
  const [row] = await db.select({ refused: sourceConfig.loginRefused, at: sourceConfig.loginRefusedAt }).from(sourceConfig).where(eq(sourceConfig.id, 1));
  if (row?.refused !== fingerprint) return;
  throw credentials(`SysAid refused the login of ${who} at ${row.at?.toISOString() ?? 'the last try'}; calendar-sync does not try the same credentials again (each try spends a login): save the corrected credentials with PUT /api/source, or save the source again once the account is fixed in SysAid.`);
}

/** The session every process shares (sealed in the database), or one of its own for the connection test. */
function sessionStore(deps: { db: Db; sealer: Sealer }, shared: boolean) {
  let current: SavedSession | null | undefined;
  return {
    async load(): Promise<SavedSession | null> {
      if (current !== undefined) return current;
      if (!shared) return (current = null);
      const [row] = await deps.db.select({ session: sourceConfig.session }).from(sourceConfig).where(eq(sourceConfig.id, 1));
      return (current = row?.session ? deps.sealer.unseal<SavedSession>(row.session) : null);
    },
    async save(session: SavedSession): Promise<void> {
      current = session;
      if (!shared) return;
      await deps.db.update(sourceConfig).set({ session: deps.sealer.seal(session), sessionVersion: sql`${sourceConfig.sessionVersion} + 1` }).where(eq(sourceConfig.id, 1));
    },
  };
}

/** How one API signs in and authenticates its calls; the rest of the flow is the same for both. */
export interface SignIn {
  /** Where the API lives, e.g. https://acme.sysaidit.com/api/v1. */
  base: string;
  /** Who signs in, for messages: the user name, or the application key. */
  who: string;
  /** The secret it needs, or the message saying it is missing. */
  secret: string | undefined;
  missingSecret: string;
  /** Sends the login (or token) request. */
  request(http: Transport): Promise<Response>;
  /** What SysAid's refusal means and what to check. */
  refused(status: number): string;
  tooMany: string;
  /** Maps further statuses of the login answer (e.g. classic's 400), by throwing. */
  otherStatus?(res: Response): Promise<void>;
  /** The session an accepted login answer gives. */
  sessionOf(res: Response, http: Transport): Promise<SavedSession>;
  /** Whether a saved session can be used (yet). */
  usable(saved: SavedSession | null): boolean;
  /** The headers that authenticate a call with it. */
  headers(saved: SavedSession): Record<string, string>;
  /** Sees every answer (connect keeps the account's X-RateLimit-* count). */
  seen?(res: Response): Promise<void>;
  /** A fresh session rejected with 401: what to check. */
  rejectedFresh: string;
}

/**
 * The sign-in and the authenticated GET both APIs share: the shared (sealed) session, a login SysAid refused never
 * tried again with the same credentials (each try spends a login) unless the sysadmin tests, the login budget with
 * a message saying when, a 401 answered by one new login and one retry — never more — and SysAid's 429 waited out
 * in place when the caller can.
 */
export function createSessionClient(deps: { db: Db; sealer: Sealer }, settings: SysaidSettings, secrets: SysaidSecrets, opts: ClientOptions, spec: SignIn) {
  const shared = opts.sharedSession ?? true;
  const http = createTransport(settings);
  const stats = { requests: 0, logins: 0 };
  const session = sessionStore(deps, shared);
  const fingerprint = credentialsFingerprint(deps.sealer, settings, secrets);

  async function login(): Promise<void> {
    if (!spec.secret) throw credentials(spec.missingSecret);
    if (shared && !opts.retryRefused) await failIfRefusedBefore(deps.db, fingerprint, spec.who);
    const budget = await takeBudget(deps.db, 'login', settings);
    if (!budget.ok) throw throttled(loginWaitMessage(settings, budget.retryAfterMs), budget.retryAfterMs);
    stats.logins++;
    const res = await spec.request(http);
    await spec.seen?.(res);
    if (res.status === 429) throw throttled(spec.tooMany, retryAfterMs(res), { status: 429 });
    if (res.status === 401 || res.status === 403) {
      if (shared) await markRefused(deps.db, fingerprint);
      throw credentials(spec.refused(res.status), { status: res.status });
    }
    if (res.status === 404) throw http.notFound(res.url || spec.base);
    await spec.otherStatus?.(res);
    if (!res.ok) throw transient(`SysAid’s login (${spec.who}) failed with HTTP ${res.status}`, { status: res.status });
    const fresh = await spec.sessionOf(res, http);
    if (shared) await markRefused(deps.db, null);
    await session.save(fresh);
  }

  async function get(path: string, query: Record<string, string>): Promise<unknown> {
    const url = `${spec.base}${path}?${new URLSearchParams(query)}`;
    let saved = await session.load();
    if (!spec.usable(saved)) {
      await login();
      saved = await session.load();
    }
    for (let relogins = 0, waits = 0; ; ) {
      await spendRequest(deps.db, settings, stats, opts);
      const res = await http.send('GET', url, { accept: 'application/json', ...spec.headers(saved!) });
      await spec.seen?.(res);
      if (res.status === 401 && relogins++ === 0) {
        await login();
        saved = await session.load();
        continue;
      }
      if (res.status === 401) throw credentials(spec.rejectedFresh, { status: 401 });
      if (res.status === 429 && (await waitOut429(res, waits++, opts))) continue;
      await http.failIfNotOk(res, path);
      return http.json(res, path);
    }
  }

  return { stats, login, get, serverNow: http.serverNow };
}
