// How the calendar services read a zone-less wall-clock time, for the emulators. Microsoft's zone ids (Graph,
// EWS) stand for the rules of the IANA zone CLDR gives as their exemplar (territory 001 of windowsZones: the
// table Windows is kept in step with); an id outside it is unknown to the service. A wall-clock time in a
// repeated hour is read with the earlier offset (the first 01:30 of a fall-back night), one in a skipped hour
// is moved forward by the gap.
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const table = require('cldr-core/supplemental/windowsZones.json') as {
  supplemental: { windowsZones: { mapTimezones: Array<{ mapZone: { _other: string; _type: string; _territory: string } }> } };
};
const windowsRules = new Map(table.supplemental.windowsZones.mapTimezones.filter((m) => m.mapZone._territory === '001').map((m) => [m.mapZone._other, m.mapZone._type]));

/** The IANA zone whose rules a Windows zone id follows, or null when the service does not know the id. */
export function windowsZoneRules(windowsId: string): string | null {
  return windowsRules.get(windowsId) ?? null;
}

const formatters = new Map<string, Intl.DateTimeFormat>();
/** A zone's offset from UTC at an instant, in ms. */
export function offsetAt(instant: number, iana: string): number {
  let f = formatters.get(iana);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', { timeZone: iana, hourCycle: 'h23', year: 'numeric', month: 'numeric', day: 'numeric', hour: 'numeric', minute: 'numeric', second: 'numeric' });
    formatters.set(iana, f);
  }
  const p = Object.fromEntries(f.formatToParts(new Date(instant)).map((x) => [x.type, Number(x.value)]));
  return Date.UTC(p.year!, p.month! - 1, p.day!, p.hour!, p.minute!, p.second!) - Math.floor(instant / 1000) * 1000;
}

/** The instant a wall-clock time (`2027-11-07T01:30:00`, optional fraction) names in a zone, read as the services read it. */
export function wallClockInstant(local: string, iana: string): number {
  const wall = Date.parse(`${local}Z`);
  const before = offsetAt(wall - 86_400_000, iana);
  const after = offsetAt(wall + 86_400_000, iana);
  const shows = (t: number) => offsetAt(t, iana) === wall - t;
  const readings = [wall - before, wall - after].filter(shows);
  // Two readings: a repeated hour, the first one counts. None: a skipped hour, moved forward by the gap.
  return readings.length ? Math.min(...readings) : wall - before;
}
