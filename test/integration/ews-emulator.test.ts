// The EWS emulator, driven by the real ews-javascript-api 0.15.3 SDK (and @ewsjs/xhr 3.1.3 for NTLM) over
// verified HTTPS: proves it answers the way Exchange does (NTLM/Basic/Bearer, impersonation vs delegate
// access, ChangeKey conflicts, CalendarView, extended properties only on request, ErrorServerBusy as a 500
// fault and per item, schema validation of malformed requests), so provider tests against it mean something.
// Services use an explicit UTC zone where instants matter, so nothing here depends on the host's TZ.
import { createHash } from 'node:crypto';
import https from 'node:https';
import { createRequire } from 'node:module';
import { rootCertificates } from 'node:tls';
import { gunzipSync } from 'node:zlib';
import { XhrApi } from '@ewsjs/xhr';
import {
  AffectedTaskOccurrence,
  Appointment,
  AppointmentSchema,
  BasePropertySet,
  BodyType,
  CalendarView,
  ConflictResolutionMode,
  ConnectingIdType,
  DateTime,
  DeleteMode,
  ExchangeService,
  ExchangeVersion,
  ExtendedPropertyDefinition,
  FolderId,
  Guid,
  ImpersonatedUserId,
  ItemId,
  ItemView,
  LegacyFreeBusyStatus,
  Mailbox,
  MapiPropertyType,
  MessageBody,
  PropertySet,
  SearchFilter,
  SendCancellationsMode,
  SendInvitationsMode,
  SendInvitationsOrCancellationsMode,
  ServiceError,
  ServiceResponseException,
  ServiceResult,
  SoapFaultDetails,
  StringList,
  TimeZoneInfo,
  Uri,
  WebCredentials,
  WellKnownFolderName,
} from 'ews-javascript-api';
import { afterEach, describe, expect, it } from 'vitest';
import { startEwsEmulator, type EwsEmulator } from '../fakes/ews';
import { testTls } from '../fakes/tls';

const ALICE = 'alice@contoso.test';
const BOB = 'bob@contoso.test';
const CAROL = 'carol@contoso.test';
const SVC = 'svc-calsync@contoso.test';
const USER = 'svc-calsync';
const PW = 'Winter2024!ews';
const GUID = '2d1e1ec6-3a5b-4e4a-9f3f-0d6b5f1a2b3c';
// ExtendedPropertyDefinition needs a Guid instance: a plain string throws "propertySetId.ToString is not a function".
const MARK = new ExtendedPropertyDefinition(new Guid(GUID), 'CalendarSyncMarker', MapiPropertyType.String);
const MARK_KEY = `${GUID}/CalendarSyncMarker`;

let emu: EwsEmulator | undefined;
afterEach(async () => {
  await emu?.close();
  emu = undefined;
});

async function start(opts: Partial<Parameters<typeof startEwsEmulator>[0]> = {}) {
  emu = await startEwsEmulator({
    accounts: [{ domain: 'CONTOSO', user: USER, password: PW, impersonate: [ALICE], fullAccess: [BOB], email: SVC }],
    mailboxes: [ALICE, BOB, CAROL, SVC],
    ...opts,
  });
  return emu;
}

/** axios `transport` that adds our CA to every TLS connection. @ewsjs/xhr's NtlmProvider replaces any configured
 *  `httpsAgent` with its own keep-alive agent, so for NTLM a transport (or NODE_EXTRA_CA_CERTS) is the only way
 *  to trust a private CA without turning verification off. */
const caTransport = (ca: string[]) => ({ request: (o: https.RequestOptions, cb: (res: import('node:http').IncomingMessage) => void) => https.request({ ...o, ca }, cb) });

function service(e: EwsEmulator, opts: { ntlm?: boolean; password?: string; ca?: string[]; url?: string; impersonate?: string; zone?: TimeZoneInfo | null } = {}) {
  const svc = opts.zone === null ? new ExchangeService(ExchangeVersion.Exchange2013) : new ExchangeService(ExchangeVersion.Exchange2013, opts.zone ?? TimeZoneInfo.Utc);
  svc.Url = new Uri(opts.url ?? e.url);
  const ca = opts.ca ?? [...rootCertificates, e.ca];
  // The SDK refuses to send without Credentials even when NTLM is done by the XHR layer; the Basic header it
  // prepares is replaced by the NTLM provider (the test checks no request arrives with Basic).
  svc.Credentials = new WebCredentials(`CONTOSO\\${USER}`, opts.password ?? PW);
  svc.XHRApi = opts.ntlm ? new XhrApi({ transport: caTransport(ca) }).useNtlmAuthentication(`CONTOSO\\${USER}`, opts.password ?? PW) : new XhrApi({ httpsAgent: new https.Agent({ ca }) });
  if (opts.impersonate) {
    svc.ImpersonatedUserId = new ImpersonatedUserId(ConnectingIdType.SmtpAddress, opts.impersonate);
    svc.HttpHeaders.Add('X-AnchorMailbox', opts.impersonate);
  }
  return svc;
}

function appointment(svc: ExchangeService, subject: string, startUtc: string, endUtc: string, marker?: string) {
  const a = new Appointment(svc);
  a.Subject = subject;
  a.Body = new MessageBody(BodyType.Text, `Body of ${subject}`);
  a.Start = new DateTime(startUtc);
  a.End = new DateTime(endUtc);
  if (marker !== undefined) a.SetExtendedProperty(MARK, marker);
  return a;
}
const markers = (a: Appointment) => a.ExtendedProperties.GetEnumerator().map((p) => p.Value);

