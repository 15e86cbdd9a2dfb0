// The database layer on both drivers: migrations, the integration row, the ICS provider's store and feed.
import { describe, expect, it } from 'vitest';
import { createIcsProvider, loadFeedEvents, renderFeed } from '../../activities/providers/ics';
import { createBuiltinSource, deleteItem, saveItem } from '../../activities/sources/builtin';
import { renderEvent } from '../../activities/sync/render';
import type { CalendarItem } from '../../activities/sync/types';
import { takeBudget } from '../../activities/sources/sysaid/budget';
import { sysaidSettingsSchema } from '../../activities/sources/sysaid/settings';
import { getIntegration, getSourceConfig } from '../../db/repositories';
import { insertRows } from '../../db/bulk';
import { admins, adminSettings, eventLinks, planChanges } from '../../db/schema';
import { and, eq } from 'drizzle-orm';
import { dbKinds, openTestDatabase } from '../helpers/db';

const item = (key: string, over: Partial<CalendarItem> = {}): CalendarItem => ({
  key,
  type: 'sr_due',
  adminId: 'alice',
  title: `Title, with; commas ${key}`,
  body: 'Line one\nLine two',
  url: 'https://helpdesk.example/sr/1',
  timing: { kind: 'deadline', atUtc: '2026-05-01T15:00:00.000Z' },
  statusClass: 'open',
  parent: null,
  updatedAt: '2026-04-01T00:00:00.000Z',
  ...over,
});
const mailbox = { adminId: 'alice', email: 'alice@example.test', timeZone: 'Europe/Berlin' };
const settings = { timeZone: 'Europe/Berlin', markPrivate: false, busyOnly: false };

