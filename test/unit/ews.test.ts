// The pure parts of the EWS adapter: the form's normalisation and messages, how every Exchange answer maps to
// a provider error (real SDK errors from canned answers, no socket), times and zones, and XML escaping.
import { CalendarView, DateTime, ExchangeService, ExchangeVersion, ServiceLocalException, TimeZoneInfo, Uri, WebCredentials, WellKnownFolderName, type IXHRApi } from 'ews-javascript-api';
import { describe, expect, it } from 'vitest';
import { ewsTimes, MARKER_PROPERTY, xmlText } from '../../activities/providers/ews';
import { mapEwsError, type EwsErrorContext } from '../../activities/providers/ews/errors';
import { accountName, ewsSecretProblems, ewsSettingsSchema } from '../../activities/providers/ews/settings';
import { MARKER_PROPERTY_ID } from '../../activities/providers/graph';
import type { ExportedEvent } from '../../activities/sync/types';

const base = { server: 'mail.contoso.com', domain: 'CONTOSO', username: 'svc-calsync', syncUserEmail: 'helpdesk@contoso.com' };
const problems = (settings: Record<string, unknown>) => {
  const r = ewsSettingsSchema.safeParse(settings);
  return r.success ? [] : r.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
};

describe('the ews form', () => {
  it('turns a server name into the EWS URL and keeps a given URL; defaults to NTLM, impersonation and Exchange 2013 SP1', () => {
    const parsed = ewsSettingsSchema.parse(base);
    expect(parsed).toMatchObject({ server: 'https://mail.contoso.com/EWS/Exchange.asmx', authentication: 'ntlm', accessMode: 'impersonation', exchangeVersion: 'Exchange2013_SP1', driftPolicy: 'repair' });
    const server = (s: string) => ewsSettingsSchema.parse({ ...base, server: s }).server;
    expect(server('Mail.Contoso.com:8443')).toBe('https://mail.contoso.com:8443/EWS/Exchange.asmx');
    expect(server('https://mail.contoso.com/')).toBe('https://mail.contoso.com/EWS/Exchange.asmx');
    expect(server('https://cas.contoso.com/ews/exchange.asmx/')).toBe('https://cas.contoso.com/ews/exchange.asmx');
    // Saved settings are parsed again when the provider is built: normalising twice changes nothing.
    expect(ewsSettingsSchema.parse(parsed)).toEqual(parsed);
    expect(accountName(parsed)).toBe('CONTOSO\\svc-calsync');
    expect(accountName({ username: 'svc-calsync@contoso.com' })).toBe('svc-calsync@contoso.com');
  });

  it('names the field and the fix in every message', () => {
    expect(problems({ ...base, server: 'http://mail.contoso.com' })).toEqual(['server: server must use https (TLS verification is never turned off): enter the host name, e.g. mail.contoso.com']);
    expect(problems({ ...base, server: 'mail contoso' })).toEqual([expect.stringMatching(/^server: server must be the Exchange server’s host name \(mail\.contoso\.com\) or its EWS URL/)]);
    expect(problems({ ...base, domain: 'contoso.com' })).toEqual([expect.stringMatching(/^domain: domain must be the NetBIOS domain name .*e\.g\. CONTOSO/)]);
    expect(problems({ ...base, username: 'CONTOSO\\svc-calsync' })).toEqual([expect.stringMatching(/^username: .*enter CONTOSO as domain and svc-calsync as username/)]);
    expect(problems({ ...base, exchangeVersion: 'Exchange2003' })).toEqual([expect.stringMatching(/^exchangeVersion: exchangeVersion must be one of Exchange2007_SP1, .*Exchange2013_SP1/)]);
    expect(problems({ ...base, domain: undefined })).toEqual(['domain: domain is required with ntlm: the NetBIOS domain of the service account, e.g. CONTOSO']);
    expect(problems({ ...base, domain: undefined, authentication: 'basic' })).toEqual([]);
    expect(problems({ ...base, username: undefined, authentication: 'basic' })).toEqual([expect.stringMatching(/^username: username is required with basic/)]);
    expect(problems({ syncUserEmail: 'it@contoso.onmicrosoft.com', server: 'outlook.office365.com', authentication: 'oauth', accessMode: 'delegate' }).sort()).toEqual([
      expect.stringMatching(/^accessMode: accessMode must be impersonation with oauth/),
      expect.stringMatching(/^clientId: clientId is required with oauth/),
      expect.stringMatching(/^tenantId: tenantId is required with oauth/),
    ]);
    expect(problems({ ...base, colour: 'red' })).toEqual([expect.stringMatching(/colour/)]);
  });

  it('asks for the secret the authentication needs', () => {
    expect(ewsSecretProblems({ authentication: 'ntlm' }, {})).toEqual([{ path: 'secrets.password', message: 'password is required with ntlm: the service account’s password' }]);
    expect(ewsSecretProblems({ authentication: 'basic' }, { password: 'x' })).toEqual([]);
    expect(ewsSecretProblems({ authentication: 'oauth' }, { password: 'x' })).toEqual([{ path: 'secrets.clientSecret', message: 'clientSecret is required with oauth: the client secret’s Value from the app registration' }]);
  });
});