async function failure(p: Promise<unknown>): Promise<unknown> {
  try {
    await p;
  } catch (err) {
    return err;
  }
  throw new Error('expected the call to fail');
}

/** A raw HTTPS request to the emulator (what the SDK cannot send); gunzips when the server compressed. */
function raw(e: EwsEmulator, opts: { method?: string; body?: string; headers?: Record<string, string>; agent?: https.Agent } = {}) {
  return new Promise<{ status: number; headers: import('node:http').IncomingHttpHeaders; text: string }>((resolve, reject) => {
    const req = https.request(e.url, { method: opts.method ?? 'POST', ca: [e.ca], agent: opts.agent, headers: { 'content-type': 'text/xml; charset=utf-8', ...opts.headers } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (d: Buffer) => chunks.push(d));
      res.on('end', () => {
        const body = Buffer.concat(chunks);
        resolve({ status: res.statusCode!, headers: res.headers, text: (res.headers['content-encoding'] === 'gzip' ? gunzipSync(body) : body).toString('utf8') });
      });
    });
    req.on('error', reject);
    req.end(opts.body);
  });
}
const soap = (header: string, body: string) =>
  `<?xml version="1.0" encoding="utf-8"?><soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/" xmlns:m="http://schemas.microsoft.com/exchange/services/2006/messages" xmlns:t="http://schemas.microsoft.com/exchange/services/2006/types"><soap:Header><t:RequestServerVersion Version="Exchange2013"/>${header}</soap:Header><soap:Body>${body}</soap:Body></soap:Envelope>`;
const basic = (user = `CONTOSO\\${USER}`, pw = PW) => `Basic ${Buffer.from(`${user}:${pw}`).toString('base64')}`;
const findCalendar = (mailbox?: string) =>
  `<m:FindItem Traversal="Shallow"><m:ItemShape><t:BaseShape>IdOnly</t:BaseShape></m:ItemShape><m:CalendarView StartDate="2024-05-01T00:00:00Z" EndDate="2024-05-02T00:00:00Z"/><m:ParentFolderIds><t:DistinguishedFolderId Id="calendar">${mailbox ? `<t:Mailbox><t:EmailAddress>${mailbox}</t:EmailAddress></t:Mailbox>` : ''}</t:DistinguishedFolderId></m:ParentFolderIds></m:FindItem>`;

