// Normalising items pushed into the built-in source, and the ownership marker. Pure, no I/O.
import { z } from 'zod';
import { addDays, isValidDate, isValidTimeZone, localDate, toUtcIso } from './time';
import { ITEM_TYPES, type CalendarItem, type ItemTiming } from './types';

export const ITEM_KEY_RE = /^[A-Za-z0-9][A-Za-z0-9:._-]{0,199}$/;
export const ADMIN_ID_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
const MIN_TIMED_MS = 30 * 60_000;

const instant = z
  .string()
  .refine((v) => /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})$/.test(v) && !Number.isNaN(Date.parse(v)), {
    message: 'must be an ISO-8601 instant with an offset, e.g. 2026-05-01T10:00:00Z',
  });
const date = z.string().refine(isValidDate, { message: 'must be a calendar date YYYY-MM-DD' });
const timeZone = z.string().refine(isValidTimeZone, { message: 'must be an IANA time zone such as Europe/Berlin' });

export const itemTimingInput = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('timed'), startUtc: instant, endUtc: instant }),
  z.object({ kind: z.literal('deadline'), atUtc: instant }),
  z
    .object({
      kind: z.literal('all_day'),
      /** Either the local date, or an instant whose date is taken in sourceTz (the zone it was entered in). */
      startDate: date.optional(),
      atUtc: instant.optional(),
      endDateExclusive: date.optional(),
      sourceTz: timeZone.default('UTC'),
    })
    .refine((t) => (t.startDate === undefined) !== (t.atUtc === undefined), {
      message: 'give exactly one of startDate or atUtc',
    }),
]);

export const calendarItemInput = z.object({
  adminId: z.string().regex(ADMIN_ID_RE, 'adminId must be 1-64 letters, digits, dots, dashes or underscores'),
  type: z.enum(ITEM_TYPES),
  title: z.string().trim().min(1, 'title is required').max(500),
  body: z.string().max(20_000).default(''),
  url: z.string().url().max(2000).nullable().default(null),
  timing: itemTimingInput,
  statusClass: z.enum(['open', 'closed']).nullable().default(null),
  parent: z.object({ type: z.string().min(1), id: z.string().min(1), display: z.string() }).nullable().default(null),
});
export type CalendarItemInput = z.input<typeof calendarItemInput>;

/** Applies the time rules: UTC instants, timed end after start (else +30 min), all-day end exclusive. */
export function normaliseTiming(t: z.output<typeof itemTimingInput>): ItemTiming {
  switch (t.kind) {
    case 'timed': {
      const start = toUtcIso(t.startUtc);
      const end = toUtcIso(t.endUtc);
      const endUtc = Date.parse(end) > Date.parse(start) ? end : new Date(Date.parse(start) + MIN_TIMED_MS).toISOString();
      return { kind: 'timed', startUtc: start, endUtc };
    }
    case 'deadline':
      return { kind: 'deadline', atUtc: toUtcIso(t.atUtc) };
    case 'all_day': {
      const startDate = t.startDate ?? localDate(t.atUtc!, t.sourceTz);
      const end = t.endDateExclusive && t.endDateExclusive > startDate ? t.endDateExclusive : addDays(startDate, 1);
      return { kind: 'all_day', startDate, endDateExclusive: end, sourceTz: t.sourceTz };
    }
  }
}

export function normaliseItem(key: string, input: z.output<typeof calendarItemInput>, updatedAt: Date): CalendarItem {
  return {
    key,
    type: input.type,
    adminId: input.adminId,
    title: input.title,
    body: input.body,
    url: input.url,
    timing: normaliseTiming(input.timing),
    statusClass: input.statusClass,
    parent: input.parent,
    updatedAt: updatedAt.toISOString(),
  };
}

/** `<installationId>/<adminId>/<itemKey>`: tags every event this installation owns. */
export const ownershipMarker = (installationId: string, adminId: string, itemKey: string) =>
  `${installationId}/${adminId}/${itemKey}`;
