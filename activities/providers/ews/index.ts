// Exchange through EWS with ews-javascript-api: on-premises Exchange 2007 SP1 to SE (NTLM or basic; the
// ApplicationImpersonation role or full access to each mailbox) and Exchange Online (OAuth client credentials,
// impersonation). Each call builds its own ExchangeService, so concurrent calls share no per-mailbox state.
import { Agent as HttpsAgent, request as httpsRequest, type AgentOptions } from 'node:https';
import { createRequire } from 'node:module';
import { createSecureContext, rootCertificates } from 'node:tls';
import { and, eq, isNull, ne } from 'drizzle-orm';
import {
  Appointment,
  AppointmentSchema,
  BasePropertySet,
  BodyType,
  CalendarView,
  ConflictResolutionMode,
  ConnectingIdType,
  DateTime,
  DeleteMode,
  ExchangeCredentials,
  ExchangeService,
  ExchangeVersion,
  ExtendedPropertyDefinition,
  FolderId,
  Guid,
  ImpersonatedUserId,
  ItemId,
  ItemView,
  LegacyFreeBusyStatus,
  Mailbox as EwsMailbox,
  MapiPropertyType,
  MessageBody,
  OAuthCredentials,
  PropertySet,
  SearchFilter,
  SendCancellationsMode,
  SendInvitationsMode,
  SendInvitationsOrCancellationsMode,
  Sensitivity,
  StringList,
  TimeSpan,
  TimeZoneInfo,
  Uri,
  WebCredentials,
  WellKnownFolderName,
  XhrApi,
  type IXHRApi,
  type Item,
} from 'ews-javascript-api';
import type { Db } from '../../../db/client';
import { admins, adminSettings } from '../../../db/schema';
import { eventBodyText } from '../../sync/render';
import type { ExportedEvent, SyncWindow } from '../../sync/types';
import { checklist, createAndDeleteProbe } from '../connection';
import { entraClient } from '../entra';
import { credentials, type ProviderError } from '../errors';
import { fetchWith, tlsDispatcher } from '../http';
import type { CalendarProvider, Mailbox, ManagedEvent, RemoteRef } from '../types';
import { microsoftTimes } from '../windowsZones';
import { ewsCode, mapEwsError, type EwsErrorContext } from './errors';
import { accountName, type EwsSettings } from './settings';

/** The ownership marker: the named property Graph writes too (graph's MARKER_PROPERTY_ID), so a later move to Graph finds the events. */
export const MARKER_PROPERTY = { propertySetId: '0f3a3c6e-2b7d-4c4e-9a51-6d1e8b7f2c90', propertyName: 'CalendarSyncMarker', propertyType: 'String' } as const;
const MARKER = new ExtendedPropertyDefinition(new Guid(MARKER_PROPERTY.propertySetId), MARKER_PROPERTY.propertyName, MapiPropertyType.String);
/** EWSMaxConcurrency is 10 (2010) to 27 (2013 and later, Exchange Online) per account, shared by every mailbox: stay modest. */
const MAILBOX_CONCURRENCY = 4;
/** Outlook's largest CalendarView page (EWSFindCountLimit). */
const LIST_PAGE_SIZE = 1000;
/** CalendarView refuses ranges over two years. */
const MAX_VIEW_MS = 700 * 86_400_000;
const DAY_MS = 86_400_000;
const REQUEST_TIMEOUT_MS = 60_000;
const CONNECTIONS_PER_ORIGIN = 64;
const USER_AGENT = 'calendar-sync (ews-javascript-api)';
const STALE_CODES = new Set(['ErrorIrresolvableConflict', 'ErrorStaleObject']);

// ---------------------------------------------------------------------------------------------------------
// Pure helpers: what goes into the SOAP body.

/** ews-javascript-api 0.15.3 writes strings into the XML as they are: escape them, and drop what XML 1.0 cannot carry. */
export function xmlText(value: string): string {
  return value
    .replace(/[\u0000-\u0008\u000B\u000C\u000E-\u001F\uFFFE\uFFFF]/g, '')
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;');
}

