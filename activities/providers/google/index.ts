// Google Workspace through the Calendar API v3: a service account with domain-wide delegation signs a JWT
// per user (`sub` = the admin), so each admin's own calendar receives their events.
import { createHash } from 'node:crypto';
import { Gaxios } from 'gaxios';
import { google, type calendar_v3 } from 'googleapis';
import { fetch as undiciFetch } from 'undici';
import { eventBodyText } from '../../sync/render';
import { addDays, canonicalZone, localDateTimeWithOffset, wallTimes } from '../../sync/time';
import type { ExportedEvent } from '../../sync/types';
import { itemRejected, type ProviderError } from '../errors';
import { tlsDispatcher } from '../http';
import { createRateLimiter } from '../rate';
import { checklist, createAndDeleteProbe } from '../connection';
import type { CalendarProvider, EventIdentity, Mailbox, ManagedEvent, RemoteRef } from '../types';
import { googleReason, googleStatus, mapGoogleError } from './errors';
import { GOOGLE_SCOPE, GOOGLE_TOKEN_URL, serviceAccountCredentials, type GoogleSettings } from './settings';

/** Private extended properties on every event we own: the marker, and its installation/admin prefix to list by. */
export const MARKER_KEY = 'calendarSyncMarker';
export const OWNER_KEY = 'calendarSyncOwner';
/** Google has no per-mailbox concurrency limit like Graph's; 4 keeps a mailbox's share of the pool fair. */
const MAILBOX_CONCURRENCY = 4;
/** How many deleted (still reserved) ids of one item a create steps over before giving up. */
const MAX_RESERVED_IDS = 20;
/** No SDK retries: Temporal retries activities, with Google's hints as nextRetryDelay. */
const CALL_OPTIONS = { retry: false, timeout: 60_000 } as const;
const BASE32HEX = '0123456789abcdefghijklmnopqrstuv';

/** RFC 4648 base32hex in lower case without padding: the alphabet Google accepts in event ids. */
export function base32hex(bytes: Uint8Array): string {
  let out = '';
  let bits = 0;
  let value = 0;
  for (const byte of bytes) {
    value = (value << 8) | byte;
    bits += 8;
    while (bits >= 5) {
      out += BASE32HEX[(value >>> (bits - 5)) & 31];
      bits -= 5;
    }
    value &= (1 << bits) - 1;
  }
  if (bits > 0) out += BASE32HEX[(value << (5 - bits)) & 31];
  return out;
}

/** The client-supplied event id: the same marker and generation always name the same event. */
export function googleEventId(identity: EventIdentity): string {
  return base32hex(createHash('sha256').update(`${identity.marker}#${identity.generation}`).digest());
}

/** `<installationId>/<adminId>` of a marker `<installationId>/<adminId>/<itemKey>`. */
export const ownerOf = (marker: string) => marker.split('/', 2).join('/');

/**
 * Start and end for Google: dates for all-day events; otherwise the time with its offset (which makes the instant
 * exact) in the admin's zone under its canonical name (Google knows every zone by its oldest spelling), or in UTC
 * when a time falls in a repeated or skipped hour there.
 */
function googleTimes(t: ExportedEvent['time']): Pick<calendar_v3.Schema$Event, 'start' | 'end'> {
  if (t.kind === 'all_day') return { start: { date: t.startDate }, end: { date: t.endDateExclusive > t.startDate ? t.endDateExclusive : addDays(t.startDate, 1) } };
  const w = wallTimes(t, canonicalZone(t.timeZone));
  const at = (utc: string) => ({ dateTime: localDateTimeWithOffset(utc, w.zone), timeZone: w.zone });
  return { start: at(w.startUtc), end: at(w.endUtc) };
}

/** The Calendar API event for an exported event: no attendees, ever, so no invitation is ever sent. */
export function googleEventBody(event: ExportedEvent, identity: EventIdentity): calendar_v3.Schema$Event {
  return {
    summary: event.title,
    description: eventBodyText(event),
    ...googleTimes(event.time),
    transparency: event.showAs === 'free' ? 'transparent' : 'opaque',
    visibility: event.sensitivity === 'private' ? 'private' : 'default',
    reminders: { useDefault: false, overrides: event.reminderMinutes !== null ? [{ method: 'popup', minutes: event.reminderMinutes }] : [] },
    extendedProperties: { private: { [MARKER_KEY]: identity.marker, [OWNER_KEY]: ownerOf(identity.marker) } },
  };
}

