// SysAid's request budget, shared through the database by every worker process and the API: SysAid allows 2
// logins and 1,000 other requests per 5 minutes per account, other integrations use the same account, so this app
// counts its own calls in a fixed window at `budgetShare` of the limits (a fixed window at half the limit keeps any
// sliding window under it). Where SysAid tells the account's own count (the newer API's X-RateLimit-* headers),
// that count is kept too, and no request is sent while the account is nearly out until its window resets.
import { eq, sql } from 'drizzle-orm';
import type { Db } from '../../../db/client';
import { sourceConfig } from '../../../db/schema';
import type { SysaidSettings } from './settings';

/** The part of the account's requests left to other integrations when SysAid reports the account's count. */
const ACCOUNT_RESERVE = 0.05;

export type BudgetKind = 'request' | 'login';
export type Budget = { ok: true } | { ok: false; retryAfterMs: number };

export const shareOf = (limit: number, settings: SysaidSettings) => Math.max(1, Math.floor(limit * settings.budgetShare));

/** Counts one request (or login) in the shared fixed window; when the share is spent, says how long to wait. */
export async function takeBudget(db: Db, kind: BudgetKind, settings: SysaidSettings): Promise<Budget> {
  const windowMs = settings.windowSeconds * 1000;
  const start = kind === 'login' ? sourceConfig.loginWindowStart : sourceConfig.budgetWindowStart;
  const used = kind === 'login' ? sourceConfig.loginsUsed : sourceConfig.budgetUsed;
  // The limit the account reports wins over the configured one.
  const limit = kind === 'login' ? sql`${shareOf(settings.maxLoginsPerWindow, settings)}` : sql`greatest(1, floor(coalesce(${sourceConfig.serverLimit}, ${settings.maxRequestsPerWindow}::int) * ${settings.budgetShare}::float8))`;
  const accountOut = sql`(${sourceConfig.serverResetAt} is not null and ${sourceConfig.serverResetAt} > now() and ${sourceConfig.serverRemaining} <= ceil(${sourceConfig.serverLimit} * ${ACCOUNT_RESERVE}::float8))`;
  // One atomic statement: a new window starts when the old one has passed; otherwise count while under the limit.
  const expired = sql`(${start} is null or ${start} <= now() - (${windowMs} * interval '1 millisecond'))`;
  const rows = await db
    .update(sourceConfig)
    .set(kind === 'login'
      ? { loginWindowStart: sql`case when ${expired} then now() else ${start} end`, loginsUsed: sql`case when ${expired} then 1 else ${used} + 1 end` }
      : { budgetWindowStart: sql`case when ${expired} then now() else ${start} end`, budgetUsed: sql`case when ${expired} then 1 else ${used} + 1 end`, serverRemaining: sql`${sourceConfig.serverRemaining} - 1` })
    .where(sql`${sourceConfig.id} = 1 and (${expired} or ${used} < ${limit})${kind === 'request' ? sql` and not ${accountOut}` : sql``}`)
    .returning({ used });
  if (rows.length) return { ok: true };
  const [row] = await db.select({ start, now: sql<Date>`now()`, resetAt: sourceConfig.serverResetAt, accountOut: sql<boolean>`${accountOut}` }).from(sourceConfig).where(eq(sourceConfig.id, 1));
  const now = row?.now ? new Date(row.now).getTime() : Date.now();
  const windowEnds = (row?.start ? new Date(row.start).getTime() : now) + windowMs;
  const accountResets = kind === 'request' && row?.accountOut && row.resetAt ? new Date(row.resetAt).getTime() : 0;
  return { ok: false, retryAfterMs: Math.max(1000, Math.max(windowEnds, accountResets) - now) };
}

/** Keeps the account's own count from the newer API's headers (X-RateLimit-Reset: seconds to go, or an epoch second). */
export async function recordAccountLimits(db: Db, headers: Headers): Promise<void> {
  const limit = Number(headers.get('x-ratelimit-limit'));
  const remaining = Number(headers.get('x-ratelimit-remaining'));
  const reset = Number(headers.get('x-ratelimit-reset'));
  if (![limit, remaining, reset].every((n) => Number.isFinite(n) && n >= 0) || headers.get('x-ratelimit-limit') === null) return;
  const resetAt = new Date(reset > 1e9 ? reset * 1000 : Date.now() + reset * 1000);
  await db.update(sourceConfig).set({ serverLimit: limit, serverRemaining: remaining, serverResetAt: resetAt }).where(eq(sourceConfig.id, 1));
}

const clock = (ms: number) => new Date(ms).toISOString().slice(11, 19);

/** Why no login happens now, and when one can: for the Test button and the read's error. */
export function loginWaitMessage(settings: SysaidSettings, retryAfterMs: number, now = Date.now()): string {
  const what = settings.apiVersion === 'connect' ? 'access tokens' : 'logins';
  const allowed = shareOf(settings.maxLoginsPerWindow, settings);
  return `SysAid allows ${settings.maxLoginsPerWindow} ${what} per ${settings.windowSeconds} s and calendar-sync uses at most ${allowed} of them (the rest is left to other integrations on the account): the next login is possible at ${clock(now + retryAfterMs)} UTC (in ${Math.ceil(retryAfterMs / 1000)} s). A password saved now is tried then.`;
}

export function requestWaitMessage(settings: SysaidSettings): string {
  return `This app’s share of the SysAid request budget (${shareOf(settings.maxRequestsPerWindow, settings)} per ${settings.windowSeconds} s, or the account’s own count nearly spent) is used up: waiting for the next window.`;
}

/** Whether this window's logins are used up (a save with new credentials then starts a read that waits for the next one). */
export async function loginsSpent(db: Db, settings: SysaidSettings): Promise<boolean> {
  const [row] = await db
    .select({ spent: sql<boolean>`${sourceConfig.loginWindowStart} is not null and ${sourceConfig.loginWindowStart} > now() - (${settings.windowSeconds * 1000} * interval '1 millisecond') and ${sourceConfig.loginsUsed} >= ${shareOf(settings.maxLoginsPerWindow, settings)}` })
    .from(sourceConfig)
    .where(eq(sourceConfig.id, 1));
  return !!row?.spent;
}