describe('the EWS wire', () => {
  it('tags events with the very property Graph uses', () => {
    expect(`${MARKER_PROPERTY.propertyType} {${MARKER_PROPERTY.propertySetId}} Name ${MARKER_PROPERTY.propertyName}`).toBe(MARKER_PROPERTY_ID);
  });

  it('escapes what ews-javascript-api would write raw, and drops characters XML cannot carry', () => {
    expect(xmlText('R&D <urgent> "now"')).toBe('R&amp;D &lt;urgent&gt; &quot;now&quot;');
    expect(xmlText('bell\u0007 tab\t line\nok')).toBe('bell tab\t line\nok');
  });

  const timed = (startUtc: string, endUtc: string, timeZone: string): ExportedEvent => ({ title: 't', body: '', url: null, time: { kind: 'timed', startUtc, endUtc, timeZone }, showAs: 'busy', reminderMinutes: 15, category: 'Helpdesk', sensitivity: 'normal' });
  const allDay = (startDate: string, endDateExclusive: string): ExportedEvent => ({ ...timed('', '', 'UTC'), time: { kind: 'all_day', startDate, endDateExclusive } });

  it('sends timed events as UTC instants with the event’s Windows zone', () => {
    expect(ewsTimes(timed('2027-03-28T00:30:00Z', '2027-03-28T01:30:00Z', 'Europe/Berlin'), 'Asia/Tokyo')).toEqual({ startUtc: '2027-03-28T00:30:00.000Z', endUtc: '2027-03-28T01:30:00.000Z', isAllDay: false, zone: 'W. Europe Standard Time' });
  });

  it('puts all-day events at the admin’s midnights, west and east of UTC and across DST, with an exclusive end', () => {
    expect(ewsTimes(allDay('2027-02-10', '2027-02-11'), 'Asia/Tokyo')).toEqual({ startUtc: '2027-02-09T15:00:00.000Z', endUtc: '2027-02-10T15:00:00.000Z', isAllDay: true, zone: 'Tokyo Standard Time' });
    expect(ewsTimes(allDay('2027-02-09', '2027-02-10'), 'America/Los_Angeles')).toEqual({ startUtc: '2027-02-09T08:00:00.000Z', endUtc: '2027-02-10T08:00:00.000Z', isAllDay: true, zone: 'Pacific Standard Time' });
    // Berlin springs forward on 28 March 2027: that day is 23 hours long.
    expect(ewsTimes(allDay('2027-03-28', '2027-03-29'), 'Europe/Berlin')).toMatchObject({ startUtc: '2027-03-27T23:00:00.000Z', endUtc: '2027-03-28T22:00:00.000Z' });
    // An end not after the start still spans one day.
    expect(ewsTimes(allDay('2027-02-10', '2027-02-10'), 'UTC')).toMatchObject({ startUtc: '2027-02-10T00:00:00.000Z', endUtc: '2027-02-11T00:00:00.000Z', zone: 'UTC' });
  });

  it('writes an event in UTC where the admin’s zone has no Windows zone or its time is in a repeated hour', () => {
    // Antarctica/Troll (+00/+02) has no Windows zone: the all-day event runs midnight to midnight UTC.
    expect(ewsTimes(allDay('2027-07-10', '2027-07-11'), 'Antarctica/Troll')).toEqual({ startUtc: '2027-07-10T00:00:00.000Z', endUtc: '2027-07-11T00:00:00.000Z', isAllDay: true, zone: 'UTC' });
    // Santiago skips from 00:00 to 01:00 on 5 September 2027: that day has no midnight.
    expect(ewsTimes(allDay('2027-09-05', '2027-09-06'), 'America/Santiago')).toMatchObject({ startUtc: '2027-09-05T00:00:00.000Z', zone: 'UTC' });
    expect(ewsTimes(timed('2027-11-07T06:30:00Z', '2027-11-07T07:00:00Z', 'America/New_York'), 'America/New_York')).toMatchObject({ startUtc: '2027-11-07T06:30:00.000Z', zone: 'UTC' });
    // Europe/Kyiv is CLDR's Europe/Kiev.
    expect(ewsTimes(allDay('2027-07-10', '2027-07-11'), 'Europe/Kyiv')).toEqual({ startUtc: '2027-07-09T21:00:00.000Z', endUtc: '2027-07-10T21:00:00.000Z', isAllDay: true, zone: 'FLE Standard Time' });
  });
});

