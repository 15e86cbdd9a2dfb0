// One read of SysAid for the whole installation: the admin list (when due), then the SRs changed since the
// last read, turned into calendar items in the shared item store, and the admins whose items changed told to
// sync. A few requests per interval, however many admins there are.
//
// Safety: the read is complete or nothing is applied (every page is fetched before the database is touched),
// and items are only ever removed because SysAid said so for that SR (archived, closed, reassigned, date
// cleared) — never because an SR is missing from a read.
import { and, eq, inArray, isNotNull, isNull, sql } from 'drizzle-orm';
import type { Db } from '../../../db/client';
import { getSourceConfig } from '../../../db/repositories';
import { admins, adminSettings, calendarItems, sourceConfig } from '../../../db/schema';
import type { Sealer } from '../../../db/seal';
import { canonicalJson } from '../../sync/hash';
import { ITEM_TYPES, type CalendarItem } from '../../sync/types';
import { rowToItem, saveItems } from '../builtin';
import { createSysaidClient, type SysaidClient } from './client';
import { SR_FIELDS, srItemKeys, srToItems, USER_FIELDS, userToAdmin, type DiscoveredAdmin } from './mapping';
import { sysaidSettingsSchema, type SysaidSettings } from './settings';

export interface SysaidReadDeps {
  db: Db;
  sealer: Sealer;
  /** Tells running admin workflows to sync, and stops those of removed admins. */
  fleet?: { signal(adminId: string, name: 'syncNow'): Promise<boolean>; stop(adminId: string, removeEvents: boolean): Promise<boolean> };
  now?: () => Date;
}

export interface SysaidReadResult {
  status: 'read' | 'disabled';
  admins: { added: number; updated: number; removed: number; returned: number; skipped: number } | null;
  srs: number;
  itemsWritten: number;
  itemsRemoved: number;
  adminsSignalled: number;
  requests: number;
  logins: number;
  highWater: string | null;
}

const DAY_MS = 86_400_000;

export async function readSysaid(deps: SysaidReadDeps): Promise<SysaidReadResult> {
  const cfg = await getSourceConfig(deps.db);
  const empty: SysaidReadResult = { status: 'disabled', admins: null, srs: 0, itemsWritten: 0, itemsRemoved: 0, adminsSignalled: 0, requests: 0, logins: 0, highWater: cfg.srHighWater };
  if (cfg.mode === 'builtin') return empty;
  const settings = sysaidSettingsSchema.parse(cfg.settings);
  const secrets = cfg.secrets ? deps.sealer.unseal<{ password?: string }>(cfg.secrets) : {};
  const client = createSysaidClient(deps, settings, secrets);
  const now = deps.now?.() ?? new Date();
  try {
    const result = await readOnce(deps, client, settings, cfg, now);
    await deps.db.update(sourceConfig).set({ lastReadAt: now, lastReadError: null, lastReadStats: { ...result } }).where(eq(sourceConfig.id, 1));
    return result;
  } catch (err) {
    await deps.db.update(sourceConfig).set({ lastReadAt: now, lastReadError: (err as Error).message }).where(eq(sourceConfig.id, 1));
    throw err;
  }
}

