// One read of SysAid for the whole installation: the admin list (when due), the SRs changed since the last read,
// a periodic check for deleted SRs, all turned into calendar items in the shared item store, and the admins whose
// items changed told to sync. A few requests per interval, however many admins there are.
//
// Ordering rule: SysAid sorts on one field only, so ties on update_time have no order a reader could page through
// by position. The read asks for every SR with update_time ≥ the mark, sorted by update_time, and pages until an
// empty page, then checks the number read against GET /sr/count (an SR that changes while pages are read moves
// to the end and shifts the offsets). The mark then moves past every change read, but never past SysAid's clock
// minus SETTLE_MS: changes of the last minute are read once more, so one committed late under an earlier time is
// never missed, and a tie group however large is read once.
//
// Safety: the read is complete or nothing is applied (every page is fetched before the database is touched), and
// items are only removed because SysAid said so for that SR (archived, deleted, closed, reassigned, date cleared),
// never because an SR is missing from a read; the admins' plans then delete the events, under the mass-deletion
// guard.
import { and, eq, inArray, isNotNull, isNull, sql } from 'drizzle-orm';
import type { Db } from '../../../db/client';
import { getSourceConfig } from '../../../db/repositories';
import { admins, adminSettings, calendarItems, sourceConfig, type SourceConfigRow } from '../../../db/schema';
import type { Sealer } from '../../../db/seal';
import { transient } from '../../providers/errors';
import { canonicalJson } from '../../sync/hash';
import { ITEM_TYPES, type CalendarItem } from '../../sync/types';
import { rowToItem, saveItems } from '../builtin';
import { pageAll, type ClientOptions, type SrQuery, type SysaidApi } from './client';
import { createSysaidApi } from './index';
import { adminLookup, srItemKeys, srToItems, userToAdmin, type DiscoveredAdmin, type ServiceRecord } from './mapping';
import { sysaidSettingsSchema, type SysaidSecrets, type SysaidSettings } from './settings';

export interface SysaidReadDeps {
  db: Db;
  sealer: Sealer;
  /** Tells running admin workflows to sync, and stops those of removed admins. */
  fleet?: { signal(adminId: string, name: 'syncNow'): Promise<boolean>; stop(adminId: string, removeEvents: boolean): Promise<boolean> };
  now?: () => Date;
  /** In an activity: waits for the budget in place (heartbeating), so a read larger than one window completes. */
  pause?: ClientOptions['pause'];
  heartbeat?: ClientOptions['heartbeat'];
}

export type ChangeDetection = 'update_time' | 'due-date-window';

export interface SysaidReadResult {
  status: 'read' | 'disabled';
  admins: { added: number; updated: number; removed: number; returned: number; skipped: number } | null;
  /** How changes were found: by update_time, or (where SysAid cannot filter on it) by due-date window and insertion reads. */
  changeDetection: ChangeDetection | null;
  /** Service records read to find changes. */
  srs: number;
  itemsWritten: number;
  itemsRemoved: number;
  adminsSignalled: number;
  requests: number;
  logins: number;
  highWater: string | null;
  /** The check for deleted SRs, when one ran: SRs checked, found deleted or archived, requests it used, whether it went through all. */
  existenceCheck: { checked: number; deleted: number; archived: number; requests: number; complete: boolean } | null;
  warnings: string[];
}

const DAY_MS = 86_400_000;
/** Changes newer than this (by SysAid's clock) are read again next time: one committed late under an earlier time is never missed. */
export const SETTLE_MS = 60_000;
/** Ids per request of the existence check (they go into the URL). */
const IDS_PER_REQUEST = 100;
/** A read whose count does not add up is read again this often before it fails (and Temporal retries it later). */
const VERIFY_ATTEMPTS = 3;
/** The sync window of the due-date reads when no admin has settings yet. */
const DEFAULT_WINDOW = { daysBack: 30, daysForward: 365 };