export interface EwsTimes {
  startUtc: string;
  endUtc: string;
  isAllDay: boolean;
  /** Windows zone id for StartTimeZone/EndTimeZone: the zone Outlook shows the event in, and where an all-day event's midnights are. */
  zone: string;
}

/**
 * Start and end as UTC instants, with the zone sent next to them (the worker's own zone never matters). The
 * instants are exact whatever the zone; the zone follows Graph's rule, so both write the same event.
 */
export function ewsTimes(event: ExportedEvent, adminTimeZone: string): EwsTimes {
  const t = microsoftTimes(event.time, event.time.kind === 'timed' ? event.time.timeZone : adminTimeZone);
  return { startUtc: t.startUtc, endUtc: t.endUtc, isAllDay: event.time.kind === 'all_day', zone: t.windowsId };
}

/**
 * An instant for the SDK. It must be of the Unspecified kind: the SDK refuses a Utc-kind value next to
 * StartTimeZone, and "converts" an Unspecified one to UTC without moving it, so the wire carries the same
 * instant with +00:00 whatever the worker's zone.
 */
const instant = (iso: string | number) => new DateTime(typeof iso === 'number' ? iso : Date.parse(iso));

/** The SDK's zone object for a Windows id; ids newer than its table are sent as they are (Exchange knows them). */
function timeZoneInfo(windowsId: string): TimeZoneInfo {
  try {
    return TimeZoneInfo.FindSystemTimeZoneById(windowsId);
  } catch {
    return TimeZoneInfo.CreateCustomTimeZone(windowsId, TimeSpan.Zero, windowsId, windowsId);
  }
}

function markerOf(item: Item): string | null {
  const out = { outValue: null as string | null };
  return item.ExtendedProperties.TryGetValue(MARKER, out) ? out.outValue : null;
}

// ---------------------------------------------------------------------------------------------------------
// Transport: @ewsjs/xhr (axios) on an https.Agent that trusts the configured CA; TLS verification stays on.

interface NtlmMessages {
  createType1Message(workstation: string, domain: string): string;
  decodeType2Message(header: string): unknown;
  createType3Message(type2: unknown, user: string, password: string, workstation: string, domain: string): string;
}
// @ewsjs/xhr's NTLM messages (untyped); their MD4 is js-md4, so NTLM needs neither OpenSSL's legacy provider nor Node's md4.
const ntlm = createRequire(import.meta.url)('@ewsjs/ntlm-client') as NtlmMessages;
const WORKSTATION = 'CALENDAR-SYNC';
type AuthProvider = Parameters<XhrApi['setAuthProvider']>[0];

/** GETs the URL with an NTLM NEGOTIATE and resolves with the server's `NTLM <challenge>` header. */
function ntlmChallenge(url: string, agent: HttpsAgent, headers: Record<string, string>): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest(url, { method: 'GET', agent, headers, timeout: REQUEST_TIMEOUT_MS }, (res) => {
      res.on('error', reject);
      // Read the 401 page to its end, so the socket is free for the signed request.
      res.resume();
      res.on('end', () => {
        const challenge = (res.headersDistinct['www-authenticate'] ?? []).find((h) => /^NTLM \S/i.test(h));
        if (res.statusCode === 401 && challenge) return resolve(challenge);
        // The SDK reads `status`: a 401 without a challenge means the virtual directory does not offer NTLM.
        reject(Object.assign(new Error(`the NTLM negotiation was answered with ${res.statusCode}${challenge ? '' : ' and no NTLM challenge'}`), { status: res.statusCode }));
      });
    });
    req.on('timeout', () => req.destroy(Object.assign(new Error('the NTLM negotiation timed out'), { code: 'ETIMEDOUT' })));
    req.on('error', reject);
    req.end();
  });
}

/**
 * NTLM on our own TLS settings. @ewsjs/xhr's NtlmProvider builds an https.Agent without the configured CA, so
 * this one does the same handshake on an agent that has it. NTLM authenticates a connection: the NEGOTIATE
 * GET and the signed request share one socket of their own (an agent with a single keep-alive socket).
 */