async function readOnce(deps: SysaidReadDeps, client: SysaidClient, settings: SysaidSettings, cfg: Awaited<ReturnType<typeof getSourceConfig>>, now: Date): Promise<SysaidReadResult> {
  const { db } = deps;
  // 1. Admins, when due: the directory changes rarely.
  let adminStats: SysaidReadResult['admins'] = null;
  const refreshDue = !cfg.adminsRefreshedAt || now.getTime() - cfg.adminsRefreshedAt.getTime() >= settings.adminRefreshMinutes * 60_000;
  if (refreshDue) {
    const users = await client.listAll('/users', { type: 'admin', fields: USER_FIELDS.join(',') });
    const discovered = users.map((u) => userToAdmin(u, settings.defaultTimeZone));
    const { stats, removed } = await applyAdmins(db, discovered.filter((a): a is DiscoveredAdmin => a !== null), now);
    adminStats = { ...stats, skipped: discovered.filter((a) => a === null).length };
    await db.update(sourceConfig).set({ adminsRefreshedAt: now }).where(eq(sourceConfig.id, 1));
    for (const adminId of removed) await deps.fleet?.stop(adminId, settings.removeEventsOfRemovedAdmins);
  }

  // 2. SRs changed since the last read (the first read takes `firstReadDays`), oldest change first.
  const from = cfg.srHighWater ? Number(cfg.srHighWater) : now.getTime() - settings.firstReadDays * DAY_MS;
  const query = { type: 'all', fields: SR_FIELDS.join(','), sort: 'update_time', dir: 'asc', update_time: `${from},0` };
  const open = await client.listAll('/sr', { ...query, archive: '0' });
  // Archived SRs only matter once we may have exported them.
  const archived = cfg.srHighWater ? await client.listAll('/sr', { ...query, archive: '1' }) : [];

  const known = new Set(
    (await db.select({ id: admins.sysaidUserId }).from(admins).where(and(isNotNull(admins.sysaidUserId), isNull(admins.removedAt)))).map((r) => r.id!),
  );
  const linkBaseUrl = settings.linkBaseUrl ?? settings.baseUrl;
  const srs = [...open, ...archived].map((sr) => srToItems(sr, { linkBaseUrl, isAdmin: (id) => known.has(id) }));
  const highWater = srs.reduce((max, s) => Math.max(max, s.updateTime), cfg.srHighWater ? Number(cfg.srHighWater) : 0);

  // 3. Apply, all in one transaction: write what changed, remove what SysAid no longer assigns.
  const affected = new Set<string>();
  let itemsWritten = 0;
  let itemsRemoved = 0;
  await db.transaction(async (tx) => {
    const keys = srs.flatMap((s) => srItemKeys(s.srId));
    const existing = new Map<string, Array<typeof calendarItems.$inferSelect>>();
    for (let i = 0; i < keys.length; i += 500) {
      const rows = await tx
        .select()
        .from(calendarItems)
        .where(and(eq(calendarItems.source, 'sysaid'), isNull(calendarItems.deletedAt), inArray(calendarItems.key, keys.slice(i, i + 500))));
      for (const r of rows) existing.set(r.key, [...(existing.get(r.key) ?? []), r]);
    }
    const writes: CalendarItem[] = [];
    for (const sr of srs) {
      for (const key of srItemKeys(sr.srId)) {
        const want = sr.items.find((i) => i.key === key);
        for (const row of existing.get(key) ?? []) {
          if (want && row.adminId === want.adminId) continue;
          await tx.update(calendarItems).set({ deletedAt: now }).where(and(eq(calendarItems.adminId, row.adminId), eq(calendarItems.key, key)));
          affected.add(row.adminId);
          itemsRemoved++;
        }
        if (!want) continue;
        const current = (existing.get(key) ?? []).find((r) => r.adminId === want.adminId);
        if (current && sameItem(rowToItem(current), want)) continue;
        writes.push(want);
        affected.add(want.adminId);
      }
    }
    await saveItems(tx as unknown as Db, writes, 'sysaid');
    itemsWritten = writes.length;
    await tx.update(sourceConfig).set({ srHighWater: highWater ? String(highWater) : cfg.srHighWater }).where(eq(sourceConfig.id, 1));
  });

  // 4. The admins whose calendars change sync now (a stopped or disabled one picks it up when enabled).
  let adminsSignalled = 0;
  for (const adminId of affected) if (await deps.fleet?.signal(adminId, 'syncNow')) adminsSignalled++;
  return {
    status: 'read',
    admins: adminStats,
    srs: srs.length,
    itemsWritten,
    itemsRemoved,
    adminsSignalled,
    requests: client.stats.requests,
    logins: client.stats.logins,
    highWater: highWater ? String(highWater) : cfg.srHighWater,
  };
}

// Sorted keys: jsonb does not keep the key order items were written with.
const comparable = (i: CalendarItem) => canonicalJson([i.type, i.title, i.body, i.url, i.timing, i.statusClass, i.parent]);
const sameItem = (a: CalendarItem, b: CalendarItem) => comparable(a) === comparable(b);

/** Upserts discovered admins (new ones with sync off) and marks those gone from SysAid as removed. */
async function applyAdmins(db: Db, found: DiscoveredAdmin[], now: Date) {
  const stats = { added: 0, updated: 0, removed: 0, returned: 0 };
  const removed: string[] = [];
  const current = await db.select().from(admins).where(isNotNull(admins.sysaidUserId));
  const byId = new Map(current.map((a) => [a.id, a]));
  const seen = new Set(found.map((a) => a.id));
  await db.transaction(async (tx) => {
    for (const a of found) {
      const row = byId.get(a.id);
      if (!row) {
        await tx.insert(admins).values({ id: a.id, displayName: a.displayName, email: a.email, timeZone: a.timeZone, sysaidUserId: a.sysaidUserId }).onConflictDoNothing();
        await tx.insert(adminSettings).values({ adminId: a.id, syncEnabled: false, itemTypes: [...ITEM_TYPES] }).onConflictDoNothing();
        stats.added++;
      } else if (row.displayName !== a.displayName || row.email !== a.email || row.timeZone !== a.timeZone || row.removedAt) {
        if (row.removedAt) stats.returned++;
        else stats.updated++;
        await tx.update(admins).set({ displayName: a.displayName, email: a.email, timeZone: a.timeZone, removedAt: null, updatedAt: now }).where(eq(admins.id, a.id));
      }
    }
    for (const row of current) {
      if (seen.has(row.id) || row.removedAt) continue;
      // Gone from SysAid (or disabled, or no longer an admin): sync off, workflow stopped by the caller.
      await tx.update(admins).set({ removedAt: now, updatedAt: now }).where(eq(admins.id, row.id));
      await tx.update(adminSettings).set({ syncEnabled: false, version: sql`${adminSettings.version} + 1`, updatedAt: now }).where(eq(adminSettings.adminId, row.id));
      removed.push(row.id);
      stats.removed++;
    }
  });
  return { stats, removed };
}
