// The built-in provider: each admin's events live in `feed_events` and are served as an ICS feed.
// It goes through the same plan/apply path as Graph, Google or EWS, so the embedded default exercises it all.
import { createHash } from 'node:crypto';
import { and, eq, sql } from 'drizzle-orm';
import ical, { ICalCalendarMethod, ICalEventClass, ICalEventTransparency } from 'ical-generator';
import type { Db } from '../../db/client';
import { feedEvents } from '../../db/schema';
import { eventBodyText } from '../sync/render';
import type { ExportedEvent } from '../sync/types';
import type { CalendarProvider, EventIdentity, Mailbox, RemoteRef } from './types';

/** Deterministic per marker and generation, so a retried create lands on the same event. */
export const feedEventUid = (identity: EventIdentity) =>
  `${createHash('sha256').update(`${identity.marker}#${identity.generation}`).digest('hex').slice(0, 32)}@calendar-sync`;

export function createIcsProvider(db: Db): CalendarProvider {
  return {
    name: 'ics',
    mailboxConcurrency: 4,
    async create(mailbox, identity, event) {
      const uid = feedEventUid(identity);
      const [row] = await db
        .insert(feedEvents)
        .values({ adminId: mailbox.adminId, uid, marker: identity.marker, event: event as never })
        .onConflictDoUpdate({
          target: [feedEvents.adminId, feedEvents.uid],
          set: { event: event as never, sequence: sql`${feedEvents.sequence} + 1`, updatedAt: new Date() },
        })
        .returning({ sequence: feedEvents.sequence });
      return { remoteId: uid, remoteVersion: String(row!.sequence) };
    },
    async update(mailbox, _identity, ref, event) {
      const rows = await db
        .update(feedEvents)
        .set({ event: event as never, sequence: sql`${feedEvents.sequence} + 1`, updatedAt: new Date() })
        .where(and(eq(feedEvents.adminId, mailbox.adminId), eq(feedEvents.uid, ref.remoteId)))
        .returning({ sequence: feedEvents.sequence });
      return rows[0] ? { remoteId: ref.remoteId, remoteVersion: String(rows[0].sequence) } : 'gone';
    },
    async delete(mailbox, _identity, ref) {
      await db.delete(feedEvents).where(and(eq(feedEvents.adminId, mailbox.adminId), eq(feedEvents.uid, ref.remoteId)));
    },
    async listManaged(mailbox) {
      const rows = await db.select().from(feedEvents).where(eq(feedEvents.adminId, mailbox.adminId));
      return rows.map((r) => ({ remoteId: r.uid, remoteVersion: String(r.sequence), marker: r.marker }));
    },
    async testConnection() {
      return [{ name: 'feed', ok: true, detail: 'ICS feeds are served by this application; each admin subscribes to their feed URL.' }];
    },
  };
}

export async function loadFeedEvents(db: Db, adminId: string) {
  return db.select().from(feedEvents).where(eq(feedEvents.adminId, adminId)).orderBy(feedEvents.uid);
}

/** RFC 5545 text of an admin's feed. Timed events in UTC; all-day events as DATE values with exclusive end. */
export function renderFeed(calendarName: string, rows: Awaited<ReturnType<typeof loadFeedEvents>>): string {
  const cal = ical({
    name: calendarName,
    prodId: { company: 'calendar-sync', product: 'calendar-sync', language: 'EN' },
    method: ICalCalendarMethod.PUBLISH,
    ttl: 300,
  });
  for (const row of rows) {
    const ev = row.event as unknown as ExportedEvent;
    const allDay = ev.time.kind === 'all_day';
    const start = ev.time.kind === 'all_day' ? new Date(`${ev.time.startDate}T00:00:00Z`) : new Date(ev.time.startUtc);
    const end = ev.time.kind === 'all_day' ? new Date(`${ev.time.endDateExclusive}T00:00:00Z`) : new Date(ev.time.endUtc);
    cal.createEvent({
      id: row.uid,
      sequence: row.sequence,
      stamp: row.updatedAt,
      created: row.createdAt,
      lastModified: row.updatedAt,
      start,
      end,
      allDay,
      summary: ev.title,
      description: eventBodyText(ev) || undefined,
      url: ev.url ?? undefined,
      transparency: ev.showAs === 'free' ? ICalEventTransparency.TRANSPARENT : ICalEventTransparency.OPAQUE,
      class: ev.sensitivity === 'private' ? ICalEventClass.PRIVATE : ICalEventClass.PUBLIC,
      categories: [{ name: ev.category }],
      alarms: ev.reminderMinutes === null ? [] : [{ type: 'display' as never, trigger: ev.reminderMinutes * 60 }],
      x: [{ key: 'X-CALENDAR-SYNC-MARKER', value: row.marker }],
    });
  }
  return cal.toString();
}

export type { Mailbox, RemoteRef };
