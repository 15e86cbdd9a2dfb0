// Every provider that writes local times puts each event at the item's instant: in every zone the runtime knows
// (and the aliases admins use), and in the repeated and skipped hours of DST changes. The real SDKs talk to the
// emulators, which read zone names and wall-clock times as the services do (test/fakes/zones.ts).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEwsProvider } from '../../activities/providers/ews';
import { ewsSettingsSchema } from '../../activities/providers/ews/settings';
import { createGoogleProvider } from '../../activities/providers/google';
import { GOOGLE_SCOPE, googleSettingsSchema } from '../../activities/providers/google/settings';
import { createGraphProvider } from '../../activities/providers/graph';
import { graphSettingsSchema } from '../../activities/providers/graph/settings';
import type { CalendarProvider, Mailbox } from '../../activities/providers/types';
import type { ExportedEvent } from '../../activities/sync/types';
import { startEwsEmulator, type EwsEmulator } from '../fakes/ews';
import { makeServiceAccount, startGoogleEmulator, type GoogleEmulator } from '../fakes/google';
import { startGraphEmulator, type GraphEmulator } from '../fakes/graph';
import { wallClockInstant, windowsZoneRules } from '../fakes/zones';

const TENANT = '72f988bf-86f1-41af-91ab-2d7cd011db47';
const CLIENT = '5e3ce6c0-2b1f-4285-8d4b-75ee78787346';
const SECRET = 'Qm8~client-secret-value-0123456789';
const PASSWORD = 'Winter&2027<calsync>';
const MAILBOX = 'zones@contoso.test';

/** The runtime's zones, and spellings admins have that it lists under another name. */
const ZONES = [...new Set([...Intl.supportedValuesOf('timeZone'), 'UTC', 'Etc/UTC', 'Europe/Kyiv', 'Asia/Kolkata', 'Asia/Ho_Chi_Minh', 'America/Nuuk', 'Pacific/Kanton', 'US/Eastern', 'Etc/GMT+5'])];
/** A winter start and a summer end, so both halves of each zone's year are checked. */
const TIMED = { startUtc: '2027-01-15T12:00:00.000Z', endUtc: '2027-07-15T12:30:00.000Z' };
const ALL_DAY = { startDate: '2027-03-10', endDateExclusive: '2027-03-11' };
/** Over 400 zones through each SDK: minutes on a busy shared machine. */
const EVERY_ZONE_TIMEOUT_MS = 600_000;

const event = (title: string, time: ExportedEvent['time']): ExportedEvent => ({ title, body: '', url: null, time, showAs: 'busy', reminderMinutes: null, category: 'Helpdesk', sensitivity: 'normal' });
const timed = (zone: string, startUtc: string, endUtc: string) => event(`timed ${zone} ${startUtc}`, { kind: 'timed', startUtc, endUtc, timeZone: zone });
const allDay = (zone: string) => event(`all-day ${zone}`, { kind: 'all_day', ...ALL_DAY });
const mailbox = (zone: string): Mailbox => ({ adminId: 'zones', email: MAILBOX, timeZone: zone });

