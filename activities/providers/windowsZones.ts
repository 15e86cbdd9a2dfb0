// Microsoft's zone names (Microsoft 365 over Graph, Exchange over EWS) for IANA zones, and the times written
// with them. The table is CLDR's windowsZones (cldr-core), the mapping Windows is kept in step with; each
// Windows zone follows the rules of its exemplar IANA zone (territory 001).
import { createRequire } from 'node:module';
import { canonicalZone, isValidTimeZone, UTC_ZONE, wallTimes, type WallTimes } from '../sync/time';
import type { ExportedEvent } from '../sync/types';

interface WindowsZone {
  /** The Windows zone id, e.g. `FLE Standard Time`. */
  id: string;
  /** The IANA zone whose rules it follows, e.g. `Europe/Helsinki`. */
  rules: string;
}

interface CldrWindowsZones {
  supplemental: { windowsZones: { mapTimezones: Array<{ mapZone: { _other: string; _type: string; _territory: string } }> } };
}

/** IANA zone (every spelling the runtime knows, and its canonical one) → Windows zone. */
const byIana = (() => {
  const entries = (createRequire(import.meta.url)('cldr-core/supplemental/windowsZones.json') as CldrWindowsZones).supplemental.windowsZones.mapTimezones.map((m) => m.mapZone);
  const rules = new Map(entries.filter((e) => e._territory === '001').map((e) => [e._other, e._type]));
  const table = new Map<string, WindowsZone>();
  for (const e of entries) {
    const zone = { id: e._other, rules: rules.get(e._other)! };
    for (const name of e._type.split(' ').filter(isValidTimeZone)) {
      for (const key of [name, canonicalZone(name)]) if (!table.has(key)) table.set(key, zone);
    }
  }
  return table;
})();

/** The Windows zone of an IANA zone, through its canonical spelling (Europe/Kyiv is CLDR's Europe/Kiev); null when Windows has none. */
function windowsZone(iana: string): WindowsZone | null {
  return byIana.get(iana) ?? (isValidTimeZone(iana) ? byIana.get(canonicalZone(iana)) : undefined) ?? null;
}

/**
 * What Graph and EWS write for an event: wall-clock times in the admin's Windows zone when that zone's rules name
 * each time exactly as the admin's zone does; otherwise (no Windows zone, rules that differ, a repeated or skipped
 * hour) the event in UTC under the Windows id `UTC`.
 */
export function microsoftTimes(time: ExportedEvent['time'], adminZone: string): WallTimes & { windowsId: string } {
  const windows = windowsZone(adminZone);
  const t = wallTimes(time, windows ? adminZone : null, windows ? [windows.rules] : []);
  return { ...t, windowsId: windows && t.zone === adminZone ? windows.id : UTC_ZONE };
}