describe.each(dbKinds)('database on %s', (kind) => {
  it('applies migrations idempotently and creates the integration row once', async () => {
    const database = await openTestDatabase(kind);
    try {
      await database.migrate();
      const a = await getIntegration(database.db);
      const b = await getIntegration(database.db);
      expect(a.installationId).toMatch(/^[0-9a-f-]{36}$/);
      expect(b.installationId).toBe(a.installationId);
      expect(a).toMatchObject({ protocol: 'ics', enabled: false, version: 1 });
    } finally {
      await database.close();
    }
  });

  it('stores built-in items, reads them by window and key, and soft-deletes them', async () => {
    const database = await openTestDatabase(kind);
    try {
      const { db } = database;
      await db.insert(admins).values({ id: 'alice', displayName: 'Alice', email: 'alice@example.test' });
      await saveItem(db, item('in'));
      await saveItem(db, item('out', { timing: { kind: 'deadline', atUtc: '2027-05-01T15:00:00.000Z' } }));
      const source = createBuiltinSource(db);
      const window = { startUtc: '2026-04-01T00:00:00.000Z', endUtc: '2026-06-01T00:00:00.000Z' };
      expect((await source.listItems('alice', window)).map((i) => i.key)).toEqual(['in']);
      expect((await source.getItems('alice', ['out', 'nope'])).map((i) => i.key)).toEqual(['out']);
      expect(await deleteItem(db, 'alice', 'in')).toBe(true);
      expect(await deleteItem(db, 'alice', 'in')).toBe(false);
      expect(await source.listItems('alice', window)).toEqual([]);
      await saveItem(db, item('in'));
      expect((await source.listItems('alice', window)).map((i) => i.key)).toEqual(['in']);
    } finally {
      await database.close();
    }
  });

  it('keeps ICS provider writes idempotent and renders a valid feed', async () => {
    const database = await openTestDatabase(kind);
    try {
      const ics = createIcsProvider(database.db);
      const identity = { marker: 'inst/alice/sysaid:sr:1:due', generation: 1 };
      const event = renderEvent(item('sysaid:sr:1:due'), settings);
      const first = await ics.create(mailbox, identity, event);
      const retried = await ics.create(mailbox, identity, event);
      expect(retried.remoteId).toBe(first.remoteId);
      expect((await ics.listManaged(mailbox, { startUtc: '', endUtc: '' })).map((m) => m.marker)).toEqual([identity.marker]);
      const updated = await ics.update(mailbox, identity, first, { ...event, title: 'Changed' });
      expect(updated).toMatchObject({ remoteId: first.remoteId });
      expect(await ics.update(mailbox, identity, { remoteId: 'missing@calendar-sync', remoteVersion: null }, event)).toBe('gone');
      await ics.create(mailbox, { marker: 'inst/alice/sysaid:software:9:expiration', generation: 1 }, renderEvent(item('sysaid:software:9:expiration', { type: 'software_expiry', timing: { kind: 'all_day', startDate: '2026-03-29', endDateExclusive: '2026-03-30', sourceTz: 'Europe/Berlin' } }), settings));

      const text = renderFeed('Alice', await loadFeedEvents(database.db, 'alice'));
      expect(text.startsWith('BEGIN:VCALENDAR\r\n')).toBe(true);
      expect(text).toContain('PRODID:-//calendar-sync//calendar-sync//EN');
      expect(text).toContain('SUMMARY:Changed');
      expect(text).toContain('DTSTART:20260501T143000Z');
      expect(text).toContain('DTEND:20260501T150000Z');
      expect(text).toContain('DTSTART;VALUE=DATE:20260329');
      expect(text).toContain('DTEND;VALUE=DATE:20260330');
      expect(text).toContain('DESCRIPTION:Line one\\nLine two\\n\\nOpen in the helpdesk: https://helpdesk.e');
      expect(text).toContain('TRANSP:TRANSPARENT');
      expect(text.match(/BEGIN:VEVENT/g)).toHaveLength(2);
      await ics.delete(mailbox, identity, first);
      await ics.delete(mailbox, identity, first);
      expect(renderFeed('Alice', await loadFeedEvents(database.db, 'alice')).match(/BEGIN:VEVENT/g)).toHaveLength(1);
    } finally {
      await database.close();
    }
  });

  it('inserts and upserts rows in one statement with exact values (text, jsonb, timestamps, nulls)', async () => {
    const database = await openTestDatabase(kind);
    try {
      const { db } = database;
      const runId = '0b7f9a52-52a4-4b8f-9a3e-3f0d8a1f2c11';
      const event = { title: 'Quote " backslash \\ emoji 📅 and \u00e9', nested: { list: [1, null, 'x'], empty: {} } };
      const at = new Date('2027-03-28T01:30:00.123Z');
      await insertRows(db, planChanges, [
        { runId, seq: 0, batchNo: 0, itemKey: 'sysaid:sr:1:due', op: 'create', reason: 'new', state: 'pending', event, contentHash: 'h1', itemStartsAt: at },
        { runId, seq: 1, batchNo: null, itemKey: "sysaid:sr:2:due'; drop table plan_changes; --", op: 'delete', reason: 'gone', state: 'held', event: null, contentHash: null, itemStartsAt: null },
      ]);
      const rows = await db.select().from(planChanges).where(eq(planChanges.runId, runId)).orderBy(planChanges.seq);
      expect(rows).toEqual([
        { runId, seq: 0, batchNo: 0, itemKey: 'sysaid:sr:1:due', op: 'create', reason: 'new', state: 'pending', event, contentHash: 'h1', itemStartsAt: at, error: null },
        { runId, seq: 1, batchNo: null, itemKey: "sysaid:sr:2:due'; drop table plan_changes; --", op: 'delete', reason: 'gone', state: 'held', event: null, contentHash: null, itemStartsAt: null, error: null },
      ]);

      // Upsert: the existing row takes every given column, a new row is added, other rows are untouched.
      const link = { adminId: 'alice', provider: 'ics', remoteId: 'r1', remoteVersion: 'v1', contentHash: 'h1', generation: 1, state: 'synced' as const, lastError: null, itemStartsAt: at, lastRunId: runId, syncedAt: at };
      await insertRows(db, eventLinks, [{ ...link, itemKey: 'a' }, { ...link, itemKey: 'b' }], { upsertOn: [eventLinks.adminId, eventLinks.provider, eventLinks.itemKey] });
      await insertRows(db, eventLinks, [{ ...link, itemKey: 'a', remoteVersion: 'v2', generation: 3, state: 'removed', remoteId: null }, { ...link, itemKey: 'c' }], { upsertOn: [eventLinks.adminId, eventLinks.provider, eventLinks.itemKey] });
      const links = await db.select().from(eventLinks).where(and(eq(eventLinks.adminId, 'alice'), eq(eventLinks.provider, 'ics'))).orderBy(eventLinks.itemKey);
      expect(links.map((l) => [l.itemKey, l.state, l.remoteId, l.remoteVersion, l.generation])).toEqual([
        ['a', 'removed', null, 'v2', 3],
        ['b', 'synced', 'r1', 'v1', 1],
        ['c', 'synced', 'r1', 'v1', 1],
      ]);
      expect(links[0]!.syncedAt).toEqual(at);

      // A column type it cannot carry is refused by name, not written wrongly.
      await expect(insertRows(db, adminSettings, [{ adminId: 'alice', itemTypes: ['sr_due'] }])).rejects.toThrow(/item_types/);
    } finally {
      await database.close();
    }
  });

  it('counts the shared SysAid budget atomically: parallel takers never exceed the share', async () => {
    const database = await openTestDatabase(kind);
    try {
      await getSourceConfig(database.db);
      const settings = sysaidSettingsSchema.parse({ baseUrl: 'https://sysaid.example', userName: 'api', maxRequestsPerWindow: 10, windowSeconds: 2 });
      const results = await Promise.all(Array.from({ length: 20 }, () => takeBudget(database.db, 'request', settings)));
      expect(results.filter((r) => r.ok)).toHaveLength(5);
      const waits = results.filter((r): r is { ok: false; retryAfterMs: number } => !r.ok).map((r) => r.retryAfterMs);
      expect(Math.max(...waits)).toBeLessThanOrEqual(2_000);
      expect((await takeBudget(database.db, 'login', settings)).ok).toBe(true);
      expect((await takeBudget(database.db, 'login', settings)).ok).toBe(false);
      await new Promise((r) => setTimeout(r, 2_050));
      expect((await takeBudget(database.db, 'request', settings)).ok).toBe(true);
    } finally {
      await database.close();
    }
  });
});
