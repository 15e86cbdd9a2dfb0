// SysAid's classic REST API with one session and one request budget shared, through the database, by every
// worker process: SysAid allows 2 logins and 1,000 other requests per 5 minutes per account, and other
// integrations use the same account, so this app stays within a share of both.
import { eq, sql } from 'drizzle-orm';
import type { Db } from '../../../db/client';
import { sourceConfig } from '../../../db/schema';
import type { Sealer } from '../../../db/seal';
import { credentials, ProviderError, throttled, transient } from '../../providers/errors';
import { explainTls, fetchWith, networkErrorCode, tlsDispatcher, tlsErrorCode } from '../../providers/http';
import type { SysaidSettings } from './settings';
import type { SysaidRecord } from './mapping';

const REQUEST_TIMEOUT_MS = 30_000;

/** Counts one request (or login) in the shared fixed window; when the share is spent, says how long to wait. */
export async function takeBudget(db: Db, kind: 'request' | 'login', settings: SysaidSettings): Promise<{ ok: true } | { ok: false; retryAfterMs: number }> {
  const limit = Math.max(1, Math.floor((kind === 'login' ? settings.maxLoginsPerWindow : settings.maxRequestsPerWindow) * settings.budgetShare));
  const windowMs = settings.windowSeconds * 1000;
  const start = kind === 'login' ? sourceConfig.loginWindowStart : sourceConfig.budgetWindowStart;
  const used = kind === 'login' ? sourceConfig.loginsUsed : sourceConfig.budgetUsed;
  // One atomic statement: a new window starts when the old one has passed; otherwise count while under the limit.
  const expired = sql`(${start} is null or ${start} <= now() - (${windowMs} * interval '1 millisecond'))`;
  const rows = await db
    .update(sourceConfig)
    .set(kind === 'login'
      ? { loginWindowStart: sql`case when ${expired} then now() else ${start} end`, loginsUsed: sql`case when ${expired} then 1 else ${used} + 1 end` }
      : { budgetWindowStart: sql`case when ${expired} then now() else ${start} end`, budgetUsed: sql`case when ${expired} then 1 else ${used} + 1 end` })
    .where(sql`${sourceConfig.id} = 1 and (${expired} or ${used} < ${limit})`)
    .returning({ used });
  if (rows.length) return { ok: true };
  const [row] = await db.select({ start, now: sql<Date>`now()` }).from(sourceConfig).where(eq(sourceConfig.id, 1));
  const startedAt = row?.start ? new Date(row.start).getTime() : Date.now();
  const now = row?.now ? new Date(row.now).getTime() : Date.now();
  return { ok: false, retryAfterMs: Math.max(1000, startedAt + windowMs - now) };
}

export interface SysaidClient {
  /** Every page of a list (`/sr`, `/users`): complete, or an error. Never a short list. */
  listAll(path: string, query: Record<string, string>): Promise<SysaidRecord[]>;
  /** Logs in (counts as a login) and checks the session works. */
  login(): Promise<void>;
  stats: { requests: number; logins: number };
}