/** The wall-clock time of an instant in an IANA zone, `2027-01-15T14:00:00`. */
function wall(instant: string | number, zone: string): string {
  const p = Object.fromEntries(
    new Intl.DateTimeFormat('en-CA', { timeZone: zone, year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', second: '2-digit', hourCycle: 'h23' })
      .formatToParts(new Date(instant))
      .map((x) => [x.type, x.value]),
  );
  return `${p.year}-${p.month}-${p.day}T${p.hour}:${p.minute}:${p.second}`;
}

/** Runs `write` for every zone, four at a time (the providers' per-mailbox concurrency); failures are collected, not thrown. */
async function forEveryZone(write: (zone: string) => Promise<void>): Promise<string[]> {
  const failures: string[] = [];
  const queue = [...ZONES];
  await Promise.all(
    Array.from({ length: 4 }, async () => {
      for (let zone = queue.shift(); zone; zone = queue.shift()) await write(zone).catch((err: Error) => failures.push(`${zone}: ${err.message}`));
    }),
  );
  return failures;
}

/**
 * What an Outlook user sees of an event Microsoft stored: its instants, and the zone it is in. The zone must be
 * the admin's (same wall-clock times) or UTC, never another zone's rules under the admin's times.
 */
function checkMicrosoft(zone: string, stored: { startUtc: string; endUtc: string; windowsId: string }, expected: { startUtc: string; endUtc: string }) {
  expect(stored.startUtc, `${zone} start`).toBe(expected.startUtc);
  expect(stored.endUtc, `${zone} end`).toBe(expected.endUtc);
  const rules = windowsZoneRules(stored.windowsId)!;
  if (stored.windowsId !== 'UTC') expect([wall(stored.startUtc, rules), wall(stored.endUtc, rules)], `${zone} in ${stored.windowsId}`).toEqual([wall(stored.startUtc, zone), wall(stored.endUtc, zone)]);
}

/** The all-day instants a zone's clocks give the dates: the admin's midnights, or UTC's when the event is written in UTC. */
function allDayInstants(zone: string, windowsId: string) {
  const at = (date: string) => new Date(wallClockInstant(`${date}T00:00:00`, windowsId === 'UTC' ? 'UTC' : zone)).toISOString();
  return { startUtc: at(ALL_DAY.startDate), endUtc: at(ALL_DAY.endDateExclusive) };
}

let graph: GraphEmulator;
let ews: EwsEmulator;
let google: GoogleEmulator;
let providers: { graph: CalendarProvider; ews: CalendarProvider; google: CalendarProvider };
beforeAll(async () => {
  graph = await startGraphEmulator({ tenants: { [TENANT]: { [CLIENT]: { secret: SECRET } } }, mailboxes: [MAILBOX] });
  ews = await startEwsEmulator({ accounts: [{ domain: 'CONTOSO', user: 'svc-calsync', password: PASSWORD, impersonate: '*' }], mailboxes: [MAILBOX], auth: ['basic'] });
  const sa = makeServiceAccount();
  google = await startGoogleEmulator({ accounts: [sa], delegation: { [sa.clientId]: [GOOGLE_SCOPE] }, users: [MAILBOX], userRatePerMinute: 1_000_000 });
  providers = {
    graph: createGraphProvider({ settings: graphSettingsSchema.parse({ tenantId: TENANT, clientId: CLIENT, syncUserEmail: MAILBOX, graphEndpoint: graph.baseUrl, authorityHost: graph.baseUrl, caCertificate: graph.ca }), secrets: { clientSecret: SECRET } }),
    ews: createEwsProvider({ settings: ewsSettingsSchema.parse({ server: ews.url, domain: 'CONTOSO', username: 'svc-calsync', syncUserEmail: MAILBOX, authentication: 'basic', caCertificate: ews.ca }), secrets: { password: PASSWORD }, installationId: 'inst' }),
    google: createGoogleProvider({
      settings: googleSettingsSchema.parse({ syncUserEmail: MAILBOX, apiEndpoint: google.baseUrl, tokenEndpoint: google.tokenUrl, caCertificate: google.ca, requestsPerMinutePerUser: 100_000 }),
      secrets: { serviceAccountKey: sa.keyFile },
      installationId: 'inst',
    }),
  };
});
afterAll(async () => {
  await graph?.close();
  await ews?.close();
  await google?.close();
});

/** What each emulator stored for an event: the zone name of its start and end, and the instants it read. */
const stored = {
  graph(id: string) {
    const e = graph.events(MAILBOX).find((x) => x.id === id)!;
    return { zones: [(e.props.start as { timeZone: string }).timeZone, (e.props.end as { timeZone: string }).timeZone], allDay: e.props.isAllDay === true, startUtc: e.startUtc, endUtc: e.endUtc };
  },
  ews(id: string) {
    const a = ews.appointments(MAILBOX).find((x) => x.id === id)!;
    return { zones: [a.timeZone!, a.timeZone!], allDay: a.isAllDay, startUtc: a.start, endUtc: a.end };
  },
  google(id: string) {
    const { start, end } = google.events(MAILBOX).find((x) => x.id === id)!.props as Record<'start' | 'end', { dateTime: string; timeZone: string }>;
    return { zones: [start.timeZone, end.timeZone], allDay: false, startUtc: new Date(start.dateTime).toISOString(), endUtc: new Date(end.dateTime).toISOString() };
  },
};
const NAMES = { graph: 'Microsoft Graph', ews: 'Exchange (EWS)', google: 'Google' } as const;

describe('every zone the runtime knows', () => {
  for (const provider of ['graph', 'ews'] as const) {
    it(`${NAMES[provider]} stores each event at the item's instant in every zone (${ZONES.length} zones), in the admin's Windows zone (its times) or else UTC`, async () => {
      const written = new Map<string, string>();
      const failures = await forEveryZone(async (zone) => {
        for (const [kind, e] of [['timed', timed(zone, TIMED.startUtc, TIMED.endUtc)], ['all-day', allDay(zone)]] as const) {
          const ref = await providers[provider].create(mailbox(zone), { marker: `inst/zones/${kind}/${zone}`, generation: 1 }, e);
          const { zones, allDay: isAllDay, startUtc, endUtc } = stored[provider](ref.remoteId);
          expect([zones[1], isAllDay], zone).toEqual([zones[0], kind === 'all-day']);
          checkMicrosoft(zone, { startUtc, endUtc, windowsId: zones[0]! }, kind === 'timed' ? TIMED : allDayInstants(zone, zones[0]!));
          if (kind === 'timed') written.set(zone, zones[0]!);
        }
      });
      expect(failures).toEqual([]);
      // Aliases and zones newer than the old table find their Windows zone; a zone Windows has none for is UTC.
      expect(Object.fromEntries(['Europe/Kyiv', 'America/Ciudad_Juarez', 'America/Coyhaique', 'Antarctica/Troll', 'Asia/Kolkata', 'Etc/UTC'].map((z) => [z, written.get(z)]))).toEqual({
        'Europe/Kyiv': 'FLE Standard Time',
        'America/Ciudad_Juarez': 'Mountain Standard Time',
        'America/Coyhaique': 'Magallanes Standard Time',
        'Antarctica/Troll': 'UTC',
        'Asia/Kolkata': 'India Standard Time',
        'Etc/UTC': 'UTC',
      });
    }, EVERY_ZONE_TIMEOUT_MS);
  }

  it(`Google stores each event at the item's instant in every zone (${ZONES.length} zones), under a zone name Google knows`, async () => {
    const failures = await forEveryZone(async (zone) => {
      const ref = await providers.google.create(mailbox(zone), { marker: `inst/zones/timed/${zone}`, generation: 1 }, timed(zone, TIMED.startUtc, TIMED.endUtc));
      const { start, end } = google.events(MAILBOX).find((x) => x.id === ref.remoteId)!.props as Record<'start' | 'end', { dateTime: string; timeZone: string }>;
      // The offset makes the instant; the wall-clock part is the time in the zone named next to it.
      expect([Date.parse(start.dateTime), Date.parse(end.dateTime)], zone).toEqual([Date.parse(TIMED.startUtc), Date.parse(TIMED.endUtc)]);
      expect([start.dateTime.slice(0, 19), end.dateTime.slice(0, 19)], zone).toEqual([wall(TIMED.startUtc, start.timeZone), wall(TIMED.endUtc, end.timeZone)]);
      expect(wall(TIMED.startUtc, start.timeZone), zone).toBe(wall(TIMED.startUtc, zone));
    });
    expect(failures).toEqual([]);
  }, EVERY_ZONE_TIMEOUT_MS);
});

/** DST changes in 2027: New York and Berlin move an hour, Lord Howe half an hour. */
const EDGES = [
  {
    zone: 'America/New_York',
    windowsId: 'Eastern Standard Time',
    // 01:30 EDT → 01:00 EST: the end's wall-clock time is before the start's.
    across: ['2027-11-07T05:30:00.000Z', '2027-11-07T06:00:00.000Z'],
    // 01:30 EST, the second 01:30 of the night.
    second: ['2027-11-07T06:30:00.000Z', '2027-11-07T07:00:00.000Z'],
    // 01:30 EST → 03:30 EDT, over the skipped 02:00–03:00.
    gap: ['2027-03-14T06:30:00.000Z', '2027-03-14T07:30:00.000Z'],
  },
  {
    zone: 'Europe/Berlin',
    windowsId: 'W. Europe Standard Time',
    across: ['2027-10-31T00:30:00.000Z', '2027-10-31T01:00:00.000Z'],
    second: ['2027-10-31T01:30:00.000Z', '2027-10-31T02:00:00.000Z'],
    gap: ['2027-03-28T00:30:00.000Z', '2027-03-28T01:30:00.000Z'],
  },
  {
    zone: 'Australia/Lord_Howe',
    windowsId: 'Lord Howe Standard Time',
    // 01:45 (+11) → 01:40 (+10:30); then 01:45 (+10:30), the second one; and 01:45 (+10:30) → 02:45 (+11).
    across: ['2027-04-03T14:45:00.000Z', '2027-04-03T15:10:00.000Z'],
    second: ['2027-04-03T15:15:00.000Z', '2027-04-03T15:45:00.000Z'],
    gap: ['2027-10-02T15:15:00.000Z', '2027-10-02T15:45:00.000Z'],
  },
] as const;
const CASES = EDGES.flatMap((e) => (['across', 'second', 'gap'] as const).map((kind) => ({ ...e, kind, startUtc: e[kind][0], endUtc: e[kind][1] })));

describe('the repeated and the skipped hour', () => {
  for (const provider of ['graph', 'ews', 'google'] as const) {
    it(`${NAMES[provider]}: an event with a time in a repeated hour is written in UTC and lands at its instant; one over a skipped hour keeps the zone`, async () => {
      for (const c of CASES) {
        const ref = await providers[provider].create(mailbox(c.zone), { marker: `inst/dst/${c.zone}/${c.kind}`, generation: 1 }, timed(c.zone, c.startUtc, c.endUtc));
        const zone = c.kind !== 'gap' ? 'UTC' : provider === 'google' ? c.zone : c.windowsId;
        expect({ case: `${c.zone} ${c.kind}`, ...stored[provider](ref.remoteId) }).toEqual({ case: `${c.zone} ${c.kind}`, zones: [zone, zone], allDay: false, startUtc: c.startUtc, endUtc: c.endUtc });
      }
    });
  }
});
