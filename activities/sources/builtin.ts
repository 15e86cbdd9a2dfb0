// The built-in source: items pushed through the API into `calendar_items` (soft-deleted with deleted_at).
import { and, eq, gte, inArray, isNull, lt, sql } from 'drizzle-orm';
import type { Db } from '../../db/client';
import { calendarItems, type CalendarItemRow } from '../../db/schema';
import { windowInstant } from '../sync/time';
import type { CalendarItem, ItemTiming } from '../sync/types';
import type { ItemSource } from './types';

export function rowToItem(row: CalendarItemRow): CalendarItem {
  return {
    key: row.key,
    type: row.type as CalendarItem['type'],
    adminId: row.adminId,
    title: row.title,
    body: row.body,
    url: row.url,
    timing: row.timing as unknown as ItemTiming,
    statusClass: (row.statusClass as CalendarItem['statusClass']) ?? null,
    parent: (row.parent as CalendarItem['parent']) ?? null,
    updatedAt: row.updatedAt.toISOString(),
  };
}

export function createBuiltinSource(db: Db): ItemSource {
  return {
    name: 'builtin',
    async listItems(adminId, window) {
      const rows = await db
        .select()
        .from(calendarItems)
        .where(
          and(
            eq(calendarItems.adminId, adminId),
            isNull(calendarItems.deletedAt),
            gte(calendarItems.startsAt, new Date(window.startUtc)),
            lt(calendarItems.startsAt, new Date(window.endUtc)),
          ),
        );
      return rows.map(rowToItem);
    },
    async getItems(adminId, keys) {
      if (keys.length === 0) return [];
      const rows = await db
        .select()
        .from(calendarItems)
        .where(and(eq(calendarItems.adminId, adminId), isNull(calendarItems.deletedAt), inArray(calendarItems.key, keys)));
      return rows.map(rowToItem);
    },
  };
}

/** Upserts an item into the built-in source (a re-push of a deleted key brings it back). */
export async function saveItem(db: Db, item: CalendarItem): Promise<void> {
  await saveItems(db, [item]);
}

/** Upserts many items, 500 rows per statement; `source` says who owns them (the SysAid reader owns `sysaid`). */
export async function saveItems(db: Db, items: CalendarItem[], source: 'builtin' | 'sysaid' = 'builtin'): Promise<void> {
  const rows = items.map((item) => ({ ...itemRow(item), source }));
  for (let i = 0; i < rows.length; i += 500) {
    await db
      .insert(calendarItems)
      .values(rows.slice(i, i + 500))
      .onConflictDoUpdate({
        target: [calendarItems.adminId, calendarItems.key],
        set: Object.fromEntries(UPDATED_COLUMNS.map((c) => [c, sql.raw(`excluded.${calendarItems[c].name}`)])),
      });
  }
}

const UPDATED_COLUMNS = ['type', 'timing', 'startsAt', 'title', 'body', 'url', 'statusClass', 'parent', 'updatedAt', 'deletedAt', 'source'] as const;

function itemRow(item: CalendarItem) {
  return {
    key: item.key,
    adminId: item.adminId,
    type: item.type,
    timing: item.timing as unknown as Record<string, unknown>,
    startsAt: new Date(windowInstant(item.timing)),
    title: item.title,
    body: item.body,
    url: item.url,
    statusClass: item.statusClass,
    parent: item.parent,
    updatedAt: new Date(item.updatedAt),
    deletedAt: null,
  };
}

/** Soft-deletes an item; answers whether it existed. */
export async function deleteItem(db: Db, adminId: string, key: string): Promise<boolean> {
  const rows = await db
    .update(calendarItems)
    .set({ deletedAt: new Date() })
    .where(and(eq(calendarItems.adminId, adminId), eq(calendarItems.key, key), isNull(calendarItems.deletedAt)))
    .returning({ key: calendarItems.key });
  return rows.length > 0;
}