/** What GET /api/source and the read say about update_time; null when it is a working filter. */
export function updateTimeWarning(filter: SourceConfigRow['updateTimeFilter']): string | null {
  const instead = 'calendar-sync reads, every interval, the service records with a due date in the sync window, the new ones (insert_time) and those it has items for: more requests than a change-driven read, and a follow-up added to an older service record without a due date in the window is not seen';
  if (filter === 'absent') return `update_time is not a list filter on this SysAid (GET /filters does not list it): ${instead}.`;
  if (filter === 'ignored') return `SysAid ignored the update_time filter (it returned service records changed before the time asked for): ${instead}. Saving the source checks the filter again.`;
  return null;
}
export const changeDetectionOf = (filter: SourceConfigRow['updateTimeFilter']): ChangeDetection => (filter === 'absent' || filter === 'ignored' ? 'due-date-window' : 'update_time');

export async function readSysaid(deps: SysaidReadDeps): Promise<SysaidReadResult> {
  const cfg = await getSourceConfig(deps.db);
  const empty: SysaidReadResult = { status: 'disabled', admins: null, changeDetection: null, srs: 0, itemsWritten: 0, itemsRemoved: 0, adminsSignalled: 0, requests: 0, logins: 0, highWater: cfg.srHighWater, existenceCheck: null, warnings: [] };
  if (cfg.mode === 'builtin') return empty;
  const settings = sysaidSettingsSchema.parse(cfg.settings);
  const secrets = cfg.secrets ? deps.sealer.unseal<SysaidSecrets>(cfg.secrets) : {};
  const api = createSysaidApi(deps, settings, secrets, { pause: deps.pause, heartbeat: deps.heartbeat });
  const now = deps.now?.() ?? new Date();
  try {
    const result = await readOnce(deps, api, settings, cfg, now);
    await deps.db.update(sourceConfig).set({ lastReadAt: now, lastReadError: null, lastReadStats: { ...result } }).where(eq(sourceConfig.id, 1));
    return result;
  } catch (err) {
    await deps.db.update(sourceConfig).set({ lastReadAt: now, lastReadError: (err as Error).message }).where(eq(sourceConfig.id, 1));
    throw err;
  }
}

/**
 * Every SR the query selects. Pages are asked for by offset; SysAid may cap a page below what was asked, so a short
 * page is only taken for the last one once GET /sr/count agrees with what was read (an SR that changes while the
 * pages are read moves to the end and shifts the offsets, so a read that does not add up is read again).
 */
async function completeRead(api: SysaidApi, query: SrQuery): Promise<ServiceRecord[]> {
  for (let attempt = 1; ; attempt++) {
    // An SR that changed while the pages were read comes twice: its later (newer) version wins.
    const read = new Map<string, ServiceRecord>();
    let counted: number | null = null;
    // Pages this long are full: no count is needed after them (the server's cap, once a short page was followed by more).
    let full = api.pageLimit;
    for (let offset = 0; ; ) {
      const page = await api.srPage(query, offset);
      for (const sr of page) read.set(sr.id, sr);
      offset += page.length;
      if (page.length === 0) break;
      if (page.length < full) {
        counted = await api.countSrs(query);
        if (counted === read.size) return [...read.values()];
        full = page.length;
      }
    }
    if (read.size === 0) return [];
    counted = await api.countSrs(query);
    if (counted === read.size) return [...read.values()];
    if (attempt === VERIFY_ATTEMPTS) throw transient(`SysAid’s service records changed while they were read (${read.size} read, ${counted} counted, ${attempt} times); the read is retried later as a whole.`);
  }
}

/** Where the next read starts: past every time read here, but not past SysAid's clock minus the settle time. */
function nextMark(from: number, times: number[], serverNow: number): number {
  const newest = times.reduce((max, t) => Math.max(max, t), 0);
  return newest ? Math.max(from, Math.min(newest, serverNow - SETTLE_MS) + 1) : from;
}

