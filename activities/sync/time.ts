// Time rules: instants in UTC, windows, zones, date arithmetic for all-day items. Pure, no I/O.
import type { ItemTiming, SyncWindow } from './types';

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