function ntlmAuthProvider(user: string, domain: string, password: string, tls: AgentOptions): AuthProvider {
  return {
    providerName: 'ntlm',
    client: null as unknown as AuthProvider['client'],
    async preCall(options) {
      const agent = new HttpsAgent({ ...tls, keepAlive: true, maxSockets: 1 });
      try {
        const headers = { ...(options.headers as Record<string, string>) };
        const challenge = await ntlmChallenge(String(options.url), agent, { ...headers, Authorization: ntlm.createType1Message(WORKSTATION, domain), Connection: 'keep-alive' });
        const signed = ntlm.createType3Message(ntlm.decodeType2Message(challenge), user, password, WORKSTATION, domain);
        return { ...options, httpsAgent: agent, headers: { ...headers, Authorization: signed, Connection: 'close' } };
      } catch (err) {
        agent.destroy();
        throw err;
      }
    },
  };
}

/** With NTLM the handshake signs each request: the SDK must not add an Authorization header of its own. */
class HandshakeCredentials extends ExchangeCredentials {
  override PrepareWebRequest(): void {}
}

/** The SDK keeps only the message of a failed request; this keeps the transport error itself (TLS codes, resets). */
function recording(api: IXHRApi, seen: { transport?: unknown }): IXHRApi {
  return {
    apiName: api.apiName,
    async xhr(options, progress) {
      try {
        return await api.xhr(options, progress);
      } catch (err) {
        if (!(err as { status?: number }).status) seen.transport = err;
        throw err;
      }
    },
    xhrStream: (options, progress) => api.xhrStream(options, progress),
    disconnect: () => api.disconnect(),
  };
}

/** Client credentials for Exchange Online (msal-node over the same trust settings); the token is kept until 5 minutes before expiry. */
function oauthTokens(settings: EwsSettings, clientSecret: string | undefined) {
  const msal = entraClient({
    authorityHost: settings.authorityHost,
    tenantId: settings.tenantId ?? '',
    clientId: settings.clientId ?? '',
    clientSecret: clientSecret ?? '',
    fetcher: fetchWith(tlsDispatcher(settings.caCertificate)),
  });
  let cached: { token: string; refreshAt: number } | null = null;
  return async (): Promise<string> => {
    if (cached && Date.now() < cached.refreshAt) return cached.token;
    if (!clientSecret) throw credentials('No client secret is saved for the integration: save the app registration’s client secret Value.');
    // The EWS host is the token's audience: https://outlook.office365.com/.default (or a national cloud's).
    const result = await msal.acquireTokenByClientCredential({ scopes: [`${new URL(settings.server).origin}/.default`] });
    if (!result?.accessToken) throw new Error('the token endpoint returned no access token');
    cached = { token: result.accessToken, refreshAt: (result.expiresOn?.getTime() ?? Date.now() + 3_600_000) - 5 * 60_000 };
    return cached.token;
  };
}

// ---------------------------------------------------------------------------------------------------------

export interface EwsConfig {
  settings: EwsSettings;
  secrets: { password?: string; clientSecret?: string };
  installationId: string;
  /** For the connection test: one opted-in admin's mailbox to open through the access mode. */
  db?: Db;
}

type Outcome<T> = { ok: true; value: T } | { ok: false; code: string | null; failure: ProviderError };