/** Per SR: its state as read (null = deleted). Of two reads of one SR, the newer wins; a deletion never hides a read. */
type SrStates = Map<string, ServiceRecord | null>;
function note(states: SrStates, id: string, sr: ServiceRecord | null) {
  const known = states.get(id);
  if (known === undefined || (sr && (!known || sr.updateTime >= known.updateTime))) states.set(id, sr);
}

async function readOnce(deps: SysaidReadDeps, api: SysaidApi, settings: SysaidSettings, cfg: SourceConfigRow, now: Date): Promise<SysaidReadResult> {
  const { db } = deps;
  const warnings: string[] = [];
  // 1. Admins and this instance's list filters, when due: they change rarely.
  let adminStats: SysaidReadResult['admins'] = null;
  let userNames = cfg.adminUserNames ?? {};
  const refreshDue = !cfg.adminsRefreshedAt || now.getTime() - cfg.adminsRefreshedAt.getTime() >= settings.adminRefreshMinutes * 60_000;
  if (refreshDue) {
    const discovered = (await api.admins()).map((u) => userToAdmin(u, settings.defaultTimeZone));
    const found = discovered.filter((a): a is DiscoveredAdmin => a !== null);
    const { stats, removed } = await applyAdmins(db, found, now);
    adminStats = { ...stats, skipped: discovered.filter((a) => a === null).length };
    userNames = Object.fromEntries(found.filter((a) => a.userName).map((a) => [a.userName.toLowerCase(), a.sysaidUserId]));
    await db.update(sourceConfig).set({ adminsRefreshedAt: now, adminUserNames: userNames }).where(eq(sourceConfig.id, 1));
    for (const adminId of removed) await deps.fleet?.stop(adminId, settings.removeEventsOfRemovedAdmins);
  }
  let updateTimeFilter = cfg.updateTimeFilter;
  if (updateTimeFilter !== 'ignored' && (refreshDue || !cfg.filtersCheckedAt)) {
    const filters = await api.filters();
    updateTimeFilter = !filters || filters.updateTime ? 'filter' : 'absent';
    await db.update(sourceConfig).set({ updateTimeFilter, filtersCheckedAt: now }).where(eq(sourceConfig.id, 1));
  }

  // 2. What changed.
  const states: SrStates = new Map();
  let srsRead = 0;
  let highWater = cfg.srHighWater;
  let insertHighWater = cfg.srInsertHighWater;
  const firstFrom = now.getTime() - settings.firstReadDays * DAY_MS;
  if (changeDetectionOf(updateTimeFilter) === 'update_time') {
    const from = cfg.srHighWater ? Number(cfg.srHighWater) : firstFrom;
    const open = await completeRead(api, { archived: false, updatedFrom: from });
    // Archived SRs only matter once we may have exported them.
    const archived = cfg.srHighWater ? await completeRead(api, { archived: true, updatedFrom: from }) : [];
    const changed = [...open, ...archived];
    if (changed.some((s) => s.updateTime > 0 && s.updateTime < from)) {
      // SysAid returned SRs changed before the mark: the filter is ignored. This read is still a full one.
      updateTimeFilter = 'ignored';
      await db.update(sourceConfig).set({ updateTimeFilter, filtersCheckedAt: now }).where(eq(sourceConfig.id, 1));
    }
    for (const sr of changed) note(states, sr.id, sr);
    srsRead = changed.length;
    highWater = String(nextMark(from, changed.map((s) => s.updateTime), api.serverNow()));
  } else {
    const window = await syncWindow(db);
    const due = await completeRead(api, { archived: false, dueFrom: now.getTime() - window.daysBack * DAY_MS, dueTo: now.getTime() + window.daysForward * DAY_MS });
    const insertedFrom = cfg.srInsertHighWater ? Number(cfg.srInsertHighWater) : firstFrom;
    const fresh = await completeRead(api, { archived: false, insertedFrom });
    for (const sr of [...due, ...fresh]) note(states, sr.id, sr);
    // The SRs with items that neither read returned: their due date moved out or was cleared, or they are gone.
    const held = (await liveSrIds(db)).filter((id) => !states.has(id));
    const heldStates = await byIds(api, held);
    for (const [id, sr] of heldStates) note(states, id, sr);
    srsRead = due.length + fresh.length + [...heldStates.values()].filter(Boolean).length;
    insertHighWater = String(nextMark(insertedFrom, fresh.map((s) => s.insertTime), api.serverNow()));
  }
  const filterWarning = updateTimeWarning(updateTimeFilter);
  if (filterWarning) warnings.push(filterWarning);

  // 3. Deleted SRs: SysAid has no deletion feed, so the SRs with items are looked up by id now and then, within a budget.
  const existence = existenceDue(cfg, settings, now) ? await existenceCheck(db, api, settings, cfg) : null;
  if (existence) for (const [id, sr] of existence.states) note(states, id, sr);

  // 4. Apply, all in one transaction: write what changed, remove what SysAid no longer gives.
  const known = (await db.select({ id: admins.sysaidUserId }).from(admins).where(and(isNotNull(admins.sysaidUserId), isNull(admins.removedAt)))).map((r) => r.id!);
  const ctx = { linkBaseUrl: settings.linkBaseUrl ?? settings.baseUrl, adminFor: adminLookup(known, userNames), closedStatusIds: settings.closedStatusIds };
  const affected = new Set<string>();
  let itemsWritten = 0;
  let itemsRemoved = 0;
  await db.transaction(async (tx) => {
    const keys = [...states.keys()].flatMap(srItemKeys);
    const existing = new Map<string, Array<typeof calendarItems.$inferSelect>>();
    for (let i = 0; i < keys.length; i += 500) {
      const rows = await tx
        .select()
        .from(calendarItems)
        .where(and(eq(calendarItems.source, 'sysaid'), isNull(calendarItems.deletedAt), inArray(calendarItems.key, keys.slice(i, i + 500))));
      for (const r of rows) existing.set(r.key, [...(existing.get(r.key) ?? []), r]);
    }
    const writes: CalendarItem[] = [];
    for (const [srId, sr] of states) {
      const wanted = sr ? srToItems(sr, ctx).items : [];
      for (const key of srItemKeys(srId)) {
        const want = wanted.find((i) => i.key === key);
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
    await tx
      .update(sourceConfig)
      .set({
        srHighWater: highWater,
        srInsertHighWater: insertHighWater,
        ...(existence ? { existenceCursor: existence.cursor, ...(existence.complete ? { existenceCheckedAt: now } : {}) } : {}),
      })
      .where(eq(sourceConfig.id, 1));
  });

  // 5. The admins whose calendars change sync now (a stopped or disabled one picks it up when enabled).
  let adminsSignalled = 0;
  for (const adminId of affected) if (await deps.fleet?.signal(adminId, 'syncNow')) adminsSignalled++;
  return {
    status: 'read',
    admins: adminStats,
    changeDetection: changeDetectionOf(updateTimeFilter),
    srs: srsRead,
    itemsWritten,
    itemsRemoved,
    adminsSignalled,
    requests: api.stats.requests,
    logins: api.stats.logins,
    highWater,
    existenceCheck: existence && { checked: existence.checked, deleted: existence.deleted, archived: existence.archived, requests: existence.requests, complete: existence.complete },
    warnings,
  };
}

/** SR ids the item store holds live items for, in id order. */
async function liveSrIds(db: Db): Promise<string[]> {
  const rows = await db
    .selectDistinct({ id: sql<string>`split_part(${calendarItems.key}, ':', 3)` })
    .from(calendarItems)
    .where(and(eq(calendarItems.source, 'sysaid'), isNull(calendarItems.deletedAt)));
  return rows.map((r) => r.id).sort(byId);
}
const byId = (a: string, b: string) => (/^\d+$/.test(a) && /^\d+$/.test(b) ? Number(a) - Number(b) : a < b ? -1 : a > b ? 1 : 0);

/** SRs by id: open, else archived, else deleted (null). */
async function byIds(api: SysaidApi, ids: string[]): Promise<SrStates> {
  const states: SrStates = new Map();
  const lookUp = (query: SrQuery) => pageAll((offset) => api.srPage(query, offset), { atMost: query.ids!.length });
  for (let i = 0; i < ids.length; i += IDS_PER_REQUEST) {
    const chunk = ids.slice(i, i + IDS_PER_REQUEST);
    for (const sr of await lookUp({ archived: false, ids: chunk })) states.set(sr.id, sr);
    const rest = chunk.filter((id) => !states.has(id));
    if (rest.length) for (const sr of await lookUp({ archived: true, ids: rest })) states.set(sr.id, sr);
    for (const id of chunk) if (!states.has(id)) states.set(id, null);
  }
  return states;
}

const existenceDue = (cfg: SourceConfigRow, settings: SysaidSettings, now: Date) =>
  cfg.existenceCursor !== null || !cfg.existenceCheckedAt || now.getTime() - cfg.existenceCheckedAt.getTime() >= settings.existenceCheckMinutes * 60_000;

/** Looks the SRs with items up by id, from where the last pass stopped, within `existenceCheckMaxRequests`. */
async function existenceCheck(db: Db, api: SysaidApi, settings: SysaidSettings, cfg: SourceConfigRow) {
  const start = api.stats.requests;
  const cursor = cfg.existenceCursor;
  const ids = (await liveSrIds(db)).filter((id) => cursor === null || byId(id, cursor) > 0);
  const states: SrStates = new Map();
  let last: string | null = null;
  let complete = true;
  for (let i = 0; i < ids.length; i += IDS_PER_REQUEST) {
    // A chunk takes one request for the open SRs and one for the rest, plus one when a page comes back short; the
    // first chunk always goes, so a pass moves on whatever the budget.
    if (last !== null && api.stats.requests - start + 3 > settings.existenceCheckMaxRequests) {
      complete = false;
      break;
    }
    const chunk = ids.slice(i, i + IDS_PER_REQUEST);
    for (const [id, sr] of await byIds(api, chunk)) states.set(id, sr);
    last = chunk.at(-1)!;
  }
  const found = [...states.values()];
  return {
    states,
    checked: states.size,
    deleted: found.filter((s) => s === null).length,
    archived: found.filter((s) => s?.archived).length,
    requests: api.stats.requests - start,
    complete,
    cursor: complete ? null : last ?? cursor,
  };
}

/** The widest sync window of SysAid's admins: the due-date reads cover every admin's window. */
async function syncWindow(db: Db): Promise<{ daysBack: number; daysForward: number }> {
  const [row] = await db
    .select({ daysBack: sql<number | null>`max(${adminSettings.daysBack})`, daysForward: sql<number | null>`max(${adminSettings.daysForward})` })
    .from(adminSettings)
    .innerJoin(admins, eq(admins.id, adminSettings.adminId))
    .where(isNotNull(admins.sysaidUserId));
  return { daysBack: Number(row?.daysBack ?? DEFAULT_WINDOW.daysBack), daysForward: Number(row?.daysForward ?? DEFAULT_WINDOW.daysForward) };
}

// Sorted keys: jsonb does not keep the key order items were written with.
const comparable = (i: CalendarItem) => canonicalJson([i.type, i.title, i.body, i.url, i.timing, i.statusClass, i.parent]);
const sameItem = (a: CalendarItem, b: CalendarItem) => comparable(a) === comparable(b);

/** Upserts discovered admins (new ones with sync off) and marks those gone from SysAid as removed. */
async function applyAdmins(db: Db, found: DiscoveredAdmin[], now: Date) {
  const stats = { added: 0, updated: 0, removed: 0, returned: 0 };
  const removed: string[] = [];
  const current = await db.select().from(admins).where(isNotNull(admins.sysaidUserId));
  const byAdminId = new Map(current.map((a) => [a.id, a]));
  const seen = new Set(found.map((a) => a.id));
  await db.transaction(async (tx) => {
    for (const a of found) {
      const row = byAdminId.get(a.id);
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
