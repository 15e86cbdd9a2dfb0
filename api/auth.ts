// Bearer tokens: sha-256 hashes in api_tokens, roles sysadmin (everything) and admin (its own admin only).
import { randomBytes, randomUUID } from 'node:crypto';
import { and, eq, isNull, sql } from 'drizzle-orm';
import type { Context, MiddlewareHandler } from 'hono';
import type { Db } from '../db/client';
import { apiTokens } from '../db/schema';
import { sha256 } from '../db/seal';
import type { Config } from '../worker/config';
import { forbidden, problemResponse } from './problem';
import type { AppEnv, Principal } from './types';

const LAST_USED_RESOLUTION_MS = 60_000;

export const newTokenValue = () => `cs_${randomBytes(32).toString('base64url')}`;

export async function createToken(db: Db, input: { name: string; role: 'sysadmin' | 'admin'; adminId: string | null; value?: string }) {
  const value = input.value ?? newTokenValue();
  const id = randomUUID();
  await db.insert(apiTokens).values({ id, name: input.name, role: input.role, adminId: input.adminId, tokenHash: sha256(value) });
  return { id, value };
}

/**
 * The first sysadmin token: CALENDAR_SYNC_ADMIN_TOKEN when given (returns null: it is already known),
 * otherwise one is generated when no sysadmin token exists, and returned so the caller prints it once.
 */
export async function ensureBootstrapToken(db: Db, config: Pick<Config, 'CALENDAR_SYNC_ADMIN_TOKEN'>): Promise<string | null> {
  const configured = config.CALENDAR_SYNC_ADMIN_TOKEN;
  if (configured) {
    const [existing] = await db.select({ id: apiTokens.id }).from(apiTokens).where(eq(apiTokens.tokenHash, sha256(configured)));
    if (!existing) await createToken(db, { name: 'bootstrap (CALENDAR_SYNC_ADMIN_TOKEN)', role: 'sysadmin', adminId: null, value: configured });
    return null;
  }
  const [sysadmin] = await db
    .select({ id: apiTokens.id })
    .from(apiTokens)
    .where(and(eq(apiTokens.role, 'sysadmin'), isNull(apiTokens.revokedAt)))
    .limit(1);
  if (sysadmin) return null;
  return (await createToken(db, { name: 'bootstrap', role: 'sysadmin', adminId: null })).value;
}

export function bearerAuth(db: Db): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const header = c.req.header('authorization') ?? '';
    const match = /^Bearer\s+(\S+)$/i.exec(header);
    const challenge = { 'WWW-Authenticate': 'Bearer realm="calendar-sync"' };
    if (!match) return problemResponse(c, 401, 'Send an API token as "Authorization: Bearer <token>".', undefined, challenge);
    const [row] = await db.select().from(apiTokens).where(eq(apiTokens.tokenHash, sha256(match[1]!)));
    if (!row || row.revokedAt) return problemResponse(c, 401, 'The API token is not valid or has been revoked.', undefined, challenge);
    if (!row.lastUsedAt || Date.now() - row.lastUsedAt.getTime() > LAST_USED_RESOLUTION_MS) {
      await db.update(apiTokens).set({ lastUsedAt: sql`now()` }).where(eq(apiTokens.id, row.id));
    }
    c.set('principal', { tokenId: row.id, name: row.name, role: row.role, adminId: row.adminId });
    await next();
  };
}

export function requireSysadmin(c: Context<AppEnv>): Principal {
  const p = c.get('principal');
  if (p.role !== 'sysadmin') throw forbidden('This needs a sysadmin token.');
  return p;
}

/** Sysadmins reach every admin; an admin token reaches only its own admin. */
export function requireAdminAccess(c: Context<AppEnv>, adminId: string): Principal {
  const p = c.get('principal');
  if (p.role !== 'sysadmin' && p.adminId !== adminId) throw forbidden('This token may only access its own admin.');
  return p;
}