// Exchange's answers, as the SDK turns them into errors.
const T = 'http://schemas.microsoft.com/exchange/services/2006/types';
const M = 'http://schemas.microsoft.com/exchange/services/2006/messages';
const envelope = (body: string) => `<?xml version="1.0" encoding="utf-8"?><s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Header><h:ServerVersionInfo MajorVersion="15" MinorVersion="1" MajorBuildNumber="2507" MinorBuildNumber="6" Version="V2017_07_11" xmlns:h="${T}"/></s:Header><s:Body>${body}</s:Body></s:Envelope>`;
const backOff = (ms: number) => `<t:MessageXml xmlns:t="${T}"><t:Value Name="BackOffMilliseconds">${ms}</t:Value></t:MessageXml>`;
const fault = (code: string, detail = '') =>
  envelope(`<s:Fault><faultcode xmlns:a="${T}">a:${code}</faultcode><faultstring xml:lang="en-US">${code} text</faultstring><detail><e:ResponseCode xmlns:e="http://schemas.microsoft.com/exchange/services/2006/errors">${code}</e:ResponseCode><e:Message xmlns:e="http://schemas.microsoft.com/exchange/services/2006/errors">${code} text</e:Message>${detail}</detail></s:Fault>`);
const itemError = (code: string, ms?: number) =>
  envelope(`<m:FindItemResponse xmlns:m="${M}" xmlns:t="${T}"><m:ResponseMessages><m:FindItemResponseMessage ResponseClass="Error"><m:MessageText>${code} text</m:MessageText><m:ResponseCode>${code}</m:ResponseCode><m:DescriptiveLinkKey>0</m:DescriptiveLinkKey>${ms === undefined ? '' : backOff(ms).replace(/t:MessageXml/g, 'm:MessageXml').replace(` xmlns:t="${T}"`, '')}</m:FindItemResponseMessage></m:ResponseMessages></m:FindItemResponse>`);

/** What a real ExchangeService throws when Exchange answers `status` + `body` to a FindItem (no socket involved). */
async function sdkError(status: number, body: string): Promise<unknown> {
  const svc = new ExchangeService(ExchangeVersion.Exchange2013_SP1, TimeZoneInfo.Utc);
  svc.Url = new Uri('https://mail.contoso.com/EWS/Exchange.asmx');
  svc.Credentials = new WebCredentials('CONTOSO\\svc-calsync', 'pw');
  const answer = { status, responseText: body, headers: {}, getResponseHeader: () => null, getAllResponseHeaders: () => '' };
  // Like @ewsjs/xhr: a 200 resolves, anything else rejects with the response.
  svc.XHRApi = { xhr: async () => (status === 200 ? answer : Promise.reject(answer)), xhrStream: async () => answer, disconnect: () => undefined } as unknown as IXHRApi;
  const now = Date.now();
  return svc.FindAppointments(WellKnownFolderName.Calendar, new CalendarView(new DateTime(now), new DateTime(now + 3_600_000))).then(
    () => expect.unreachable('the SDK accepted an error answer'),
    (err: unknown) => err,
  );
}

const ctx: EwsErrorContext = { host: 'mail.contoso.com', account: 'CONTOSO\\svc-calsync', authentication: 'ntlm', accessMode: 'impersonation', exchangeVersion: 'Exchange2013_SP1', mailbox: 'alice@contoso.com' };