describe('EWS emulator driven by ews-javascript-api', () => {
  it('creates over Basic auth, stores exactly what was sent, and returns the extended property only when asked', async () => {
    const e = await start();
    const svc = service(e);
    const a = appointment(svc, 'Night patching', '2024-05-01T10:00:00Z', '2024-05-01T11:30:00Z', 'inst-1:sysaid:task:1:g1');
    a.Categories = new StringList(['SysAid']);
    a.IsReminderSet = false;
    a.LegacyFreeBusyStatus = LegacyFreeBusyStatus.Free;
    await a.Save(SendInvitationsMode.SendToNone);

    const [stored] = e.appointments(SVC);
    expect(e.appointments(SVC)).toHaveLength(1);
    expect(stored).toMatchObject({ id: a.Id.UniqueId, changeKey: a.Id.ChangeKey, mailbox: SVC, subject: 'Night patching', body: 'Body of Night patching', bodyType: 'Text', start: '2024-05-01T10:00:00.000Z', end: '2024-05-01T11:30:00.000Z', isAllDay: false, legacyFreeBusyStatus: 'Free', reminderIsSet: false, categories: ['SysAid'], sensitivity: 'Normal', timeZone: 'UTC' });
    expect(stored!.extended).toEqual({ [MARK_KEY]: 'inst-1:sysaid:task:1:g1' });
    expect(stored!.id).toMatch(/^AAMkA[\w-]{80}=$/);
    expect(e.requests).toEqual([expect.objectContaining({ operation: 'CreateItem', httpStatus: 200, responseCode: 'NoError', mailbox: SVC, user: `CONTOSO\\${USER}`, auth: 'basic' })]);
    expect(e.invitationsSent()).toBe(0);

    const withMark = await Appointment.Bind(svc, new ItemId(stored!.id), new PropertySet(BasePropertySet.FirstClassProperties, [MARK]));
    expect([withMark.Subject, withMark.Start.ToISOString(), withMark.End.ToISOString(), withMark.Body.Text, markers(withMark)]).toEqual(['Night patching', '2024-05-01T10:00:00.000Z', '2024-05-01T11:30:00.000Z', 'Body of Night patching', ['inst-1:sysaid:task:1:g1']]);
    const plain = await Appointment.Bind(svc, new ItemId(stored!.id));
    expect([plain.Subject, plain.ExtendedProperties.Count]).toEqual(['Night patching', 0]);

    // Without an explicit zone the SDK sends the host zone as TimeZoneContext; the instant is unaffected.
    const hostSvc = service(e, { zone: null });
    await appointment(hostSvc, 'Host zone', '2024-05-02T08:00:00Z', '2024-05-02T09:00:00Z').Save(SendInvitationsMode.SendToNone);
    expect(e.appointments(SVC)[1]).toMatchObject({ start: '2024-05-02T08:00:00.000Z', timeZone: TimeZoneInfo.Local.Id });
  });

  it('completes a real NTLM handshake with @ewsjs/xhr and answers 401 to a wrong password', async () => {
    const e = await start();
    await appointment(service(e, { ntlm: true }), 'Over NTLM', '2024-05-01T10:00:00Z', '2024-05-01T11:00:00Z').Save(SendInvitationsMode.SendToNone);
    expect(e.ntlmHandshakes()).toBe(1);
    expect(e.appointments(SVC).map((a) => a.subject)).toEqual(['Over NTLM']);
    // On the wire: NEGOTIATE on a GET → 401 + CHALLENGE, then AUTHENTICATE on the POST carrying the SOAP body.
    expect(e.requests.map((r) => [r.operation, r.httpStatus, r.auth, r.user])).toEqual([
      [null, 401, 'ntlm', null],
      ['CreateItem', 200, 'ntlm', `CONTOSO\\${USER}`],
    ]);

    const wrong = await failure(Appointment.Bind(service(e, { ntlm: true, password: 'not-it' }), new ItemId(e.appointments(SVC)[0]!.id)));
    expect(wrong).toBeInstanceOf(SoapFaultDetails);
    expect((wrong as SoapFaultDetails).HttpStatusCode).toBe(401);
    expect(e.ntlmHandshakes()).toBe(1);

    e.setPassword(USER, 'Spring2025!ews');
    expect(((await failure(Appointment.Bind(service(e, { ntlm: true }), new ItemId(e.appointments(SVC)[0]!.id)))) as SoapFaultDetails).HttpStatusCode).toBe(401);
    const rotated = await Appointment.Bind(service(e, { ntlm: true, password: 'Spring2025!ews' }), new ItemId(e.appointments(SVC)[0]!.id));
    expect([rotated.Subject, e.ntlmHandshakes()]).toEqual(['Over NTLM', 2]);

    // An httpsAgent with the CA is silently dropped by the NTLM provider: TLS fails before any request arrives.
    const before = e.requests.length;
    const svc = service(e, { ntlm: true });
    svc.XHRApi = new XhrApi({ httpsAgent: new https.Agent({ ca: [...rootCertificates, e.ca] }) }).useNtlmAuthentication(`CONTOSO\\${USER}`, 'Spring2025!ews');
    expect(await failure(Appointment.Bind(svc, new ItemId(e.appointments(SVC)[0]!.id)))).toBeInstanceOf(SoapFaultDetails);
    expect(e.requests.length).toBe(before);
  });

  it('verifies NTLM2-session and NTLMv1 responses too (hand-built client, MS-NLMP DESL)', async () => {
    const e = await start();
    const req = createRequire(import.meta.url);
    const md4 = req('js-md4') as { arrayBuffer(d: Uint8Array): ArrayBuffer };
    const { DES } = req('des.js') as { DES: { create(o: object): { update(d: Uint8Array): number[] } } };
    const spread = (s: Buffer) => Buffer.from([s[0]!, (s[0]! << 7) | (s[1]! >> 1), (s[1]! << 6) | (s[2]! >> 2), (s[2]! << 5) | (s[3]! >> 3), (s[3]! << 4) | (s[4]! >> 4), (s[4]! << 3) | (s[5]! >> 5), (s[5]! << 2) | (s[6]! >> 6), s[6]! << 1].map((b) => b & 0xff));
    const desl = (k16: Buffer, d: Buffer) => Buffer.concat([0, 7, 14].map((o) => Buffer.from(DES.create({ type: 'encrypt', key: spread(Buffer.concat([k16, Buffer.alloc(5)]).subarray(o, o + 7)), padding: false }).update(d))));
    const secbuf = (b: Buffer, at: number) => Buffer.from([b.length & 0xff, b.length >> 8, b.length & 0xff, b.length >> 8, at & 0xff, (at >> 8) & 0xff, 0, 0]);

    async function handshake(ess: boolean, password: string) {
      const agent = new https.Agent({ keepAlive: true, maxSockets: 1, ca: [e.ca] });
      const negotiate = Buffer.concat([Buffer.from('NTLMSSP\0', 'latin1'), Buffer.from([1, 0, 0, 0]), Buffer.alloc(4), Buffer.alloc(16)]);
      negotiate.writeUInt32LE(0x2 | 0x4 | 0x200 | (ess ? 0x80000 : 0), 12);
      const r1 = await raw(e, { method: 'GET', agent, headers: { authorization: `NTLM ${negotiate.toString('base64')}` } });
      const type2 = Buffer.from(/^NTLM (\S+)$/.exec(String(r1.headers['www-authenticate']))![1]!, 'base64');
      const challenge = type2.subarray(24, 32);
      const nonce = Buffer.from('aaaaaaaaaaaaaaaa', 'hex');
      const nth = Buffer.from(md4.arrayBuffer(Buffer.from(password, 'utf16le')));
      const lm = ess ? Buffer.concat([nonce, Buffer.alloc(16)]) : Buffer.alloc(24);
      const nt = desl(nth, ess ? createHash('md5').update(Buffer.concat([challenge, nonce])).digest().subarray(0, 8) : challenge);
      // NTLMv1 layout: a 52-byte header without NegotiateFlags, then LM, NT, domain, user, workstation (OEM).
      const [dom, usr, ws] = ['CONTOSO', USER, 'WS01'].map((s) => Buffer.from(s, 'latin1'));
      const parts = [lm, nt, dom!, usr!, ws!];
      const offsets = parts.reduce<number[]>((acc, p, i) => [...acc, i ? acc[i - 1]! + parts[i - 1]!.length : 52], []);
      const auth = Buffer.concat([Buffer.from('NTLMSSP\0', 'latin1'), Buffer.from([3, 0, 0, 0]), ...parts.map((p, i) => secbuf(p, offsets[i]!)), ...parts]);
      const r2 = await raw(e, { agent, headers: { authorization: `NTLM ${auth.toString('base64')}` }, body: soap('', findCalendar()) });
      agent.destroy();
      return { flags: type2.readUInt32LE(20), status: r2.status };
    }
    const ess = await handshake(true, PW);
    expect([ess.status, (ess.flags & 0x80000) !== 0, e.ntlmHandshakes()]).toEqual([200, true, 1]);
    const v1 = await handshake(false, PW);
    expect([v1.status, (v1.flags & 0x80000) !== 0, e.ntlmHandshakes()]).toEqual([200, false, 2]);
    expect((await handshake(true, 'wrong')).status).toBe(401);
    expect((await handshake(false, 'wrong')).status).toBe(401);
    expect(e.ntlmHandshakes()).toBe(2);
  });

  it('impersonates within the role scope and refuses others with a 500 ErrorImpersonateUserDenied fault', async () => {
    const e = await start();
    await appointment(service(e, { impersonate: ALICE }), 'For Alice', '2024-05-01T10:00:00Z', '2024-05-01T11:00:00Z').Save(SendInvitationsMode.SendToNone);
    expect(e.appointments(ALICE).map((a) => a.subject)).toEqual(['For Alice']);
    expect(e.appointments(SVC)).toEqual([]);
    expect(e.requests.at(-1)).toMatchObject({ operation: 'CreateItem', mailbox: ALICE, httpStatus: 200 });

    const denied = (await failure(appointment(service(e, { impersonate: CAROL }), 'For Carol', '2024-05-01T10:00:00Z', '2024-05-01T11:00:00Z').Save(SendInvitationsMode.SendToNone))) as SoapFaultDetails;
    expect(denied).toBeInstanceOf(SoapFaultDetails);
    // Exchange's <faultstring xml:lang="en-US"> makes the SDK's FaultString an object; the text is in `message`.
    expect([denied.HttpStatusCode, denied.ResponseCode, denied.message]).toEqual([500, ServiceError.ErrorImpersonateUserDenied, 'The account does not have permission to impersonate the requested user.']);
    expect(denied.FaultString).toEqual({ faultstring: 'The account does not have permission to impersonate the requested user.', 'xml:lang': 'en-US' });
    expect(e.appointments(CAROL)).toEqual([]);
    expect(e.requests.at(-1)).toMatchObject({ httpStatus: 500, responseCode: 'ErrorImpersonateUserDenied', mailbox: CAROL });

    const unknown = (await failure(Appointment.Bind(service(e, { impersonate: 'nobody@contoso.test' }), new ItemId(e.appointments(ALICE)[0]!.id)))) as SoapFaultDetails;
    expect(unknown.ResponseCode).toBe(ServiceError.ErrorNonExistentMailbox);
  });

  it('writes to a delegate mailbox with Full Access and answers ErrorAccessDenied per item without it', async () => {
    const e = await start();
    const svc = service(e);
    await appointment(svc, 'In Bob', '2024-05-01T10:00:00Z', '2024-05-01T11:00:00Z').Save(new FolderId(WellKnownFolderName.Calendar, new Mailbox(BOB)), SendInvitationsMode.SendToNone);
    expect(e.appointments(BOB).map((a) => a.subject)).toEqual(['In Bob']);

    const denied = await failure(appointment(svc, 'In Carol', '2024-05-01T10:00:00Z', '2024-05-01T11:00:00Z').Save(new FolderId(WellKnownFolderName.Calendar, new Mailbox(CAROL)), SendInvitationsMode.SendToNone));
    expect(denied).toBeInstanceOf(ServiceResponseException);
    expect([(denied as ServiceResponseException).ErrorCode, (denied as ServiceResponseException).Message]).toEqual([ServiceError.ErrorAccessDenied, 'Access is denied. Check credentials and try again.']);
    expect(e.appointments(CAROL)).toEqual([]);
    expect(e.requests.at(-1)).toMatchObject({ httpStatus: 200, responseCode: 'ErrorAccessDenied', mailbox: CAROL });

    // Reading Bob's item by id is allowed; Carol's (created by someone else) is not.
    const bobItem = await Appointment.Bind(svc, new ItemId(e.appointments(BOB)[0]!.id));
    expect(bobItem.Subject).toBe('In Bob');
    await appointment(service(e, { impersonate: ALICE }), 'Alice private', '2024-05-01T10:00:00Z', '2024-05-01T11:00:00Z').Save(SendInvitationsMode.SendToNone);
    const other = await failure(Appointment.Bind(svc, new ItemId(e.appointments(ALICE)[0]!.id)));
    expect((other as ServiceResponseException).ErrorCode).toBe(ServiceError.ErrorAccessDenied);
    const missing = await failure(appointment(svc, 'x', '2024-05-01T10:00:00Z', '2024-05-01T11:00:00Z').Save(new FolderId(WellKnownFolderName.Calendar, new Mailbox('ghost@contoso.test')), SendInvitationsMode.SendToNone));
    expect((missing as ServiceResponseException).ErrorCode).toBe(ServiceError.ErrorNonExistentMailbox);
  });

  it('updates with the current ChangeKey and refuses a stale one with ErrorIrresolvableConflict', async () => {
    const e = await start();
    const svc = service(e);
    await appointment(svc, 'v1', '2024-05-01T10:00:00Z', '2024-05-01T11:00:00Z', 'm').Save(SendInvitationsMode.SendToNone);
    const id = new ItemId(e.appointments(SVC)[0]!.id);
    const first = await Appointment.Bind(svc, id);
    const second = await Appointment.Bind(svc, id);
    const ck0 = e.appointments(SVC)[0]!.changeKey;

    first.Subject = 'v2';
    first.End = new DateTime('2024-05-01T12:00:00Z');
    first.SetExtendedProperty(MARK, 'm2');
    await first.Update(ConflictResolutionMode.NeverOverwrite, SendInvitationsOrCancellationsMode.SendToNone);
    const [afterUpdate] = e.appointments(SVC);
    expect(afterUpdate).toMatchObject({ subject: 'v2', end: '2024-05-01T12:00:00.000Z', extended: { [MARK_KEY]: 'm2' } });
    expect(afterUpdate!.changeKey).not.toBe(ck0);
    expect(first.Id.ChangeKey).toBe(afterUpdate!.changeKey);

    second.Subject = 'stale write';
    const stale = await failure(second.Update(ConflictResolutionMode.NeverOverwrite, SendInvitationsOrCancellationsMode.SendToNone));
    expect(stale).toBeInstanceOf(ServiceResponseException);
    expect((stale as ServiceResponseException).ErrorCode).toBe(ServiceError.ErrorIrresolvableConflict);
    expect(e.appointments(SVC)[0]!.subject).toBe('v2');
    await second.Update(ConflictResolutionMode.AlwaysOverwrite, SendInvitationsOrCancellationsMode.SendToNone);
    expect(e.appointments(SVC)[0]!.subject).toBe('stale write');

    // Someone edits it in Outlook: our (now stale) copy conflicts; after the edit is deleted, the id is gone.
    e.editAppointment(SVC, id.UniqueId, { subject: 'edited in Outlook' });
    second.Subject = 'ours again';
    expect(((await failure(second.Update(ConflictResolutionMode.NeverOverwrite, SendInvitationsOrCancellationsMode.SendToNone))) as ServiceResponseException).ErrorCode).toBe(ServiceError.ErrorIrresolvableConflict);
    e.deleteAppointment(SVC, id.UniqueId);
    expect(((await failure(Appointment.Bind(svc, id))) as ServiceResponseException).ErrorCode).toBe(ServiceError.ErrorItemNotFound);
    expect(e.invitationsSent()).toBe(0);
  });

  it('deletes, then answers a second delete with HTTP 200 and ErrorItemNotFound per item', async () => {
    const e = await start();
    const svc = service(e);
    await appointment(svc, 'a', '2024-05-01T10:00:00Z', '2024-05-01T11:00:00Z').Save(SendInvitationsMode.SendToNone);
    await appointment(svc, 'b', '2024-05-01T12:00:00Z', '2024-05-01T13:00:00Z').Save(SendInvitationsMode.SendToNone);
    const [a, b] = e.appointments(SVC).map((x) => new ItemId(x.id));

    const first = await svc.DeleteItems([a!], DeleteMode.HardDelete, SendCancellationsMode.SendToNone, AffectedTaskOccurrence.AllOccurrences);
    expect(first.OverallResult).toBe(ServiceResult.Success);
    expect(e.appointments(SVC).map((x) => x.subject)).toEqual(['b']);

    const again = await svc.DeleteItems([a!, b!, new ItemId('not-an-exchange-id')], DeleteMode.HardDelete, SendCancellationsMode.SendToNone, AffectedTaskOccurrence.AllOccurrences);
    expect(again.OverallResult).toBe(ServiceResult.Error);
    expect(again.Responses.map((r) => [r.Result, r.ErrorCode, r.ErrorMessage])).toEqual([
      [ServiceResult.Error, ServiceError.ErrorItemNotFound, 'The specified object was not found in the store.'],
      [ServiceResult.Success, ServiceError.NoError, undefined],
      [ServiceResult.Error, ServiceError.ErrorInvalidIdMalformed, 'Id is malformed.'],
    ]);
    expect(e.appointments(SVC)).toEqual([]);
    expect(e.requests.at(-1)).toMatchObject({ operation: 'DeleteItem', httpStatus: 200, responseCode: 'ErrorItemNotFound' });
  });

  it('lists a CalendarView, with the extended property only when requested, and enforces the view rules', async () => {
    const e = await start();
    const svc = service(e);
    await appointment(svc, 'late', '2024-05-01T15:00:00Z', '2024-05-01T16:00:00Z', 'm-late').Save(SendInvitationsMode.SendToNone);
    await appointment(svc, 'early', '2024-05-01T08:00:00Z', '2024-05-01T09:00:00Z', 'm-early').Save(SendInvitationsMode.SendToNone);
    await appointment(svc, 'overnight', '2024-04-30T22:00:00Z', '2024-05-01T01:00:00Z').Save(SendInvitationsMode.SendToNone);
    await appointment(svc, 'next week', '2024-05-08T08:00:00Z', '2024-05-08T09:00:00Z', 'm-next').Save(SendInvitationsMode.SendToNone);
    const day = () => new CalendarView(new DateTime('2024-05-01T00:00:00Z'), new DateTime('2024-05-02T00:00:00Z'));

    const withMark = day();
    withMark.PropertySet = new PropertySet(BasePropertySet.IdOnly, [AppointmentSchema.Subject, AppointmentSchema.Start, MARK]);
    const found = await svc.FindAppointments(WellKnownFolderName.Calendar, withMark);
    expect(found.Items.map((a) => [a.Subject, a.Start.ToISOString(), markers(a)])).toEqual([
      ['overnight', '2024-04-30T22:00:00.000Z', []],
      ['early', '2024-05-01T08:00:00.000Z', ['m-early']],
      ['late', '2024-05-01T15:00:00.000Z', ['m-late']],
    ]);
    expect([found.TotalCount, found.MoreAvailable]).toEqual([3, false]);

    const noMark = day();
    noMark.PropertySet = new PropertySet(BasePropertySet.IdOnly, [AppointmentSchema.Subject]);
    const plain = await svc.FindAppointments(WellKnownFolderName.Calendar, noMark);
    expect(plain.Items.map((a) => [a.Subject, a.ExtendedProperties.Count])).toEqual([['overnight', 0], ['early', 0], ['late', 0]]);

    const capped = new CalendarView(new DateTime('2024-05-01T00:00:00Z'), new DateTime('2024-05-02T00:00:00Z'), 2);
    const page = await svc.FindAppointments(WellKnownFolderName.Calendar, capped);
    expect([page.Items.length, page.MoreAvailable]).toEqual([2, true]);

    const tooBig = await failure(svc.FindAppointments(WellKnownFolderName.Calendar, new CalendarView(new DateTime('2024-01-01T00:00:00Z'), new DateTime('2026-01-02T00:00:00Z'))));
    expect((tooBig as ServiceResponseException).ErrorCode).toBe(ServiceError.ErrorCalendarViewRangeTooBig);
    const filtered = await failure(svc.FindItems(WellKnownFolderName.Calendar, new SearchFilter.IsEqualTo(MARK, 'm-early'), day()));
    expect((filtered as ServiceResponseException).ErrorCode).toBe(ServiceError.ErrorInvalidRestriction);
    // Without a CalendarView, FindItem takes a Restriction (here on the marker) and pages.
    const byMarker = await svc.FindItems(WellKnownFolderName.Calendar, new SearchFilter.IsEqualTo(MARK, 'm-early'), new ItemView(10));
    expect(byMarker.Items.map((i) => i.Subject)).toEqual(['early']);
    const tagged = await svc.FindItems(WellKnownFolderName.Calendar, new SearchFilter.Exists(MARK), new ItemView(2));
    expect([tagged.Items.map((i) => i.Subject), tagged.TotalCount, tagged.MoreAvailable, tagged.NextPageOffset]).toEqual([['late', 'early'], 3, true, 2]);

    // In a delegate mailbox with Full Access the view works; without it the folder is refused.
    const bobView = await svc.FindAppointments(new FolderId(WellKnownFolderName.Calendar, new Mailbox(BOB)), day());
    expect(bobView.Items).toEqual([]);
    expect(((await failure(svc.FindAppointments(new FolderId(WellKnownFolderName.Calendar, new Mailbox(CAROL)), day()))) as ServiceResponseException).ErrorCode).toBe(ServiceError.ErrorAccessDenied);
  });

  it('answers ErrorServerBusy as a 500 fault and per item in a 200, both with BackOffMilliseconds', async () => {
    const e = await start();
    const svc = service(e);
    e.addFault({ kind: 'serverBusy500', times: 1, backOffMs: 1234, operation: 'CreateItem' });
    const fault = await failure(appointment(svc, 'busy', '2024-05-01T10:00:00Z', '2024-05-01T11:00:00Z').Save(SendInvitationsMode.SendToNone));
    expect(fault).toBeInstanceOf(SoapFaultDetails);
    expect([(fault as SoapFaultDetails).HttpStatusCode, (fault as SoapFaultDetails).ResponseCode, (fault as SoapFaultDetails).ErrorDetails.get('BackOffMilliseconds')]).toEqual([500, ServiceError.ErrorServerBusy, '1234']);
    expect(e.appointments(SVC)).toEqual([]);
    await appointment(svc, 'after back-off', '2024-05-01T10:00:00Z', '2024-05-01T11:00:00Z').Save(SendInvitationsMode.SendToNone);
    expect(e.appointments(SVC)).toHaveLength(1);

    e.addFault({ kind: 'serverBusyItem', times: 1, backOffMs: 4321 });
    const perItem = await failure(Appointment.Bind(svc, new ItemId(e.appointments(SVC)[0]!.id)));
    expect(perItem).toBeInstanceOf(ServiceResponseException);
    expect([(perItem as ServiceResponseException).ErrorCode, (perItem as ServiceResponseException).Response.ErrorDetails.get('BackOffMilliseconds')]).toEqual([ServiceError.ErrorServerBusy, '4321']);
    expect(e.requests.at(-1)).toMatchObject({ operation: 'GetItem', httpStatus: 200, responseCode: 'ErrorServerBusy' });

    e.addFault({ kind: 'serverBusyItem', times: 1, operation: 'DeleteItem' });
    const batch = await svc.DeleteItems([new ItemId(e.appointments(SVC)[0]!.id), new ItemId(e.appointments(SVC)[0]!.id)], DeleteMode.HardDelete, SendCancellationsMode.SendToNone, AffectedTaskOccurrence.AllOccurrences);
    expect(batch.Responses.map((r) => [r.ErrorCode, r.ErrorDetails.get('BackOffMilliseconds')])).toEqual([[ServiceError.ErrorServerBusy, '2000'], [ServiceError.ErrorServerBusy, '2000']]);
    expect(e.appointments(SVC)).toHaveLength(1);
  });

  it('drops, delays and tracks concurrency per mailbox; counts would-be invitations', async () => {
    const e = await start();
    const svc = service(e);
    e.addFault({ kind: 'drop', times: 1 });
    expect(await failure(appointment(svc, 'dropped', '2024-05-01T10:00:00Z', '2024-05-01T11:00:00Z').Save(SendInvitationsMode.SendToNone))).toBeInstanceOf(SoapFaultDetails);
    expect(e.requests.at(-1)).toMatchObject({ operation: 'CreateItem', httpStatus: 0 });

    e.addFault({ kind: 'slow', times: 1, delayMs: 300 });
    const t0 = Date.now();
    await appointment(svc, 'slow', '2024-05-01T10:00:00Z', '2024-05-01T11:00:00Z').Save(SendInvitationsMode.SendToNone);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(300);

    e.setLatency(300);
    const alice = service(e, { impersonate: ALICE });
    await Promise.all([1, 2, 3].map((n) => appointment(alice, `p${n}`, '2024-05-01T10:00:00Z', '2024-05-01T11:00:00Z').Save(SendInvitationsMode.SendToNone)));
    expect([e.peakConcurrency(ALICE), e.peakConcurrency(SVC), e.appointments(ALICE).length]).toEqual([3, 1, 3]);
    e.setLatency(0);

    expect(e.invitationsSent()).toBe(0);
    const meeting = appointment(svc, 'meeting', '2024-05-01T10:00:00Z', '2024-05-01T11:00:00Z');
    meeting.RequiredAttendees.Add('someone@example.test');
    await meeting.Save(SendInvitationsMode.SendToNone);
    expect(e.invitationsSent()).toBe(1);
    await appointment(svc, 'sent mode', '2024-05-01T10:00:00Z', '2024-05-01T11:00:00Z').Save(SendInvitationsMode.SendToAllAndSaveCopy);
    expect(e.invitationsSent()).toBe(2);
  });

  it('rejects a malformed request (the SDK does not escape text) with ErrorSchemaValidation', async () => {
    const e = await start();
    const svc = service(e);
    const bad = await failure(appointment(svc, 'Tom & Jerry <3', '2024-05-01T10:00:00Z', '2024-05-01T11:00:00Z').Save(SendInvitationsMode.SendToNone));
    expect(bad).toBeInstanceOf(SoapFaultDetails);
    expect([(bad as SoapFaultDetails).HttpStatusCode, (bad as SoapFaultDetails).ResponseCode]).toEqual([500, ServiceError.ErrorSchemaValidation]);
    expect((bad as SoapFaultDetails).message).toMatch(/^The request failed schema validation: An error occurred while parsing EntityName\. Line 1, position \d+\.$/);
    expect(e.requests.at(-1)).toMatchObject({ operation: 'CreateItem', httpStatus: 500, responseCode: 'ErrorSchemaValidation' });
    expect(e.appointments(SVC)).toEqual([]);

    // Escaped by the caller, it round-trips as plain text.
    await appointment(svc, 'Tom &amp; Jerry &lt;3', '2024-05-01T10:00:00Z', '2024-05-01T11:00:00Z').Save(SendInvitationsMode.SendToNone);
    expect(e.appointments(SVC)[0]!.subject).toBe('Tom & Jerry <3');
    expect((await Appointment.Bind(svc, new ItemId(e.appointments(SVC)[0]!.id))).Subject).toBe('Tom & Jerry <3');
  });

  it('refuses an untrusted CA and a name the certificate does not cover', async () => {
    const e = await start();
    const untrusted = await failure(Appointment.Bind(service(e, { ca: [testTls().otherCa] }), new ItemId('AAMkAxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx=')));
    expect(untrusted).toBeInstanceOf(SoapFaultDetails);
    expect((untrusted as SoapFaultDetails).message).toMatch(/unable to verify the first certificate|self[- ]signed|local issuer/);
    const mismatch = await failure(Appointment.Bind(service(e, { url: e.mismatchUrl }), new ItemId('AAMkAxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx=')));
    expect((mismatch as SoapFaultDetails).message).toMatch(/^Hostname\/IP does not match certificate's altnames: IP: 127\.0\.0\.2 is not in the cert's list/);
    expect(e.requests).toEqual([]);
  });

  it('speaks the documented wire format to a raw client: 401 schemes, gzip, ServerVersionInfo, zones, Bearer', async () => {
    const e = await start({ auth: ['ntlm', 'basic', 'bearer'], bearerTokens: ['eyJ0eXAiOiJKV1QifQ.app.sig'], serverVersion: { major: 15, minor: 20, build: 7452, revision: 0, version: 'V2018_01_08' } });
    const anon = await raw(e, { body: soap('', findCalendar()) });
    expect([anon.status, anon.headers['www-authenticate']]).toEqual([401, 'NTLM, Basic realm="localhost", Bearer']);

    const zipped = await raw(e, { body: soap('', findCalendar()), headers: { authorization: basic(), 'accept-encoding': 'gzip' } });
    expect([zipped.status, zipped.headers['content-encoding'], zipped.headers['content-type']]).toEqual([200, 'gzip', 'text/xml; charset=utf-8']);
    expect(zipped.text).toContain('<h:ServerVersionInfo MajorVersion="15" MinorVersion="20" MajorBuildNumber="7452" MinorBuildNumber="0" Version="V2018_01_08"');
    expect(zipped.text).toContain('<m:RootFolder TotalItemsInView="0" IncludesLastItemInRange="true">');
    const plainText = await raw(e, { body: soap('', findCalendar()), headers: { authorization: basic(`${USER}@contoso.test`) } });
    expect([plainText.status, plainText.headers['content-encoding']]).toEqual([200, undefined]);

    // A dateTime without offset is local time in the TimeZoneContext zone (Berlin is UTC+2 in July).
    const create = (header: string, auth: string) =>
      raw(e, { headers: { authorization: auth }, body: soap(header, `<m:CreateItem SendMeetingInvitations="SendToNone"><m:Items><t:CalendarItem><t:Subject>Local</t:Subject><t:Start>2024-07-01T10:00:00</t:Start><t:End>2024-07-01T11:00:00</t:End></t:CalendarItem></m:Items></m:CreateItem>`) });
    const berlin = await create('<t:TimeZoneContext><t:TimeZoneDefinition Id="W. Europe Standard Time"/></t:TimeZoneContext>', basic());
    expect(berlin.text).toContain('<m:ResponseCode>NoError</m:ResponseCode>');
    expect(e.appointments(SVC)[0]).toMatchObject({ start: '2024-07-01T08:00:00.000Z', end: '2024-07-01T09:00:00.000Z', timeZone: 'W. Europe Standard Time' });
    // A local time in a repeated hour counts once, with the earlier offset (02:30 CEST on 31 October 2027);
    // a zone id Windows does not have is refused, in the item or in TimeZoneContext.
    const zoned = (zone: string, start: string, end: string) =>
      raw(e, { headers: { authorization: basic() }, body: soap('', `<m:CreateItem SendMeetingInvitations="SendToNone"><m:Items><t:CalendarItem><t:Subject>Zoned</t:Subject><t:Start>${start}</t:Start><t:End>${end}</t:End><t:StartTimeZone Id="${zone}"/><t:EndTimeZone Id="${zone}"/></t:CalendarItem></m:Items></m:CreateItem>`) });
    expect((await zoned('W. Europe Standard Time', '2027-10-31T02:30:00', '2027-10-31T03:30:00')).text).toContain('<m:ResponseCode>NoError</m:ResponseCode>');
    expect(e.appointments(SVC).find((a) => a.subject === 'Zoned')).toMatchObject({ start: '2027-10-31T00:30:00.000Z', end: '2027-10-31T02:30:00.000Z' });
    expect((await zoned('Kyiv Standard Time', '2027-10-31T02:30:00', '2027-10-31T03:30:00')).text).toContain('<m:ResponseCode>ErrorTimeZone</m:ResponseCode>');
    const badContext = await create('<t:TimeZoneContext><t:TimeZoneDefinition Id="Europe/Berlin"/></t:TimeZoneContext>', basic());
    expect([badContext.status, /<faultcode[^>]*>a:(\w+)</.exec(badContext.text)?.[1]]).toEqual([500, 'ErrorTimeZone']);

    // Bearer (Exchange Online app-only): the impersonation header is mandatory.
    const token = 'Bearer eyJ0eXAiOiJKV1QifQ.app.sig';
    const noHeader = await create('', token);
    expect([noHeader.status, /<faultcode[^>]*>a:(\w+)</.exec(noHeader.text)?.[1]]).toEqual([500, 'ErrorInvalidExchangeImpersonationHeaderData']);
    const asCarol = await create(`<t:ExchangeImpersonation><t:ConnectingSID><t:SmtpAddress>${CAROL}</t:SmtpAddress></t:ConnectingSID></t:ExchangeImpersonation>`, token);
    expect(asCarol.status).toBe(200);
    expect(e.appointments(CAROL)).toHaveLength(1);
    expect((await create('', 'Bearer not-a-token')).status).toBe(401);

    const missingMode = await raw(e, { headers: { authorization: basic() }, body: soap('', '<m:DeleteItem DeleteType="HardDelete"><m:ItemIds><t:ItemId Id="x"/></m:ItemIds></m:DeleteItem>') });
    expect(missingMode.text).toContain('<m:ResponseCode>ErrorSendMeetingCancellationsRequired</m:ResponseCode>');
  });
});