export interface GoogleConfig {
  settings: GoogleSettings;
  secrets: Record<string, string>;
  installationId: string;
}

export function createGoogleProvider({ settings, secrets, installationId }: GoogleConfig): CalendarProvider {
  const creds = serviceAccountCredentials(settings, secrets);
  const dispatcher = tlsDispatcher(settings.caCertificate);
  const apiHost = new URL(settings.apiEndpoint).host;
  const tokenUrl = new URL(settings.tokenEndpoint);
  // One transport for the token endpoint and the API: the configured trust, keep-alive pool, and the
  // configured token endpoint (the SDK always posts to Google's, whatever the key file says).
  const transporter = new Gaxios({
    fetchImplementation: ((input: string | URL, init?: Record<string, unknown>) => undiciFetch(input, { ...init, dispatcher } as never)) as unknown as typeof fetch,
  });
  transporter.interceptors.request.add({
    resolved: async (config) => {
      if (settings.tokenEndpoint !== GOOGLE_TOKEN_URL && String(config.url).startsWith(GOOGLE_TOKEN_URL)) config.url = new URL(tokenUrl);
      return config;
    },
  });
  const limiter = createRateLimiter(settings.requestsPerMinutePerUser);
  const clients = new Map<string, { cal: calendar_v3.Calendar; authorize: () => Promise<unknown> }>();
  const map = (err: unknown, mailbox?: Mailbox): ProviderError => mapGoogleError(err, { host: apiHost, tokenHost: tokenUrl.host, mailbox: mailbox?.email, calendarId: settings.calendarId });

  /** The API client acting as this user (one JWT per user; google-auth-library keeps its token until expiry). */
  function clientFor(mailbox: Mailbox) {
    const key = mailbox.email.toLowerCase();
    let client = clients.get(key);
    if (!client) {
      if (Array.isArray(creds)) throw map({ response: { status: 401, data: { error: 'invalid_client', error_description: creds.map((p) => p.message).join('; ') } } }, mailbox);
      const jwt = new google.auth.JWT({ email: creds.clientEmail, key: creds.privateKey, scopes: [GOOGLE_SCOPE], subject: mailbox.email, transporter });
      client = { cal: google.calendar({ version: 'v3', auth: jwt, rootUrl: `${settings.apiEndpoint}/` }), authorize: () => jwt.getAccessToken() };
      clients.set(key, client);
    }
    return client;
  }

  /** Signs in as the user (cached), waits for the user's quota, then calls; errors come back raw for the caller. */
  async function call<T>(mailbox: Mailbox, fn: (cal: calendar_v3.Calendar) => Promise<{ data: T }>): Promise<T> {
    const client = clientFor(mailbox);
    try {
      await client.authorize();
    } catch (err) {
      throw map(err, mailbox);
    }
    await limiter.take(mailbox.email.toLowerCase());
    return (await fn(client.cal)).data;
  }
  const mapped = async <T>(mailbox: Mailbox, fn: (cal: calendar_v3.Calendar) => Promise<{ data: T }>) => {
    try {
      return await call(mailbox, fn);
    } catch (err) {
      throw map(err, mailbox);
    }
  };
  const calendarId = settings.calendarId;
  const gone = (err: unknown) => googleStatus(err) === 404 || googleStatus(err) === 410;
  const ref = (e: calendar_v3.Schema$Event, generation?: number): RemoteRef & { generation?: number } => ({ remoteId: e.id!, remoteVersion: e.etag ?? null, ...(generation !== undefined ? { generation } : {}) });

  const provider: CalendarProvider = {
    name: 'google',
    mailboxConcurrency: MAILBOX_CONCURRENCY,
    async create(mailbox, identity, event) {
      for (let generation = identity.generation; generation < identity.generation + MAX_RESERVED_IDS; generation++) {
        const id = googleEventId({ marker: identity.marker, generation });
        const body = googleEventBody(event, identity);
        try {
          return ref(await call(mailbox, (cal) => cal.events.insert({ calendarId, sendUpdates: 'none', requestBody: { ...body, id } }, CALL_OPTIONS)), generation);
        } catch (err) {
          if (!(googleStatus(err) === 409 && googleReason(err) === 'duplicate')) throw map(err, mailbox);
        }
        // The id exists: an earlier attempt of ours landed (bring it up to date), or that event was deleted and its id stays reserved.
        let existing: calendar_v3.Schema$Event | null;
        try {
          existing = await call(mailbox, (cal) => cal.events.get({ calendarId, eventId: id }, CALL_OPTIONS));
        } catch (err) {
          if (!gone(err)) throw map(err, mailbox);
          existing = null;
        }
        if (existing && existing.status !== 'cancelled') {
          if (existing.extendedProperties?.private?.[MARKER_KEY] !== identity.marker) throw itemRejected(`The event id ${id} is taken by an event this app did not create for ${identity.marker}.`);
          return ref(await mapped(mailbox, (cal) => cal.events.patch({ calendarId, eventId: id, sendUpdates: 'none', requestBody: body }, CALL_OPTIONS)), generation);
        }
      }
      throw itemRejected(`Google keeps the ids of deleted events reserved, and the last ${MAX_RESERVED_IDS} ids for ${identity.marker} are all taken by deleted events.`);
    },
    async update(mailbox, identity, current, event) {
      try {
        const updated = await call(mailbox, (cal) => cal.events.patch({ calendarId, eventId: current.remoteId, sendUpdates: 'none', requestBody: googleEventBody(event, identity) }, CALL_OPTIONS));
        return updated.status === 'cancelled' ? 'gone' : ref(updated);
      } catch (err) {
        if (gone(err)) return 'gone';
        // Google has answered an update of a deleted event with 403; look before calling it a permission problem.
        const failure = map(err, mailbox);
        if (googleStatus(err) === 403 && failure.kind !== 'throttled') {
          const now = await call(mailbox, (cal) => cal.events.get({ calendarId, eventId: current.remoteId }, CALL_OPTIONS)).catch((e) => (gone(e) ? null : Promise.reject(map(e, mailbox))));
          if (!now || now.status === 'cancelled') return 'gone';
        }
        throw failure;
      }
    },
    async delete(mailbox, _identity, current) {
      try {
        await call(mailbox, (cal) => cal.events.delete({ calendarId, eventId: current.remoteId, sendUpdates: 'none' }, CALL_OPTIONS));
      } catch (err) {
        if (gone(err)) return;
        throw map(err, mailbox);
      }
    },
    async listManaged(mailbox): Promise<ManagedEvent[]> {
      const found: ManagedEvent[] = [];
      let pageToken: string | undefined;
      do {
        const page: calendar_v3.Schema$Events = await mapped(mailbox, (cal) =>
          cal.events.list({ calendarId, privateExtendedProperty: [`${OWNER_KEY}=${installationId}/${mailbox.adminId}`], maxResults: 2500, pageToken, fields: 'items(id,etag,status,extendedProperties/private),nextPageToken' }, CALL_OPTIONS),
        );
        for (const e of page.items ?? []) {
          if (e.status === 'cancelled') continue;
          found.push({ remoteId: e.id!, remoteVersion: e.etag ?? null, marker: e.extendedProperties?.private?.[MARKER_KEY] ?? '' });
        }
        pageToken = page.nextPageToken ?? undefined;
      } while (pageToken);
      return found;
    },
    async testConnection(syncUser) {
      if (Array.isArray(creds)) return [{ name: 'key', ok: false, detail: creds.map((p) => p.message).join('; ') }];
      const { checks, step } = checklist((err) => map(err, syncUser).message);
      if (!(await step('token', `Signed in as ${syncUser.email} through the service account ${creds.clientEmail} (domain-wide delegation works).`, () => clientFor(syncUser).authorize()))) return checks;
      if (!(await step('calendar', `Opened the calendar ${calendarId} of ${syncUser.email}.`, () => mapped(syncUser, (cal) => cal.events.list({ calendarId, maxResults: 1, fields: 'items(id),nextPageToken' }, CALL_OPTIONS))))) return checks;
      await step('event', `Created and deleted a test event in ${syncUser.email}’s calendar: the calendar scope is delegated.`, () =>
        createAndDeleteProbe(provider, syncUser, `${installationId}/probe/${Date.now()}`),
      );
      return checks;
    },
  };
  return provider;
}