export function createSysaidClient(deps: { db: Db; sealer: Sealer }, settings: SysaidSettings, secrets: { password?: string }, opts: { sharedSession?: boolean } = {}): SysaidClient {
  const shared = opts.sharedSession ?? true;
  const fetcher = fetchWith(tlsDispatcher(settings.caCertificate));
  const host = new URL(settings.baseUrl).host;
  const api = `${settings.baseUrl}/api/v1`;
  const stats = { requests: 0, logins: 0 };
  let session: string | null | undefined;

  async function loadSession(): Promise<string | null> {
    const [row] = await deps.db.select({ session: sourceConfig.session }).from(sourceConfig).where(eq(sourceConfig.id, 1));
    return row?.session ? (deps.sealer.unseal<{ cookie: string }>(row.session)).cookie : null;
  }

  async function send(method: string, url: string, headers: Record<string, string>, body?: string) {
    try {
      return await fetcher(url, { method, headers, body, signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) });
    } catch (err) {
      const tls = tlsErrorCode(err);
      if (tls) throw credentials(explainTls(tls, host), { code: tls });
      if ((err as Error)?.name === 'TimeoutError') throw transient(`SysAid did not answer within ${REQUEST_TIMEOUT_MS / 1000} s (${host})`);
      throw transient(`Could not reach SysAid at ${host} (${networkErrorCode(err) ?? (err as Error).message})`, { cause: err });
    }
  }

  const retryAfter = (res: Response) => {
    const v = Number(res.headers.get('retry-after'));
    return Number.isFinite(v) && v > 0 ? v * 1000 : undefined;
  };

  async function login(): Promise<void> {
    if (!secrets.password) throw credentials('No SysAid password is saved: set the source secret "password".');
    const budget = await takeBudget(deps.db, 'login', settings);
    if (!budget.ok) throw throttled(`SysAid allows ${settings.maxLoginsPerWindow} logins per ${settings.windowSeconds} s and this app uses at most ${Math.floor(settings.maxLoginsPerWindow * settings.budgetShare) || 1}: waiting before logging in again.`, budget.retryAfterMs);
    stats.logins++;
    const res = await send('POST', `${api}/login`, { 'content-type': 'application/json', accept: 'application/json' }, JSON.stringify({ user_name: settings.userName, password: secrets.password, ...(settings.accountId ? { account_id: settings.accountId } : {}) }));
    if (res.status === 429) throw throttled('SysAid refused the login: too many logins for this account in the last minutes.', retryAfter(res), { status: 429 });
    if (res.status === 401 || res.status === 403) throw credentials(`SysAid refused the login of ${settings.userName} (HTTP ${res.status}): check the user name and password; the account must be an administrator allowed to use the API, and SSO-only accounts cannot log in.`, { status: res.status });
    if (res.status === 400) throw credentials(`SysAid refused the login request (HTTP 400: ${(await res.text()).slice(0, 200)})${settings.accountId ? '' : ': this instance may need the accountId setting'}.`, { status: 400 });
    if (!res.ok) throw transient(`SysAid login failed with HTTP ${res.status}`, { status: res.status });
    const cookie = res.headers.getSetCookie().map((c) => /^JSESSIONID=([^;]+)/.exec(c)?.[1]).find(Boolean);
    if (!cookie) throw transient('SysAid answered the login without a JSESSIONID cookie.');
    session = cookie;
    if (!shared) return;
    await deps.db
      .update(sourceConfig)
      .set({ session: deps.sealer.seal({ cookie }), sessionVersion: sql`${sourceConfig.sessionVersion} + 1` })
      .where(eq(sourceConfig.id, 1));
  }

  /** One GET with the shared session: a 401 logs in once and retries once; never more. */
  async function get(path: string, query: Record<string, string>): Promise<unknown> {
    if (session === undefined) session = shared ? await loadSession() : null;
    if (!session) await login();
    const url = `${api}${path}?${new URLSearchParams(query)}`;
    for (let attempt = 0; ; attempt++) {
      const budget = await takeBudget(deps.db, 'request', settings);
      if (!budget.ok) throw throttled(`This app’s share of the SysAid request budget (${Math.floor(settings.maxRequestsPerWindow * settings.budgetShare)} per ${settings.windowSeconds} s) is spent: waiting for the next window.`, budget.retryAfterMs);
      stats.requests++;
      const res = await send('GET', url, { accept: 'application/json', cookie: `JSESSIONID=${session}` });
      if (res.status === 401 && attempt === 0) {
        await login();
        continue;
      }
      if (res.status === 401) throw credentials('SysAid rejected a fresh session (HTTP 401): check that the API user may read service records and users.', { status: 401 });
      if (res.status === 429) throw throttled(`SysAid is limiting requests for this account (HTTP 429).`, retryAfter(res), { status: 429 });
      if (res.status >= 500) throw transient(`SysAid failed (HTTP ${res.status} on ${path})`, { status: res.status });
      if (!res.ok) throw new ProviderError('item-rejected', `SysAid refused ${path} (HTTP ${res.status}: ${(await res.text()).slice(0, 200)})`, { status: res.status });
      const text = await res.text();
      try {
        return JSON.parse(text);
      } catch {
        throw transient(`SysAid sent an incomplete or malformed answer for ${path} (${text.length} bytes); the read is retried as a whole.`);
      }
    }
  }

  return {
    stats,
    login,
    async listAll(path, query) {
      const all: SysaidRecord[] = [];
      for (let offset = 0; ; offset += settings.pageSize) {
        const page = await get(path, { ...query, offset: String(offset), limit: String(settings.pageSize) });
        if (!Array.isArray(page)) throw transient(`SysAid answered ${path} with something other than a list; the read is retried as a whole.`);
        all.push(...(page as SysaidRecord[]));
        if (page.length < settings.pageSize) return all;
      }
    },
  };
}