describe('mapEwsError', () => {
  const cases: Array<[string, () => Promise<unknown>, Partial<EwsErrorContext>, string, RegExp, number?]> = [
    ['ErrorServerBusy as a 500 fault', () => sdkError(500, fault('ErrorServerBusy', backOff(4321))), {}, 'throttled', /^Exchange is busy and asks to back off \(ErrorServerBusy/, 4321],
    ['ErrorServerBusy in a 200', () => sdkError(200, itemError('ErrorServerBusy', 1500)), {}, 'throttled', /ErrorServerBusy/, 1500],
    ['too many connections', () => sdkError(200, itemError('ErrorExceededConnectionCount')), {}, 'throttled', /ErrorExceededConnectionCount/],
    ['a full IIS queue', () => sdkError(503, 'Service Unavailable'), {}, 'throttled', /too busy \(503/],
    ['a wrong NTLM password', () => sdkError(401, ''), {}, 'credentials', /^Exchange refused the NTLM sign-in of CONTOSO\\svc-calsync \(401\).*Windows \(NTLM\) authentication/],
    ['a wrong basic password', () => sdkError(401, ''), { authentication: 'basic' }, 'credentials', /^Exchange refused the basic sign-in .*-BasicAuthentication \$true/],
    ['a token Exchange Online refuses', () => sdkError(401, ''), { authentication: 'oauth', account: 'application 5e3c' }, 'credentials', /refused the access token of application 5e3c \(401\).*full_access_as_app/],
    ['EWS switched off', () => sdkError(403, ''), {}, 'credentials', /Set-CASMailbox -EwsEnabled \$true/],
    ['no EWS at that URL', () => sdkError(404, ''), {}, 'credentials', /no EWS endpoint at mail\.contoso\.com \(404\)/],
    ['no impersonation right', () => sdkError(500, fault('ErrorImpersonateUserDenied')), {}, 'credentials', /New-ManagementRoleAssignment -Name calendar-sync -Role ApplicationImpersonation -User CONTOSO\\svc-calsync/],
    ['no full access (delegate)', () => sdkError(200, itemError('ErrorAccessDenied')), { accessMode: 'delegate' }, 'credentials', /Add-MailboxPermission -Identity alice@contoso\.com -User CONTOSO\\svc-calsync -AccessRights FullAccess/],
    ['an unknown mailbox', () => sdkError(500, fault('ErrorNonExistentMailbox')), {}, 'mailbox-not-found', /^The mailbox alice@contoso\.com was not found/],
    ['a version the server does not speak', () => sdkError(500, fault('ErrorInvalidServerVersion')), {}, 'credentials', /does not accept exchangeVersion Exchange2013_SP1/],
    ['a store that is failing over', () => sdkError(200, itemError('ErrorMailboxStoreUnavailable')), {}, 'transient', /ErrorMailboxStoreUnavailable/],
    ['an unexplained server error', () => sdkError(500, fault('ErrorInternalServerError')), {}, 'transient', /Exchange failed \(500/],
    ['an appointment changed again while it was being updated', () => sdkError(200, itemError('ErrorIrresolvableConflict')), {}, 'transient', /ErrorIrresolvableConflict/],
    ['a request the SDK refuses to build', async () => new ServiceLocalException('StartTimeZone required when setting the Start property.'), {}, 'item-rejected', /^The event could not be written as an EWS request: StartTimeZone required/],
    ['a malformed id', () => sdkError(200, itemError('ErrorInvalidIdMalformed')), {}, 'item-rejected', /^Exchange rejected the event: ErrorInvalidIdMalformed/],
    ['an untrusted certificate', async () => ({ message: 'self-signed certificate in certificate chain' }), { transport: { code: 'SELF_SIGNED_CERT_IN_CHAIN' } }, 'credentials', /not trusted \(SELF_SIGNED_CERT_IN_CHAIN\): add the issuing CA/],
    ['a certificate for another name', async () => ({}), { transport: { code: 'ERR_TLS_CERT_ALTNAME_INVALID' } }, 'credentials', /not issued for that name: use the name in its certificate/],
    ['a dropped connection', async () => ({ message: 'socket hang up' }), { transport: { code: 'ECONNRESET' } }, 'transient', /Could not reach mail\.contoso\.com \(ECONNRESET\)/],
    ['a wrong client secret', async () => ({ name: 'ServerError', errorCode: 'invalid_client', errorMessage: 'AADSTS7000215: Invalid client secret provided.' }), { authentication: 'oauth' }, 'credentials', /^AADSTS7000215: The client secret is wrong/],
  ];
  for (const [what, answer, extra, kind, message, retryAfterMs] of cases) {
    it(`maps ${what}`, async () => {
      const mapped = mapEwsError(await answer(), { ...ctx, ...extra });
      expect(mapped.kind).toBe(kind);
      expect(mapped.message).toMatch(message);
      expect(mapped.options.retryAfterMs).toBe(retryAfterMs);
    });
  }
});
