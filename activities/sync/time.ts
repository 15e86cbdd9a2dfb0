// Time rules: instants in UTC, windows, zones, date arithmetic for all-day items, and the wall-clock times
// providers write. Pure, no I/O.
import type { ExportedEvent, ItemTiming, SyncWindow } from './types';

const DAY_MS = 86_400_000;

// Building an Intl.DateTimeFormat costs far more than using one (it loads the zone's rules): one per zone and shape.
const formatters = new Map<string, Intl.DateTimeFormat>();
function formatter(timeZone: string, withTime: boolean): Intl.DateTimeFormat {
  const key = `${withTime ? 't' : 'd'}|${timeZone}`;
  let f = formatters.get(key);
  if (!f) {
    f = new Intl.DateTimeFormat('en-CA', { timeZone, year: 'numeric', month: '2-digit', day: '2-digit', ...(withTime ? { hour: '2-digit', minute: '2-digit', second: '2-digit', hourCycle: 'h23' } : {}) });
    formatters.set(key, f);
  }
  return f;
}

export function isValidTimeZone(zone: string): boolean {
  if (formatters.has(`d|${zone}`)) return true;
  try {
    formatter(zone, false);
    return true;
  } catch {
    return false;
  }
}

const DATE_RE = /^(\d{4})-(\d{2})-(\d{2})$/;

export function isValidDate(date: string): boolean {
  const m = DATE_RE.exec(date);
  if (!m) return false;
  const d = new Date(Date.UTC(+m[1], +m[2] - 1, +m[3]));
  return d.toISOString().slice(0, 10) === date;
}

/** YYYY-MM-DD plus n days (calendar arithmetic, no zone involved). */
export function addDays(date: string, n: number): string {
  const m = DATE_RE.exec(date);
  if (!m) throw new RangeError(`not a date: ${date}`);
  return new Date(Date.UTC(+m[1], +m[2] - 1, +m[3]) + n * DAY_MS).toISOString().slice(0, 10);
}

/** The local calendar date of an instant in a zone, e.g. the day a 23:30 UTC expiry falls on in Tokyo. */
export function localDate(instantUtc: string, timeZone: string): string {
  const parts = formatter(timeZone, false).formatToParts(new Date(instantUtc));
  const get = (t: string) => parts.find((p) => p.type === t)!.value;
  return `${get('year')}-${get('month')}-${get('day')}`;
}

/** Canonical ISO-8601 UTC with milliseconds, or throws on an unparseable instant. */
export function toUtcIso(value: string | number | Date): string {
  const d = value instanceof Date ? value : new Date(value);
  if (Number.isNaN(d.getTime())) throw new RangeError(`not an instant: ${String(value)}`);
  return d.toISOString();
}

export function syncWindow(now: Date, daysBack: number, daysForward: number): SyncWindow {
  return {
    startUtc: new Date(now.getTime() - daysBack * DAY_MS).toISOString(),
    endUtc: new Date(now.getTime() + daysForward * DAY_MS).toISOString(),
  };
}

/**
 * The instant that places an item in (or out of) the window. All-day items count from the start of
 * their first day at UTC midnight: a window is measured in days, so the zone offset does not matter here.
 */
export function windowInstant(timing: ItemTiming): string {
  switch (timing.kind) {
    case 'timed':
      return timing.startUtc;
    case 'deadline':
      return timing.atUtc;
    case 'all_day':
      return `${timing.startDate}T00:00:00.000Z`;
  }
}

export function inWindow(instantUtc: string, window: SyncWindow): boolean {
  const t = Date.parse(instantUtc);
  return t >= Date.parse(window.startUtc) && t < Date.parse(window.endUtc);
}

/** The wall-clock time of an instant in a zone, zone-less: `2027-03-28T03:30:00`. */
export function localDateTime(instantUtc: string, timeZone: string): string {
  const parts = formatter(timeZone, true).formatToParts(new Date(instantUtc));
  const get = (t: string) => parts.find((p) => p.type === t)!.value;
  return `${get('year')}-${get('month')}-${get('day')}T${get('hour')}:${get('minute')}:${get('second')}`;
}