export function createEwsProvider({ settings, secrets, installationId, db }: EwsConfig): CalendarProvider {
  const version = ExchangeVersion[settings.exchangeVersion];
  // One TLS context for every connection: building it from the roots and the CA costs tens of milliseconds.
  const tls: AgentOptions = settings.caCertificate?.trim() ? { secureContext: createSecureContext({ ca: [...rootCertificates, settings.caCertificate] }) } : {};
  const xhrApi = new XhrApi({ httpsAgent: new HttpsAgent({ ...tls, keepAlive: true, maxSockets: CONNECTIONS_PER_ORIGIN }), timeout: REQUEST_TIMEOUT_MS });
  if (settings.authentication === 'ntlm') xhrApi.setAuthProvider(ntlmAuthProvider(settings.username ?? '', settings.domain ?? '', secrets.password ?? '', tls));
  const token = settings.authentication === 'oauth' ? oauthTokens(settings, secrets.clientSecret) : null;
  const password = secrets.password ? (settings.authentication === 'ntlm' ? new HandshakeCredentials() : new WebCredentials(accountName(settings), secrets.password)) : null;
  const account = settings.authentication === 'oauth' ? `application ${settings.clientId}` : accountName(settings);
  const host = new URL(settings.server).host;
  const context: EwsErrorContext = { host, account, authentication: settings.authentication, accessMode: settings.accessMode, exchangeVersion: settings.exchangeVersion };

  async function callCredentials(): Promise<ExchangeCredentials> {
    if (token) return new OAuthCredentials(await token(), true);
    if (!password) throw credentials(`No password is saved for ${account}: save the service account’s password in the integration settings.`);
    return password;
  }

  /** A service for one call, acting for `mailbox` through the access mode (Exchange Online needs the impersonation header and X-AnchorMailbox). */
  async function serviceFor(mailbox: Mailbox, seen: { transport?: unknown }): Promise<ExchangeService> {
    // UTC as the service's zone: the SDK would otherwise put the worker's own zone into TimeZoneContext.
    const svc = new ExchangeService(version, TimeZoneInfo.Utc);
    svc.Url = new Uri(settings.server);
    svc.Credentials = await callCredentials();
    svc.XHRApi = recording(xhrApi, seen);
    svc.UserAgent = USER_AGENT;
    if (settings.accessMode === 'impersonation') svc.ImpersonatedUserId = new ImpersonatedUserId(ConnectingIdType.SmtpAddress, xmlText(mailbox.email));
    svc.HttpHeaders.Add('X-AnchorMailbox', mailbox.email);
    return svc;
  }

  /** The mailbox's calendar: its own when impersonating, addressed by mailbox when delegated. */
  const calendar = (mailbox: Mailbox) =>
    settings.accessMode === 'delegate' ? new FolderId(WellKnownFolderName.Calendar, new EwsMailbox(xmlText(mailbox.email))) : new FolderId(WellKnownFolderName.Calendar);

  /** Runs one SDK call; failures come back mapped, with the EWS response code for callers that expect some. */
  async function attempt<T>(mailbox: Mailbox, fn: (svc: ExchangeService) => Promise<T>): Promise<Outcome<T>> {
    const seen: { transport?: unknown } = {};
    try {
      return { ok: true, value: await fn(await serviceFor(mailbox, seen)) };
    } catch (err) {
      return { ok: false, code: ewsCode(err), failure: mapEwsError(err, { ...context, mailbox: mailbox.email, transport: seen.transport }) };
    }
  }
  async function must<T>(mailbox: Mailbox, fn: (svc: ExchangeService) => Promise<T>): Promise<T> {
    const outcome = await attempt(mailbox, fn);
    if (!outcome.ok) throw outcome.failure;
    return outcome.value;
  }

  /** Sets every property we own; the marker is written on create only (it never changes). */
  function writeEvent(a: Appointment, event: ExportedEvent, mailbox: Mailbox) {
    const t = ewsTimes(event, mailbox.timeZone);
    const zone = timeZoneInfo(t.zone);
    a.Subject = xmlText(event.title);
    a.Body = new MessageBody(BodyType.Text, xmlText(eventBodyText(event)));
    a.Start = instant(t.startUtc);
    a.End = instant(t.endUtc);
    a.StartTimeZone = zone;
    // Exchange 2007 has one meeting zone (MeetingTimeZone), which StartTimeZone becomes.
    if (version !== ExchangeVersion.Exchange2007_SP1) a.EndTimeZone = zone;
    a.IsAllDayEvent = t.isAllDay;
    a.LegacyFreeBusyStatus = event.showAs === 'free' ? LegacyFreeBusyStatus.Free : LegacyFreeBusyStatus.Busy;
    a.IsReminderSet = event.reminderMinutes !== null;
    if (event.reminderMinutes !== null) a.ReminderMinutesBeforeStart = event.reminderMinutes;
    a.Categories = new StringList([xmlText(event.category)]);
    a.Sensitivity = event.sensitivity === 'private' ? Sensitivity.Private : Sensitivity.Normal;
  }

  /**
   * The SDK updates only items it has loaded. Loading the stored id and ChangeKey as if the server had sent
   * them (no GetItem) makes UpdateItem carry the ChangeKey we stored, so a changed event is noticed.
   */
  function storedAppointment(svc: ExchangeService, ref: RemoteRef): Appointment {
    const a = new Appointment(svc);
    (a as unknown as { LoadFromXmlJsObject(js: unknown, svc: ExchangeService, clear: boolean): void }).LoadFromXmlJsObject(
      { ItemId: { Id: ref.remoteId, ...(ref.remoteVersion ? { ChangeKey: ref.remoteVersion } : {}) } },
      svc,
      true,
    );
    return a;
  }

  const updateOnce = (mailbox: Mailbox, ref: RemoteRef, event: ExportedEvent) =>
    attempt(mailbox, async (svc) => {
      const a = storedAppointment(svc, ref);
      writeEvent(a, event, mailbox);
      await a.Update(ConflictResolutionMode.NeverOverwrite, SendInvitationsOrCancellationsMode.SendToNone);
      return a.Id.ChangeKey;
    });

  /** UpdateItem with the stored ChangeKey; when the event changed since, once more with its current ChangeKey. */
  async function update(mailbox: Mailbox, ref: RemoteRef, event: ExportedEvent): Promise<RemoteRef | 'gone'> {
    let outcome = await updateOnce(mailbox, ref, event);
    if (!outcome.ok && STALE_CODES.has(outcome.code ?? '')) {
      const current = await attempt(mailbox, (svc) => Appointment.Bind(svc, new ItemId(ref.remoteId), new PropertySet(BasePropertySet.IdOnly)));
      if (!current.ok) {
        if (current.code === 'ErrorItemNotFound') return 'gone';
        throw current.failure;
      }
      outcome = await updateOnce(mailbox, { remoteId: ref.remoteId, remoteVersion: current.value.Id.ChangeKey }, event);
    }
    if (outcome.ok) return { remoteId: ref.remoteId, remoteVersion: outcome.value };
    if (outcome.code === 'ErrorItemNotFound') return 'gone';
    throw outcome.failure;
  }

  /** The event carrying this marker, if an earlier attempt created it (one FindItem with a restriction on the marker). */
  async function findByMarker(mailbox: Mailbox, marker: string): Promise<RemoteRef | null> {
    const view = new ItemView(10);
    view.PropertySet = new PropertySet(BasePropertySet.IdOnly, [MARKER]);
    const found = await must(mailbox, (svc) => svc.FindItems(calendar(mailbox), new SearchFilter.IsEqualTo(MARKER, xmlText(marker)), view));
    // Exchange compares strings without case; item keys keep theirs.
    const item = found.Items.find((i) => markerOf(i) === marker);
    return item ? { remoteId: item.Id.UniqueId, remoteVersion: item.Id.ChangeKey } : null;
  }

  /** One opted-in admin other than the sync user, whose calendar the connection test opens through the access mode. */
  async function sampleAdmin(syncUser: Mailbox): Promise<Mailbox | null> {
    if (!db) return null;
    const [row] = await db
      .select({ adminId: admins.id, email: admins.email, timeZone: admins.timeZone })
      .from(admins)
      .innerJoin(adminSettings, eq(adminSettings.adminId, admins.id))
      .where(and(eq(adminSettings.syncEnabled, true), isNull(admins.removedAt), ne(admins.email, syncUser.email)))
      .orderBy(admins.id)
      .limit(1);
    return row ?? null;
  }

  const openCalendar = (mailbox: Mailbox) => (svc: ExchangeService) => svc.FindAppointments(calendar(mailbox), new CalendarView(instant(Date.now()), instant(Date.now() + DAY_MS), 1));
  const via = settings.accessMode === 'impersonation' ? 'impersonation' : 'full mailbox access';

  const provider: CalendarProvider = {
    name: 'ews',
    mailboxConcurrency: MAILBOX_CONCURRENCY,
    async create(mailbox, identity, event) {
      // EWS has no idempotency key: an earlier attempt may have created the event before its link was written.
      const existing = await findByMarker(mailbox, identity.marker);
      if (existing) {
        const updated = await update(mailbox, existing, event);
        if (updated !== 'gone') return updated;
      }
      return must(mailbox, async (svc) => {
        const a = new Appointment(svc);
        writeEvent(a, event, mailbox);
        a.SetExtendedProperty(MARKER, xmlText(identity.marker));
        await a.Save(calendar(mailbox), SendInvitationsMode.SendToNone);
        return { remoteId: a.Id.UniqueId, remoteVersion: a.Id.ChangeKey };
      });
    },
    update: (mailbox, _identity, ref, event) => update(mailbox, ref, event),
    async delete(mailbox, _identity, ref) {
      const outcome = await attempt(mailbox, (svc) => storedAppointment(svc, { remoteId: ref.remoteId, remoteVersion: null }).Delete(DeleteMode.MoveToDeletedItems, SendCancellationsMode.SendToNone));
      if (!outcome.ok && outcome.code !== 'ErrorItemNotFound') throw outcome.failure;
    },
    async listManaged(mailbox, window: SyncWindow): Promise<ManagedEvent[]> {
      const owner = `${installationId}/${mailbox.adminId}/`;
      const found = new Map<string, ManagedEvent>();
      // A day wider each way: all-day events sit at local midnights, up to 14 hours off the UTC dates the window counts.
      const end = Date.parse(window.endUtc) + DAY_MS;
      for (let from = Date.parse(window.startUtc) - DAY_MS; from < end; ) {
        const to = Math.min(end, from + MAX_VIEW_MS);
        const view = new CalendarView(instant(from), instant(to), LIST_PAGE_SIZE);
        view.PropertySet = new PropertySet(BasePropertySet.IdOnly, [AppointmentSchema.Start, MARKER]);
        const page = await must(mailbox, (svc) => svc.FindAppointments(calendar(mailbox), view));
        for (const a of page.Items) {
          const marker = markerOf(a);
          if (marker?.startsWith(owner)) found.set(a.Id.UniqueId, { remoteId: a.Id.UniqueId, remoteVersion: a.Id.ChangeKey, marker });
        }
        // A full page goes on from its last start (items starting then come twice; the map keeps one).
        const lastStart = page.MoreAvailable ? page.Items.at(-1)?.Start.TotalMilliSeconds : undefined;
        from = lastStart !== undefined && lastStart > from ? lastStart : to;
      }
      return [...found.values()];
    },
    async testConnection(syncUser) {
      const explain = (err: unknown) => mapEwsError(err, { ...context, mailbox: syncUser.email }).message;
      const { checks, step } = checklist(explain);
      // One request proves TLS and sign-in (any SOAP answer) and, when it succeeds, the sync user's calendar.
      const sync: { failure: ProviderError | null } = { failure: null };
      const reached = await step('server', `Reached ${settings.server} over TLS and signed in as ${account}.`, async () => {
        const outcome = await attempt(syncUser, openCalendar(syncUser));
        if (outcome.ok) return;
        if (outcome.code === null) throw outcome.failure;
        sync.failure = outcome.failure;
      });
      if (!reached) return checks;
      if (!(await step('calendar', `Opened the calendar of ${syncUser.email} through ${via}.`, async () => {
        if (sync.failure) throw sync.failure;
      }))) return checks;
      const admin = await sampleAdmin(syncUser);
      const adminCheck = admin
        ? step('admin', `Opened the calendar of ${admin.email} (an opted-in admin) through ${via}.`, () => must(admin, openCalendar(admin)))
        : step('admin', `No admin has opted in yet; every admin’s calendar is opened through ${via}, as the sync user’s was.`, async () => undefined);
      if (!(await adminCheck)) return checks;
      await step('event', `Created and deleted a marked test appointment in ${syncUser.email}’s calendar.`, () => createAndDeleteProbe(provider, syncUser, `${installationId}/probe/${Date.now()}`));
      return checks;
    },
  };
  return provider;
}
