// Microsoft 365 through Microsoft Graph with application permissions (client credentials via msal-node).
import { createHash } from 'node:crypto';
import { AuthenticationHandler, Client, GraphError, type Context, type Middleware } from '@microsoft/microsoft-graph-client';
import { eventBodyText } from '../../sync/render';
import type { ExportedEvent, SyncWindow } from '../../sync/types';
import { fetchWith, tlsDispatcher, tlsErrorCode } from '../http';
import { checklist, createAndDeleteProbe } from '../connection';
import { entraClient } from '../entra';
import type { CalendarProvider, EventIdentity, Mailbox, ManagedEvent, RemoteRef } from '../types';
import { microsoftTimes } from '../windowsZones';
import { mapGraphError } from './errors';
import type { GraphSettings } from './settings';

/** The ownership marker's single-value extended property (the same GUID and name EWS reads). */
export const MARKER_PROPERTY_ID = 'String {0f3a3c6e-2b7d-4c4e-9a51-6d1e8b7f2c90} Name CalendarSyncMarker';
/** Microsoft allows 4 concurrent requests per app and mailbox. */
const MAILBOX_CONCURRENCY = 4;

/** UUID v5-shaped id from marker + generation: Graph drops a repeated POST with the same transactionId. */
export function transactionIdFor(identity: EventIdentity): string {
  const h = createHash('sha1').update(`${identity.marker}#${identity.generation}`).digest();
  h[6] = (h[6]! & 0x0f) | 0x50;
  h[8] = (h[8]! & 0x3f) | 0x80;
  const hex = h.subarray(0, 16).toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/** The Graph event body for an exported event: no attendees, ever, so no invitation is ever sent. */
export function graphEventBody(event: ExportedEvent, mailbox: Mailbox) {
  // Timed events carry the zone they were rendered in; all-day ones fall on the admin's dates.
  const t = microsoftTimes(event.time, event.time.kind === 'timed' ? event.time.timeZone : mailbox.timeZone);
  const time = { isAllDay: event.time.kind === 'all_day', start: { dateTime: t.start, timeZone: t.windowsId }, end: { dateTime: t.end, timeZone: t.windowsId } };
  return {
    subject: event.title,
    body: { contentType: 'text', content: eventBodyText(event) },
    ...time,
    showAs: event.showAs,
    isReminderOn: event.reminderMinutes !== null,
    ...(event.reminderMinutes !== null ? { reminderMinutesBeforeStart: event.reminderMinutes } : {}),
    categories: [event.category],
    sensitivity: event.sensitivity,
  };
}

/** The terminal middleware: undici fetch with the configured trust, and no SDK-level retries (Temporal retries). */
function fetchMiddleware(fetcher: ReturnType<typeof fetchWith>): Middleware {
  return {
    async execute(context: Context) {
      const o = (context.options ?? {}) as { method?: string; headers?: unknown; body?: unknown };
      const headers = o.headers instanceof Headers ? Object.fromEntries(o.headers.entries()) : (o.headers as Record<string, string> | undefined);
      context.response = (await fetcher(String(context.request), { method: o.method ?? 'GET', headers, body: o.body as string | undefined })) as unknown as Response;
    },
  };
}

export interface GraphConfig {
  settings: GraphSettings;
  secrets: { clientSecret?: string };
}

export function createGraphProvider({ settings, secrets }: GraphConfig): CalendarProvider {
  const dispatcher = tlsDispatcher(settings.caCertificate);
  const fetcher = fetchWith(dispatcher);
  const graphHost = new URL(settings.graphEndpoint).hostname;
  const authorityHost = new URL(settings.authorityHost).hostname;
  // msal hides network errors behind its own codes: the last one is kept to explain a TLS failure precisely.
  let lastNetworkError: unknown = null;
  const msal = entraClient({
    authorityHost: settings.authorityHost,
    tenantId: settings.tenantId,
    clientId: settings.clientId,
    clientSecret: secrets.clientSecret ?? '',
    fetcher,
    observe: (failure) => (lastNetworkError = failure),
  });
  const scope = `${settings.graphEndpoint}/.default`;
  // msal caches tokens too, but asking it costs CPU on every request; keep the token until 5 minutes before expiry.
  let token: { value: string; refreshAt: number } | null = null;
  const getAccessToken = async () => {
    if (token && Date.now() < token.refreshAt) return token.value;
    if (!secrets.clientSecret) throw mapGraphError({ name: 'ClientConfigurationError', errorCode: 'missing_secret', errorMessage: 'No client secret is saved for the integration.' }, { host: authorityHost });
    lastNetworkError = null;
    try {
      const result = await msal.acquireTokenByClientCredential({ scopes: [scope] });
      if (!result?.accessToken) throw new Error('the token endpoint returned no access token');
      token = { value: result.accessToken, refreshAt: (result.expiresOn?.getTime() ?? Date.now() + 3_600_000) - 5 * 60_000 };
      return result.accessToken;
    } catch (err) {
      const hidden = (err as { errorCode?: string }).errorCode === 'endpoints_resolution_error' && lastNetworkError;
      throw mapGraphError(tlsErrorCode(lastNetworkError) || hidden ? lastNetworkError : err, { host: authorityHost });
    }
  };
  const auth = new AuthenticationHandler({ getAccessToken });
  auth.setNext(fetchMiddleware(fetcher));
  const client = Client.initWithMiddleware({ middleware: auth, baseUrl: `${settings.graphEndpoint}/`, customHosts: new Set([graphHost]), defaultVersion: 'v1.0' });

  const calendarIds = new Map<string, string>();
  const user = (m: Mailbox) => `/users/${encodeURIComponent(m.email)}`;

  async function call<T>(mailbox: Mailbox, fn: () => Promise<T>): Promise<T> {
    // Sign-in first (cached by msal), so its errors arrive as they are, not wrapped by the Graph SDK.
    await getAccessToken();
    try {
      return await fn();
    } catch (err) {
      throw mapGraphError(err, { host: graphHost, mailbox: mailbox.email });
    }
  }

  /** The events collection: the default calendar, or the named one (looked up once per mailbox). */
  async function eventsPath(mailbox: Mailbox): Promise<string> {
    if (!settings.calendarName) return `${user(mailbox)}/calendar/events`;
    let id = calendarIds.get(mailbox.email);
    if (!id) {
      const name = settings.calendarName.replace(/'/g, "''");
      const found = await call(mailbox, () => client.api(`${user(mailbox)}/calendars`).filter(`name eq '${name}'`).get());
      id = (found.value as Array<{ id: string }>)[0]?.id;
      if (!id) throw mapGraphError(new GraphError(404, `The calendar "${settings.calendarName}" does not exist in ${mailbox.email}; create it or clear the calendar name.`), { host: graphHost, mailbox: mailbox.email });
      calendarIds.set(mailbox.email, id);
    }
    return `${user(mailbox)}/calendars/${encodeURIComponent(id)}/events`;
  }

  const isGone = (err: unknown) => err instanceof GraphError && err.statusCode === 404 && err.code === 'ErrorItemNotFound';

  const provider: CalendarProvider = {
    name: 'microsoft365',
    mailboxConcurrency: MAILBOX_CONCURRENCY,
    async create(mailbox, identity, event) {
      const path = await eventsPath(mailbox);
      const body = {
        ...graphEventBody(event, mailbox),
        transactionId: transactionIdFor(identity),
        singleValueExtendedProperties: [{ id: MARKER_PROPERTY_ID, value: identity.marker }],
      };
      const created = await call(mailbox, () => client.api(path).header('Prefer', 'IdType="ImmutableId"').post(body));
      return { remoteId: created.id as string, remoteVersion: (created.changeKey as string) ?? null };
    },
    async update(mailbox, _identity, ref, event) {
      await getAccessToken();
      try {
        const updated = await client.api(`${user(mailbox)}/events/${encodeURIComponent(ref.remoteId)}`).header('Prefer', 'IdType="ImmutableId"').patch(graphEventBody(event, mailbox));
        return { remoteId: ref.remoteId, remoteVersion: (updated.changeKey as string) ?? null };
      } catch (err) {
        if (isGone(err)) return 'gone';
        throw mapGraphError(err, { host: graphHost, mailbox: mailbox.email });
      }
    },
    async delete(mailbox, _identity, ref) {
      await getAccessToken();
      try {
        await client.api(`${user(mailbox)}/events/${encodeURIComponent(ref.remoteId)}`).header('Prefer', 'IdType="ImmutableId"').delete();
      } catch (err) {
        if (isGone(err)) return;
        throw mapGraphError(err, { host: graphHost, mailbox: mailbox.email });
      }
    },
    async listManaged(mailbox, _window: SyncWindow): Promise<ManagedEvent[]> {
      const path = await eventsPath(mailbox);
      const found: ManagedEvent[] = [];
      let page = await call(mailbox, () =>
        client
          .api(path)
          .header('Prefer', 'IdType="ImmutableId"')
          .filter(`singleValueExtendedProperties/Any(ep: ep/id eq '${MARKER_PROPERTY_ID}')`)
          .expand(`singleValueExtendedProperties($filter=id eq '${MARKER_PROPERTY_ID}')`)
          .select('id,changeKey')
          // Outlook's largest page: one request covers up to 1,000 events.
          .top(1000)
          .get(),
      );
      for (;;) {
        for (const e of page.value as Array<{ id: string; changeKey: string; singleValueExtendedProperties?: Array<{ value: string }> }>) {
          found.push({ remoteId: e.id, remoteVersion: e.changeKey, marker: e.singleValueExtendedProperties?.[0]?.value ?? '' });
        }
        const next = page['@odata.nextLink'] as string | undefined;
        if (!next) return found;
        page = await call(mailbox, () => client.api(next).header('Prefer', 'IdType="ImmutableId"').get());
      }
    },
    async testConnection(syncUser) {
      const { checks, step } = checklist((err) => mapGraphError(err, { host: graphHost, mailbox: syncUser.email }).message);
      if (!(await step('token', `Signed in to tenant ${settings.tenantId} as application ${settings.clientId}.`, getAccessToken))) return checks;
      if (!(await step('mailbox', `Found the mailbox ${syncUser.email}.`, () => call(syncUser, () => client.api(user(syncUser)).select('id,mail').get())))) return checks;
      await step('calendar', `Created and deleted a test event in ${syncUser.email}${settings.calendarName ? ` (calendar "${settings.calendarName}")` : ''}: Calendars.ReadWrite works.`, () =>
        createAndDeleteProbe(provider, syncUser, `probe/${syncUser.email}/${Date.now()}`),
      );
      return checks;
    },
  };
  return provider;
}

export type { RemoteRef };