/** The zone's offset from UTC at an instant, in milliseconds (+02:00 → 7,200,000). */
export function zoneOffsetMs(instantMs: number, timeZone: string): number {
  return Date.parse(`${localDateTime(new Date(instantMs).toISOString(), timeZone)}Z`) - Math.floor(instantMs / 1000) * 1000;
}

/** The same wall-clock time with the zone's UTC offset at that instant (RFC 3339): `2027-03-28T03:30:00+02:00`. */
export function localDateTimeWithOffset(instantUtc: string, timeZone: string): string {
  const local = localDateTime(instantUtc, timeZone);
  const offsetMin = Math.round(zoneOffsetMs(Date.parse(instantUtc), timeZone) / 60_000);
  const sign = offsetMin < 0 ? '-' : '+';
  const abs = Math.abs(offsetMin);
  return `${local}${sign}${String(Math.floor(abs / 60)).padStart(2, '0')}:${String(abs % 60).padStart(2, '0')}`;
}

export const UTC_ZONE = 'UTC';

/**
 * The runtime's canonical name of a zone: CLDR keeps the oldest spelling, the one every calendar service and
 * zone table knows (Europe/Kyiv → Europe/Kiev, Asia/Kolkata → Asia/Calcutta, Etc/UTC → UTC).
 */
export function canonicalZone(timeZone: string): string {
  return formatter(timeZone, false).resolvedOptions().timeZone;
}

/**
 * Every instant at which a zone's clocks show a wall-clock time (`2027-11-07T01:30:00`), in ms: one; two in a
 * repeated hour (DST ends); none in a skipped one (DST starts). Offsets are probed a day either side, so one
 * zone change per two days is seen — more has never happened.
 */
export function instantsShowing(localIso: string, timeZone: string): number[] {
  const wall = Date.parse(`${localIso}Z`);
  const found = new Set<number>();
  for (const probe of [wall - DAY_MS, wall + DAY_MS]) {
    const t = wall - zoneOffsetMs(probe, timeZone);
    if (localDateTime(new Date(t).toISOString(), timeZone) === localIso) found.add(t);
  }
  return [...found].sort((a, b) => a - b);
}

/** An event's start and end as wall-clock times in one zone, and the instants they stand for. */
export interface WallTimes {
  /** The zone the wall-clock times are in: the one asked for, or UTC. */
  zone: string;
  start: string;
  end: string;
  startUtc: string;
  endUtc: string;
}

/**
 * The wall-clock times a provider writes for an event, next to a zone name: in `zone` when each of them names
 * its instant alone there and in every zone of `readWith` (the rules the calendar service applies to the name it
 * is given); otherwise — a time in a repeated or skipped hour, a service whose rules differ, or `zone` null
 * because the service has no name for the zone — the whole event in UTC. Never the one zone's times under
 * another's name. All-day events: the midnights that begin their first day and follow their last.
 */
export function wallTimes(time: ExportedEvent['time'], zone: string | null, readWith: string[] = []): WallTimes {
  const at = (z: string) =>
    time.kind === 'timed'
      ? [time.startUtc, time.endUtc].map((utc) => ({ local: localDateTime(utc, z), utc: Date.parse(utc) }))
      : [time.startDate, time.endDateExclusive > time.startDate ? time.endDateExclusive : addDays(time.startDate, 1)].map((date) => {
          const local = `${date}T00:00:00`;
          const instants = instantsShowing(local, z);
          return { local, utc: instants.length === 1 ? instants[0]! : NaN };
        });
  const namesAlone = (z: string, p: { local: string; utc: number }) => sameInstants(instantsShowing(p.local, z), [Math.floor(p.utc / 1000) * 1000]);
  const inZone = zone === null ? null : at(zone);
  const exact = inZone !== null && inZone.every((p) => [zone!, ...readWith].every((z) => namesAlone(z, p)));
  const [start, end] = exact ? inZone : at(UTC_ZONE);
  return { zone: exact ? zone! : UTC_ZONE, start: start!.local, end: end!.local, startUtc: new Date(start!.utc).toISOString(), endUtc: new Date(end!.utc).toISOString() };
}

const sameInstants = (a: number[], b: number[]) => a.length === b.length && a.every((t, i) => t === b[i]);
