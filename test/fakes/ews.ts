// An Exchange Web Services (EWS) SOAP emulator over HTTPS on 127.0.0.1, for the real ews-javascript-api SDK
// (and @ewsjs/xhr for NTLM). It keeps calendar items per mailbox so tests can assert exactly what is there.
// Behaviour follows the documented service: a real NTLM handshake (NTLMv2, NTLM2 session and NTLMv1
// responses verified against the password), Basic and Bearer, ExchangeImpersonation vs delegate access,
// CreateItem/UpdateItem/DeleteItem/GetItem/FindItem (CalendarView or paged view + Restriction) for calendar
// items, extended properties returned only on request, ChangeKey conflicts, one response message per item,
// strict XML parsing (malformed requests are answered with ErrorSchemaValidation, as Exchange does), gzip on
// request, ServerVersionInfo on every reply, and scriptable faults (ErrorServerBusy as a 500 fault or per item).
// Zone-less times are read in their Windows zone as Exchange reads them (test/fakes/zones.ts); a zone id Windows
// does not have is refused with ErrorTimeZone.
import { createHash, createHmac, randomBytes, randomUUID, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import https from 'node:https';
import { createRequire } from 'node:module';
import type { AddressInfo, Socket } from 'node:net';
import { gzipSync } from 'node:zlib';
import { testTls } from './tls';
import { wallClockInstant, windowsZoneRules } from './zones';

// Pure-JS MD4 and DES (Node's OpenSSL 3 has both disabled); both ship with @ewsjs/ntlm-client, untyped.
const require = createRequire(import.meta.url);
const md4 = require('js-md4') as { arrayBuffer(data: Uint8Array): ArrayBuffer };
const { DES } = require('des.js') as { DES: { create(o: { type: 'encrypt'; key: Uint8Array; padding: boolean }): { update(d: Uint8Array): number[] } } };

export interface EwsAccount {
  domain: string; // NetBIOS, e.g. 'CONTOSO'
  user: string; // e.g. 'svc-calsync'
  password: string;
  /** Mailboxes this account may impersonate (ApplicationImpersonation role scope); '*' = all. */
  impersonate?: string[] | '*';
  /** Mailboxes it has Full Access to (delegate access); '*' = all. Its own mailbox (user@domain given as `email`) always. */
  fullAccess?: string[] | '*';
  email?: string; // the account's own mailbox address, if any
}

export interface StoredAppointment {
  id: string;
  changeKey: string;
  mailbox: string;
  subject: string;
  body: string;
  bodyType: 'Text' | 'HTML';
  start: string;
  end: string; // ISO-8601 UTC instants as the emulator understood them (after applying any offset in the request)
  isAllDay: boolean;
  legacyFreeBusyStatus: string; // 'Free' | 'Busy' | ...
  reminderIsSet: boolean;
  /** As sent; null when the request never set it (Exchange then reports its default, 15). */
  reminderMinutesBeforeStart: number | null;
  categories: string[];
  sensitivity: string;
  /** Extended properties by `${PropertySetId}/${PropertyName}` (lower-case GUID), value as string. */
  extended: Record<string, string>;
  /** StartTimeZone / TimeZoneContext id that came with the item, if any (e.g. 'W. Europe Standard Time'). */
  timeZone: string | null;
}

export interface EwsFault {
  times: number;
  operation?: 'CreateItem' | 'UpdateItem' | 'DeleteItem' | 'GetItem' | 'FindItem';
  /** serverBusy500: HTTP 500 SOAP Fault with faultcode a:ErrorServerBusy and detail MessageXml Value Name="BackOffMilliseconds";
   *  serverBusyItem: HTTP 200 with the response message ResponseClass="Error" ResponseCode ErrorServerBusy and MessageXml BackOffMilliseconds;
   *  itemNotFound: answer ErrorItemNotFound; staleChangeKey: answer ErrorIrresolvableConflict (UpdateItem);
   *  slow: delay `delayMs` then answer normally; drop: destroy the socket. */
  kind: 'serverBusy500' | 'serverBusyItem' | 'itemNotFound' | 'staleChangeKey' | 'slow' | 'drop';
  backOffMs?: number; // default 2000
  delayMs?: number;
}

type AuthScheme = 'ntlm' | 'basic' | 'bearer';
interface RequestLog {
  operation: string | null;
  httpStatus: number;
  responseCode: string | null;
  mailbox: string | null;
  user: string | null;
  auth: AuthScheme | null;
  at: number;
}

const SOAP_NS = 'http://schemas.xmlsoap.org/soap/envelope/';
const M_NS = 'http://schemas.microsoft.com/exchange/services/2006/messages';
const T_NS = 'http://schemas.microsoft.com/exchange/services/2006/types';
const E_NS = 'http://schemas.microsoft.com/exchange/services/2006/errors';
const XSI_XSD = 'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xmlns:xsd="http://www.w3.org/2001/XMLSchema"';

// Message texts as Exchange words them.
const TEXT: Record<string, string> = {
  ErrorItemNotFound: 'The specified object was not found in the store.',
  ErrorAccessDenied: 'Access is denied. Check credentials and try again.',
  ErrorImpersonateUserDenied: 'The account does not have permission to impersonate the requested user.',
  ErrorNonExistentMailbox: 'The SMTP address has no mailbox associated with it.',
  ErrorServerBusy: 'The server cannot service this request right now. Try again later.',
  ErrorIrresolvableConflict: 'The send or update operation could not be performed because the change key passed in the request does not match the current change key for the item.',
  ErrorInvalidIdMalformed: 'Id is malformed.',
  ErrorCalendarViewRangeTooBig: 'The time window specified is larger than the maximum allowed (2 years).',
  ErrorInvalidRestriction: 'Restrictions and sort order may not be specified for a CalendarView.',
  ErrorCalendarEndDateIsEarlierThanStartDate: 'EndDate is earlier than StartDate',
  ErrorSendMeetingInvitationsRequired: 'SendMeetingInvitations attribute is required for calendar items.',
  ErrorSendMeetingInvitationsOrCancellationsRequired: 'SendMeetingInvitationsOrCancellations attribute is required for calendar items.',
  ErrorSendMeetingCancellationsRequired: 'SendMeetingCancellations attribute is required for calendar items.',
  ErrorMissingEmailAddress: 'When making a request as an account that does not have a mailbox, you must specify the mailbox primary SMTP address for any distinguished folder Ids.',
  ErrorInvalidExchangeImpersonationHeaderData: 'ExchangeImpersonation SOAP header must be present for this type of OAuth token.',
  ErrorInvalidPropertyRequest: 'The property Body cannot be used in FindItem requests.',
  ErrorFolderNotFound: 'The specified folder could not be found in the store.',
  ErrorCalendarFolderIsInvalidForCalendarView: 'The folder is not a calendar folder.',
  ErrorInvalidRequest: 'The request is invalid.',
  ErrorTimeZone: 'The time zone isn’t valid.',
};

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
const newId = () => `AAMkA${randomBytes(60).toString('base64url')}=`;
const newChangeKey = () => `DwAAABYAAA${randomBytes(30).toString('base64')}`;
const ID_SHAPE = /^AAMk[A-Za-z0-9_+/-]{40,}={0,2}$/;
const FIND_COUNT_LIMIT = 1000; // EWSFindCountLimit
const exSecs = (iso: string) => `${iso.slice(0, 19)}Z`; // Exchange replies in UTC without fractions

// ---------------------------------------------------------------------------------------------------------
// A small strict XML parser. Exchange parses requests with .NET's XmlReader, which rejects what a lenient
// parser would accept (a bare '&', a mismatched end tag, '<' in an attribute); ews-javascript-api 0.15.3
// does not escape text or attribute values, so this strictness matters.
interface XEl {
  ns: string;
  name: string; // local name
  attrs: Record<string, string>; // by local name (namespaced attributes other than xmlns are rare in EWS)
  kids: XEl[];
  text: string;
}
class XmlError extends Error {
  constructor(
    message: string,
    readonly line: number,
    readonly pos: number,
  ) {
    super(`${message} Line ${line}, position ${pos}.`);
  }
}

function parseXml(src: string): XEl {
  let i = src.charCodeAt(0) === 0xfeff ? 1 : 0;
  const fail = (msg: string, at = i): never => {
    const before = src.slice(0, at).split('\n');
    throw new XmlError(msg, before.length, before[before.length - 1]!.length + 1);
  };
  const decode = (s: string, at: number) =>
    s.replace(/&([^;&<]*)(;?)/g, (_m, ent: string, semi: string, off: number) => {
      const named: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" };
      if (semi && named[ent]) return named[ent];
      if (semi && /^#\d+$/.test(ent)) return String.fromCodePoint(Number(ent.slice(1)));
      if (semi && /^#x[0-9a-f]+$/i.test(ent)) return String.fromCodePoint(parseInt(ent.slice(2), 16));
      return fail('An error occurred while parsing EntityName.', at + off + 1);
    });
  const NAME = /[A-Za-z_][\w.-]*(?::[A-Za-z_][\w.-]*)?/y;
  const readName = () => {
    NAME.lastIndex = i;
    const m = NAME.exec(src);
    if (!m) fail(`Name cannot begin with the '${src[i] ?? 'EOF'}' character.`);
    i += m![0].length;
    return m![0];
  };
  const skipWs = () => {
    while (/\s/.test(src[i] ?? '')) i++;
  };
  const stack: Array<{ el: XEl; qname: string; nsMap: Record<string, string> }> = [];
  let root: XEl | null = null;
  while (i < src.length) {
    if (src.startsWith('<!--', i)) {
      const end = src.indexOf('-->', i + 4);
      if (end < 0) fail('Unexpected end of file while parsing Comment has occurred.');
      i = end + 3;
    } else if (src.startsWith('<![CDATA[', i)) {
      const end = src.indexOf(']]>', i);
      if (end < 0 || !stack.length) fail('Unexpected CDATA section.');
      stack[stack.length - 1]!.el.text += src.slice(i + 9, end);
      i = end + 3;
    } else if (src.startsWith('<?', i)) {
      const end = src.indexOf('?>', i);
      if (end < 0) fail('Unexpected end of file.');
      i = end + 2;
    } else if (src.startsWith('<!', i)) {
      fail('For security reasons DTD is prohibited in this XML document.');
    } else if (src.startsWith('</', i)) {
      const at = i;
      i += 2;
      const qname = readName();
      skipWs();
      if (src[i] !== '>') fail(`Unexpected character '${src[i] ?? 'EOF'}'.`);
      i++;
      const top = stack.pop();
      if (!top || top.qname !== qname) fail(top ? `The '${top.qname}' start tag does not match the end tag of '${qname}'.` : `Unexpected end tag '${qname}'.`, at);
    } else if (src[i] === '<') {
      if (root && !stack.length) fail('There are multiple root elements.');
      i++;
      const qname = readName();
      const rawAttrs: Array<[string, string]> = [];
      for (;;) {
        const hadWs = /\s/.test(src[i] ?? '');
        skipWs();
        if (src.startsWith('/>', i) || src[i] === '>') break;
        if (!hadWs) fail(`'${src[i] ?? 'EOF'}' is an unexpected token. Expecting white space.`);
        const an = readName();
        skipWs();
        if (src[i] !== '=') fail(`'${src[i] ?? 'EOF'}' is an unexpected token. The expected token is '='.`);
        i++;
        skipWs();
        const q = src[i];
        if (q !== '"' && q !== "'") fail(`'${q ?? 'EOF'}' is an unexpected token. The expected token is '"' or '''.`);
        const end = src.indexOf(q!, i + 1);
        if (end < 0) fail('Unexpected end of file while parsing attribute.');
        const rawVal = src.slice(i + 1, end);
        const lt = rawVal.indexOf('<');
        if (lt >= 0) fail(`'<', hexadecimal value 0x3C, is an invalid attribute character.`, i + 1 + lt);
        if (rawAttrs.some(([n]) => n === an)) fail(`'${an}' is a duplicate attribute name.`);
        rawAttrs.push([an, decode(rawVal, i + 1)]);
        i = end + 1;
      }
      const selfClosing = src[i] === '/';
      i += selfClosing ? 2 : 1;
      const nsMap = { ...(stack[stack.length - 1]?.nsMap ?? { xml: 'http://www.w3.org/XML/1998/namespace' }) };
      for (const [n, v] of rawAttrs) {
        if (n === 'xmlns') nsMap[''] = v;
        else if (n.startsWith('xmlns:')) nsMap[n.slice(6)] = v;
      }
      const [prefix, local] = qname.includes(':') ? qname.split(':') : ['', qname];
      const ns = nsMap[prefix!];
      if (ns === undefined && prefix) fail(`'${prefix}' is an undeclared prefix.`);
      const el: XEl = { ns: ns ?? '', name: local!, attrs: {}, kids: [], text: '' };
      for (const [n, v] of rawAttrs) if (n !== 'xmlns' && !n.startsWith('xmlns:')) el.attrs[n.includes(':') ? n.split(':')[1]! : n] = v;
      if (stack.length) stack[stack.length - 1]!.el.kids.push(el);
      else root = el;
      if (!selfClosing) stack.push({ el, qname, nsMap });
    } else {
      const end = src.indexOf('<', i);
      const raw = src.slice(i, end < 0 ? src.length : end);
      if (stack.length) stack[stack.length - 1]!.el.text += decode(raw, i);
      else if (raw.trim()) fail('Data at the root level is invalid.');
      i = end < 0 ? src.length : end;
    }
  }
  if (stack.length) fail(`Unexpected end of file has occurred. The following elements are not closed: ${stack.map((s) => s.qname).join(', ')}.`);
  if (!root) fail('Root element is missing.');
  return root!;
}
const kid = (el: XEl | undefined, name: string) => el?.kids.find((k) => k.name === name);
const kidsOf = (el: XEl | undefined, name: string) => el?.kids.filter((k) => k.name === name) ?? [];
const bool = (s: string) => s.trim() === 'true' || s.trim() === '1';

// ---------------------------------------------------------------------------------------------------------
// Time: EWS dateTimes carry an offset ('Z' or ±hh:mm); one without is local time in the item's StartTimeZone
// or the request's TimeZoneContext (Windows zone ids), read as Exchange reads it (test/fakes/zones.ts).
function toUtcMs(raw: string, windowsZone: string | null): number {
  const v = raw.trim();
  if (!/^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d+)?)?)?(Z|[+-]\d{2}:\d{2})?$/.test(v)) return NaN;
  if (/(Z|[+-]\d{2}:\d{2})$/.test(v)) return Date.parse(v);
  const local = v.includes('T') ? v : `${v}T00:00:00`;
  const rules = windowsZone ? windowsZoneRules(windowsZone) : null;
  return rules ? wallClockInstant(local, rules) : Date.parse(`${local}Z`);
}

// ---------------------------------------------------------------------------------------------------------
// NTLM (MS-NLMP). Flags we use:
const NTLM = {
  UNICODE: 0x1,
  OEM: 0x2,
  REQUEST_TARGET: 0x4,
  NTLM: 0x200,
  ALWAYS_SIGN: 0x8000,
  TARGET_TYPE_DOMAIN: 0x10000,
  EXTENDED_SESSIONSECURITY: 0x80000,
  TARGET_INFO: 0x800000,
  VERSION: 0x2000000,
  N128: 0x20000000,
  N56: 0x80000000,
};
const SIGNATURE = Buffer.from('NTLMSSP\0', 'latin1');
const ntHash = (password: string) => Buffer.from(md4.arrayBuffer(Buffer.from(password, 'utf16le')));
const hmacMd5 = (key: Buffer, ...data: Buffer[]) => createHmac('md5', key).update(Buffer.concat(data)).digest();
/** DESL(): the 16-byte key padded to 21, three 7-byte DES keys (parity bits spread in), each encrypting `data`. */
function desl(key16: Buffer, data8: Buffer) {
  const k = Buffer.concat([key16, Buffer.alloc(5)]);
  const expand = (s: Buffer) => Buffer.from([s[0]!, (s[0]! << 7) | (s[1]! >> 1), (s[1]! << 6) | (s[2]! >> 2), (s[2]! << 5) | (s[3]! >> 3), (s[3]! << 4) | (s[4]! >> 4), (s[4]! << 3) | (s[5]! >> 5), (s[5]! << 2) | (s[6]! >> 6), s[6]! << 1].map((b) => b & 0xff));
  return Buffer.concat([0, 7, 14].map((o) => Buffer.from(DES.create({ type: 'encrypt', key: expand(k.subarray(o, o + 7)), padding: false }).update(data8))));
}
const same = (a: Buffer, b: Buffer) => a.length === b.length && timingSafeEqual(a, b);

interface NtlmConn {
  challenge?: Buffer;
  flags?: number;
  principal?: Principal;
}
interface Principal {
  name: string; // 'DOMAIN\user' or 'app#n'
  account: EwsAccount | null; // null = an OAuth app (Bearer)
  scheme: AuthScheme;
}

// ---------------------------------------------------------------------------------------------------------
interface Appt extends StoredAppointment {
  /** Extended property definitions by key, to know whether a value is multi-valued. */
  multi: Set<string>;
}
interface Shape {
  base: string;
  fields: Set<string>;
  ext: XEl[]; // requested ExtendedFieldURI elements, echoed back as requested
}
/** Thrown inside operation handlers to answer with a SOAP fault instead of response messages. */
class Fault {
  constructor(
    readonly code: string,
    readonly text: string,
    readonly detail = '',
  ) {}
}

export async function startEwsEmulator(opts: {
  accounts: EwsAccount[];
  mailboxes: string[]; // existing mailbox SMTP addresses (lower-case compare)
  /** Which HTTP auth schemes the virtual directory accepts. Default ['ntlm', 'basic']. */
  auth?: Array<'ntlm' | 'basic' | 'bearer'>;
  /** Bearer tokens accepted (Exchange Online OAuth); each maps to an app allowed to impersonate '*'. */
  bearerTokens?: string[];
  /** ServerVersionInfo to announce; default { major: 15, minor: 1, build: 2507, revision: 6, version: 'V2017_07_11' }. */
  serverVersion?: { major: number; minor: number; build: number; revision: number; version: string };
}) {
  const tls = testTls();
  const schemes = opts.auth ?? ['ntlm', 'basic'];
  const sv = opts.serverVersion ?? { major: 15, minor: 1, build: 2507, revision: 6, version: 'V2017_07_11' };
  const accounts = opts.accounts.map((a) => ({ ...a }));
  const mailboxes = new Set(opts.mailboxes.map((m) => m.toLowerCase()));
  const items = new Map<string, Appt>(); // all mailboxes; Map keeps insertion order
  const faults: EwsFault[] = [];
  const requests: RequestLog[] = [];
  const inFlight = new Map<string, number>();
  const peak = new Map<string, number>();
  const ntlmConns = new WeakMap<Socket, NtlmConn>();
  const ntlmDomain = (accounts[0]?.domain ?? 'CONTOSO').toUpperCase();
  let latencyMs = 0;
  let ntlmHandshakes = 0;
  let invitationsSent = 0;

  const inList = (list: string[] | '*' | undefined, mailbox: string) => list === '*' || (list ?? []).some((m) => m.toLowerCase() === mailbox);
  const findAccount = (user: string, domain: string) => {
    const u = user.toLowerCase();
    const d = domain.toLowerCase();
    return accounts.find((a) => a.user.toLowerCase() === u && (!d || a.domain.toLowerCase() === d || a.email?.toLowerCase().endsWith(`@${d}`)));
  };
  const principalOf = (a: EwsAccount, scheme: AuthScheme): Principal => ({ name: `${a.domain.toUpperCase()}\\${a.user}`, account: a, scheme });

  // ----- HTTP plumbing --------------------------------------------------------------------------------
  function finish(res: ServerResponse, log: RequestLog, status: number, body: string, headers: Record<string, string | string[]> = {}, contentType = 'text/xml; charset=utf-8') {
    let buf = Buffer.from(body, 'utf8');
    const h: Record<string, string | string[] | number> = { 'content-type': contentType, 'request-id': randomUUID(), 'x-aspnet-version': '4.0.30319', ...headers };
    // @ewsjs/xhr (axios) asks for 'gzip,deflate' and inflates transparently.
    if (status !== 401 && /\bgzip\b/i.test(String(res.req.headers['accept-encoding'] ?? ''))) {
      buf = gzipSync(buf);
      h['content-encoding'] = 'gzip';
    }
    h['content-length'] = buf.length;
    res.writeHead(status, h);
    res.end(buf);
    requests.push({ ...log, httpStatus: status, at: Date.now() });
  }
  const envelope = (body: string) =>
    `<?xml version="1.0" encoding="utf-8"?><s:Envelope xmlns:s="${SOAP_NS}"><s:Header><h:ServerVersionInfo MajorVersion="${sv.major}" MinorVersion="${sv.minor}" MajorBuildNumber="${sv.build}" MinorBuildNumber="${sv.revision}" Version="${sv.version}" xmlns:h="${T_NS}" xmlns="${T_NS}" ${XSI_XSD}/></s:Header><s:Body ${XSI_XSD}>${body}</s:Body></s:Envelope>`;
  const backOffXml = (prefix: 't' | 'm', ms: number) => `<${prefix}:MessageXml${prefix === 't' ? ` xmlns:t="${T_NS}"` : ''}><t:Value Name="BackOffMilliseconds">${ms}</t:Value></${prefix}:MessageXml>`;
  function sendFault(res: ServerResponse, log: RequestLog, f: Fault) {
    log.responseCode = f.code;
    const e = `xmlns:e="${E_NS}"`;
    finish(res, log, 500, envelope(`<s:Fault><faultcode xmlns:a="${T_NS}">a:${f.code}</faultcode><faultstring xml:lang="en-US">${esc(f.text)}</faultstring><detail><e:ResponseCode ${e}>${f.code}</e:ResponseCode><e:Message ${e}>${esc(f.text)}</e:Message>${f.detail}</detail></s:Fault>`));
  }
  function unauthorized(res: ServerResponse, log: RequestLog, challenge?: string): null {
    const offered = challenge ? [challenge] : schemes.map((s) => (s === 'ntlm' ? 'NTLM' : s === 'basic' ? 'Basic realm="localhost"' : 'Bearer'));
    // IIS answers 401 with an HTML page; keep the connection open so an NTLM handshake can continue on it.
    finish(res, log, 401, '<!DOCTYPE html><html><head><title>401 - Unauthorized</title></head><body><h2>401 - Unauthorized: Access is denied due to invalid credentials.</h2></body></html>', { 'www-authenticate': offered }, 'text/html');
    return null;
  }

  // ----- Authentication -------------------------------------------------------------------------------
  function ntlmType2(type1: Buffer, conn: NtlmConn) {
    const client = type1.length >= 16 ? type1.readUInt32LE(12) : 0;
    const unicode = (client & NTLM.UNICODE) !== 0;
    const flags = ((unicode ? NTLM.UNICODE : NTLM.OEM) | NTLM.REQUEST_TARGET | NTLM.NTLM | NTLM.ALWAYS_SIGN | NTLM.TARGET_TYPE_DOMAIN | NTLM.TARGET_INFO | NTLM.VERSION | (client & (NTLM.EXTENDED_SESSIONSECURITY | NTLM.N128 | NTLM.N56))) >>> 0;
    const challenge = randomBytes(8);
    const targetName = Buffer.from(ntlmDomain, unicode ? 'utf16le' : 'latin1');
    const dns = `${ntlmDomain.toLowerCase()}.local`;
    const av = (id: number, value: Buffer) => Buffer.concat([Buffer.from([id & 0xff, id >> 8, value.length & 0xff, value.length >> 8]), value]);
    const filetime = Buffer.alloc(8);
    filetime.writeBigUInt64LE((BigInt(Date.now()) + 11644473600000n) * 10000n);
    const targetInfo = Buffer.concat([av(2, Buffer.from(ntlmDomain, 'utf16le')), av(1, Buffer.from('EXCH01', 'utf16le')), av(4, Buffer.from(dns, 'utf16le')), av(3, Buffer.from(`exch01.${dns}`, 'utf16le')), av(7, filetime), av(0, Buffer.alloc(0))]);
    const head = Buffer.alloc(56);
    SIGNATURE.copy(head, 0);
    head.writeUInt32LE(2, 8);
    head.writeUInt16LE(targetName.length, 12);
    head.writeUInt16LE(targetName.length, 14);
    head.writeUInt32LE(56, 16);
    head.writeUInt32LE(flags, 20);
    challenge.copy(head, 24);
    head.writeUInt16LE(targetInfo.length, 40);
    head.writeUInt16LE(targetInfo.length, 42);
    head.writeUInt32LE(56 + targetName.length, 44);
    Buffer.from([10, 0, 0x63, 0x45, 0, 0, 0, 15]).copy(head, 48); // version 10.0.17763, NTLM revision 15
    conn.challenge = challenge;
    conn.flags = flags;
    return Buffer.concat([head, targetName, targetInfo]).toString('base64');
  }
  /** Verifies an NTLM AUTHENTICATE message against the challenge issued on this connection. */
  function ntlmVerify(msg: Buffer, conn: NtlmConn): EwsAccount | null {
    const challenge = conn.challenge!;
    const field = (off: number) => {
      const len = msg.readUInt16LE(off);
      const at = msg.readUInt32LE(off + 4);
      return len && at + len <= msg.length ? msg.subarray(at, at + len) : Buffer.alloc(0);
    };
    if (msg.length < 52) return null;
    const lm = field(12);
    const nt = field(20);
    // NegotiateFlags sit at offset 60 only when the payload starts at 64 or later (NTLMv1 clients omit them).
    const payloadStart = Math.min(...[12, 20, 28, 36, 44].map((o) => (msg.readUInt16LE(o) ? msg.readUInt32LE(o + 4) : Infinity)));
    const flags = msg.length >= 64 && payloadStart >= 64 ? msg.readUInt32LE(60) : conn.flags!;
    const enc = flags & NTLM.UNICODE ? 'utf16le' : 'latin1';
    const domain = field(28).toString(enc);
    const user = field(36).toString(enc);
    const account = findAccount(user, domain);
    if (!account) return null;
    const nth = ntHash(account.password);
    if (nt.length > 24) {
      // NTLMv2: NTProofStr = HMAC_MD5(NTOWFv2, serverChallenge + blob); LMv2 accepted as the fallback the spec allows.
      const ntowf2 = hmacMd5(nth, Buffer.from(user.toUpperCase() + domain, 'utf16le'));
      if (same(hmacMd5(ntowf2, challenge, nt.subarray(16)), nt.subarray(0, 16))) return account;
      return lm.length === 24 && same(hmacMd5(ntowf2, challenge, lm.subarray(16)), lm.subarray(0, 16)) ? account : null;
    }
    if (nt.length !== 24) return null;
    // NTLM2 session response (extended session security: LM field = client nonce + zeros) or plain NTLMv1.
    const ess = (flags & NTLM.EXTENDED_SESSIONSECURITY) !== 0 && lm.length === 24 && lm.subarray(8).every((b) => b === 0);
    const data = ess ? createHash('md5').update(Buffer.concat([challenge, lm.subarray(0, 8)])).digest().subarray(0, 8) : challenge;
    return same(desl(nth, data), nt) ? account : null;
  }
  /** Returns the authenticated principal, or null after having answered 401 itself. */
  function authenticate(req: IncomingMessage, res: ServerResponse, log: RequestLog): Principal | null {
    const header = req.headers.authorization ?? '';
    const space = header.indexOf(' ');
    const scheme = (space < 0 ? header : header.slice(0, space)).toLowerCase();
    const cred = space < 0 ? '' : header.slice(space + 1).trim();
    const socket = req.socket;
    if (!header) {
      // NTLM authenticates the connection: later requests on it need no header (IIS default).
      const p = ntlmConns.get(socket)?.principal;
      if (p) Object.assign(log, { user: p.name, auth: 'ntlm' });
      return p ?? unauthorized(res, log);
    }
    if ((scheme === 'ntlm' || scheme === 'negotiate') && schemes.includes('ntlm')) {
      log.auth = 'ntlm';
      const msg = Buffer.from(cred, 'base64');
      if (msg.length < 12 || !msg.subarray(0, 8).equals(SIGNATURE)) return unauthorized(res, log);
      const conn = ntlmConns.get(socket) ?? {};
      ntlmConns.set(socket, conn);
      const type = msg.readUInt32LE(8);
      if (type === 1) {
        conn.principal = undefined;
        return unauthorized(res, log, `NTLM ${ntlmType2(msg, conn)}`);
      }
      if (type !== 3 || !conn.challenge) return unauthorized(res, log); // no challenge issued on this connection
      const account = ntlmVerify(msg, conn);
      conn.challenge = undefined; // one AUTHENTICATE per challenge
      if (!account) return unauthorized(res, log);
      ntlmHandshakes++;
      conn.principal = principalOf(account, 'ntlm');
      log.user = conn.principal.name;
      return conn.principal;
    }
    if (scheme === 'basic' && schemes.includes('basic')) {
      log.auth = 'basic';
      const decoded = Buffer.from(cred, 'base64').toString('utf8');
      const colon = decoded.indexOf(':');
      const login = colon < 0 ? decoded : decoded.slice(0, colon);
      const password = colon < 0 ? '' : decoded.slice(colon + 1);
      // DOMAIN\user, user@domain (UPN) or a bare user name.
      const [user, domain] = login.includes('\\') ? [login.split('\\')[1]!, login.split('\\')[0]!] : login.includes('@') ? [login.split('@')[0]!, login.split('@')[1]!.split('.')[0]!] : [login, ''];
      const account = findAccount(user, domain) ?? (login.includes('@') ? findAccount(user, login.split('@')[1]!) : undefined);
      if (account) log.user = principalOf(account, 'basic').name;
      if (!account || account.password !== password) return unauthorized(res, log);
      return principalOf(account, 'basic');
    }
    if (scheme === 'bearer' && schemes.includes('bearer')) {
      log.auth = 'bearer';
      const n = (opts.bearerTokens ?? []).indexOf(cred);
      if (n < 0) return unauthorized(res, log);
      log.user = `app#${n}`;
      return { name: `app#${n}`, account: null, scheme: 'bearer' };
    }
    return unauthorized(res, log);
  }

  // ----- SOAP ------------------------------------------------------------------------------------------
  interface Ctx {
    principal: Principal;
    actAs: string | null; // mailbox the request acts as (impersonated or own)
    impersonating: boolean;
    tzContext: string | null;
  }
  /** Mailbox access for the acting identity: null = allowed, else the response code. */
  function access(ctx: Ctx, mailbox: string): string | null {
    if (!mailboxes.has(mailbox)) return 'ErrorNonExistentMailbox';
    if (mailbox === ctx.actAs || !ctx.principal.account) return null; // own mailbox; OAuth apps (full_access_as_app) reach all
    if (ctx.impersonating) return 'ErrorAccessDenied'; // the impersonated user's own delegates are not modelled
    return inList(ctx.principal.account.fullAccess, mailbox) ? null : 'ErrorAccessDenied';
  }
  /** The mailbox a DistinguishedFolderId (or its absence) designates. Only calendar folders hold items here. */
  function folderMailbox(ctx: Ctx, folder: XEl | undefined): { mailbox: string | null; error: string | null; calendar: boolean } {
    if (folder && folder.name !== 'DistinguishedFolderId') return { mailbox: null, error: 'ErrorFolderNotFound', calendar: false };
    const explicit = kid(kid(folder, 'Mailbox'), 'EmailAddress')?.text.trim().toLowerCase();
    const mailbox = explicit || ctx.actAs;
    if (!mailbox) return { mailbox: null, error: 'ErrorMissingEmailAddress', calendar: false };
    return { mailbox, error: access(ctx, mailbox), calendar: !folder || folder.attrs.Id === 'calendar' };
  }
  const okMsg = (tag: string, inner = '') => `<m:${tag} ResponseClass="Success"><m:ResponseCode>NoError</m:ResponseCode>${inner}</m:${tag}>`;
  const errMsg = (tag: string, code: string, opt: { backOffMs?: number; text?: string } = {}) =>
    `<m:${tag} ResponseClass="Error"><m:MessageText>${esc(opt.text ?? TEXT[code] ?? code)}</m:MessageText><m:ResponseCode>${code}</m:ResponseCode><m:DescriptiveLinkKey>0</m:DescriptiveLinkKey>${opt.backOffMs !== undefined ? backOffXml('m', opt.backOffMs) : ''}${tag === 'CreateItemResponseMessage' || tag === 'UpdateItemResponseMessage' || tag === 'GetItemResponseMessage' ? '<m:Items/>' : ''}</m:${tag}>`;
  const itemIdXml = (a: Appt) => `<t:ItemId Id="${a.id}" ChangeKey="${esc(a.changeKey)}"/>`;
  const itemIds = (op: XEl) => (kid(op, 'ItemIds')?.kids ?? []).map((e) => ({ el: e, id: e.name === 'ItemId' ? (e.attrs.Id ?? '') : '', changeKey: e.attrs.ChangeKey }));
  /** Looks an item id up: the item, or the response code to answer. */
  function lookup(ctx: Ctx, id: string): Appt | string {
    if (!ID_SHAPE.test(id)) return 'ErrorInvalidIdMalformed';
    const a = items.get(id);
    if (!a) return 'ErrorItemNotFound';
    return access(ctx, a.mailbox) ?? a;
  }
  const extKey = (uri: XEl) => {
    const { PropertySetId, DistinguishedPropertySetId, PropertyName, PropertyId, PropertyTag } = uri.attrs;
    if (PropertyTag) return `tag/${PropertyTag.toLowerCase()}`;
    return `${(PropertySetId ?? DistinguishedPropertySetId ?? '').toLowerCase()}/${PropertyName ?? PropertyId ?? ''}`;
  };

  interface Patch {
    fields: Partial<StoredAppointment>;
    startRaw?: string;
    endRaw?: string;
    startTz?: string;
    endTz?: string;
    ext: Array<{ key: string; value: string; multi: boolean }>;
    attendees: number;
  }
  /** Reads the properties set by a t:CalendarItem element (CreateItem or SetItemField). */
  function readItem(ci: XEl): Patch {
    const p: Patch = { fields: {}, ext: [], attendees: 0 };
    for (const k of ci.kids) {
      switch (k.name) {
        case 'Subject': p.fields.subject = k.text; break;
        case 'Body': p.fields.body = k.text; p.fields.bodyType = k.attrs.BodyType === 'HTML' ? 'HTML' : 'Text'; break;
        case 'Categories': p.fields.categories = kidsOf(k, 'String').map((s) => s.text); break;
        case 'ReminderIsSet': p.fields.reminderIsSet = bool(k.text); break;
        case 'ReminderMinutesBeforeStart': p.fields.reminderMinutesBeforeStart = Number(k.text); break;
        case 'Sensitivity': p.fields.sensitivity = k.text.trim(); break;
        case 'LegacyFreeBusyStatus': p.fields.legacyFreeBusyStatus = k.text.trim(); break;
        case 'IsAllDayEvent': p.fields.isAllDay = bool(k.text); break;
        case 'Start': p.startRaw = k.text; break;
        case 'End': p.endRaw = k.text; break;
        case 'StartTimeZone': p.startTz = k.attrs.Id; break;
        case 'EndTimeZone': p.endTz = k.attrs.Id; break;
        case 'MeetingTimeZone': p.startTz ??= k.attrs.TimeZoneName; break;
        case 'StartTimeZoneId': p.startTz = k.text.trim(); break;
        case 'EndTimeZoneId': p.endTz = k.text.trim(); break;
        case 'RequiredAttendees': case 'OptionalAttendees': case 'Resources': p.attendees += kidsOf(k, 'Attendee').length; break;
        case 'ExtendedProperty': {
          const uri = kid(k, 'ExtendedFieldURI');
          if (!uri) throw new Fault('ErrorSchemaValidation', 'The request failed schema validation: ExtendedProperty requires an ExtendedFieldURI.');
          const values = kid(k, 'Values');
          p.ext.push({ key: extKey(uri), value: values ? JSON.stringify(kidsOf(values, 'Value').map((v) => v.text)) : (kid(k, 'Value')?.text ?? ''), multi: !!values });
          break;
        }
        default: break; // other properties are accepted and not stored
      }
    }
    return p;
  }
  /** Applies a patch; returns a response code when the result is invalid (the item is then left untouched). */
  function applyPatch(a: Appt, p: Patch, ctx: Ctx): string | null {
    const next = { ...a, ...p.fields, extended: { ...a.extended }, multi: new Set(a.multi) };
    // Exchange knows the Windows zone ids of its own Windows: any other is refused.
    if ([p.startTz, p.endTz].some((id) => id !== undefined && !windowsZoneRules(id))) return 'ErrorTimeZone';
    const tz = p.startTz ?? a.timeZone ?? ctx.tzContext;
    next.timeZone = p.startTz ?? a.timeZone ?? ctx.tzContext;
    for (const [raw, key, zone] of [[p.startRaw, 'start', tz], [p.endRaw, 'end', p.endTz ?? tz]] as const) {
      if (raw === undefined) continue;
      const t = toUtcMs(raw, zone);
      if (Number.isNaN(t)) throw new Fault('ErrorSchemaValidation', `The request failed schema validation: The '${key === 'start' ? 'Start' : 'End'}' element is invalid - The value '${raw}' is invalid according to its datatype 'http://www.w3.org/2001/XMLSchema:dateTime'.`);
      next[key] = new Date(t).toISOString();
    }
    if (Date.parse(next.end) < Date.parse(next.start)) return 'ErrorCalendarEndDateIsEarlierThanStartDate';
    for (const e of p.ext) {
      next.extended[e.key] = e.value;
      if (e.multi) next.multi.add(e.key);
      else next.multi.delete(e.key);
    }
    Object.assign(a, next);
    return null;
  }
  function clearField(a: Appt, uri: XEl) {
    if (uri.name === 'ExtendedFieldURI') {
      delete a.extended[extKey(uri)];
      return;
    }
    const defaults: Record<string, Partial<StoredAppointment>> = {
      'item:Subject': { subject: '' },
      'item:Body': { body: '', bodyType: 'Text' },
      'item:Categories': { categories: [] },
      'item:ReminderMinutesBeforeStart': { reminderMinutesBeforeStart: null },
      'item:Sensitivity': { sensitivity: 'Normal' },
      'calendar:LegacyFreeBusyStatus': { legacyFreeBusyStatus: 'Busy' },
      'calendar:IsAllDayEvent': { isAllDay: false },
    };
    Object.assign(a, defaults[uri.attrs.FieldURI ?? ''] ?? {});
  }

  function readShape(op: XEl): Shape {
    const s = kid(op, 'ItemShape');
    const add = kid(s, 'AdditionalProperties');
    return { base: kid(s, 'BaseShape')?.text.trim() ?? 'Default', fields: new Set(kidsOf(add, 'FieldURI').map((f) => f.attrs.FieldURI ?? '')), ext: kidsOf(add, 'ExtendedFieldURI') };
  }
  /** Renders a calendar item for GetItem/FindItem in schema order. Default and AllProperties return the same
   *  first-class set here; extended properties only when requested; Body never in FindItem. */
  function renderItem(a: Appt, shape: Shape, find: boolean) {
    const all = shape.base !== 'IdOnly';
    const props: Array<[string, () => string]> = [
      ['item:ItemClass', () => '<t:ItemClass>IPM.Appointment</t:ItemClass>'],
      ['item:Subject', () => `<t:Subject>${esc(a.subject)}</t:Subject>`],
      ['item:Sensitivity', () => `<t:Sensitivity>${a.sensitivity}</t:Sensitivity>`],
      ['item:Body', () => (find ? '' : `<t:Body BodyType="${a.bodyType}">${esc(a.body)}</t:Body>`)],
      ['item:Categories', () => (a.categories.length ? `<t:Categories>${a.categories.map((c) => `<t:String>${esc(c)}</t:String>`).join('')}</t:Categories>` : '')],
      ['item:Importance', () => '<t:Importance>Normal</t:Importance>'],
      ['item:ReminderIsSet', () => `<t:ReminderIsSet>${a.reminderIsSet}</t:ReminderIsSet>`],
      ['item:ReminderMinutesBeforeStart', () => `<t:ReminderMinutesBeforeStart>${a.reminderMinutesBeforeStart ?? 15}</t:ReminderMinutesBeforeStart>`],
      ['item:HasAttachments', () => '<t:HasAttachments>false</t:HasAttachments>'],
      ['extended', () => shape.ext.map((uri) => {
        const v = a.extended[extKey(uri)];
        if (v === undefined) return '';
        const attrs = Object.entries(uri.attrs).map(([k, val]) => ` ${k}="${esc(val)}"`).join('');
        const value = a.multi.has(extKey(uri)) ? `<t:Values>${(JSON.parse(v) as string[]).map((x) => `<t:Value>${esc(x)}</t:Value>`).join('')}</t:Values>` : `<t:Value>${esc(v)}</t:Value>`;
        return `<t:ExtendedProperty><t:ExtendedFieldURI${attrs}/>${value}</t:ExtendedProperty>`;
      }).join('')],
      ['calendar:Start', () => `<t:Start>${exSecs(a.start)}</t:Start>`],
      ['calendar:End', () => `<t:End>${exSecs(a.end)}</t:End>`],
      ['calendar:IsAllDayEvent', () => `<t:IsAllDayEvent>${a.isAllDay}</t:IsAllDayEvent>`],
      ['calendar:LegacyFreeBusyStatus', () => `<t:LegacyFreeBusyStatus>${a.legacyFreeBusyStatus}</t:LegacyFreeBusyStatus>`],
      ['calendar:IsMeeting', () => '<t:IsMeeting>false</t:IsMeeting>'],
      ['calendar:IsRecurring', () => '<t:IsRecurring>false</t:IsRecurring>'],
      ['calendar:CalendarItemType', () => '<t:CalendarItemType>Single</t:CalendarItemType>'],
      ['calendar:MyResponseType', () => '<t:MyResponseType>Organizer</t:MyResponseType>'],
      ['calendar:Organizer', () => `<t:Organizer><t:Mailbox><t:EmailAddress>${esc(a.mailbox)}</t:EmailAddress><t:RoutingType>SMTP</t:RoutingType></t:Mailbox></t:Organizer>`],
      ['calendar:StartTimeZoneId', () => (a.timeZone ? `<t:StartTimeZoneId>${esc(a.timeZone)}</t:StartTimeZoneId>` : '')],
    ];
    const body = props.map(([uri, render]) => (uri === 'extended' || all || shape.fields.has(uri) ? render() : '')).join('');
    return `<t:CalendarItem>${itemIdXml(a)}${body}</t:CalendarItem>`;
  }

  /** Evaluates a FindItem Restriction (the common search expressions) against an item. */
  function matches(r: XEl, a: Appt): boolean {
    const value = (f: XEl | undefined): string | undefined => {
      if (!f) return undefined;
      if (f.name === 'ExtendedFieldURI') return a.extended[extKey(f)];
      const map: Record<string, string | undefined> = { 'item:Subject': a.subject, 'calendar:Start': a.start, 'calendar:End': a.end, 'item:Categories': a.categories.join(';'), 'item:Sensitivity': a.sensitivity, 'calendar:LegacyFreeBusyStatus': a.legacyFreeBusyStatus };
      return map[f.attrs.FieldURI ?? ''];
    };
    const field = r.kids.find((k) => k.name === 'FieldURI' || k.name === 'ExtendedFieldURI');
    const constant = kid(kid(r, 'FieldURIOrConstant'), 'Constant')?.attrs.Value ?? kid(r, 'Constant')?.attrs.Value;
    const cmp = () => {
      const left = value(field);
      if (left === undefined || constant === undefined) return undefined;
      const isDate = /^calendar:(Start|End)$/.test(field?.attrs.FieldURI ?? '');
      return isDate ? Math.sign(Date.parse(left) - toUtcMs(constant, null)) : left.toLowerCase().localeCompare(constant.toLowerCase());
    };
    switch (r.name) {
      case 'Restriction': return matches(r.kids[0]!, a);
      case 'And': return r.kids.every((k) => matches(k, a));
      case 'Or': return r.kids.some((k) => matches(k, a));
      case 'Not': return !matches(r.kids[0]!, a);
      case 'Exists': return value(field) !== undefined;
      case 'IsEqualTo': return cmp() === 0;
      case 'IsNotEqualTo': { const c = cmp(); return c !== undefined && c !== 0; }
      case 'IsGreaterThan': return cmp() === 1;
      case 'IsGreaterThanOrEqualTo': return (cmp() ?? -1) >= 0;
      case 'IsLessThan': return cmp() === -1;
      case 'IsLessThanOrEqualTo': { const c = cmp(); return c !== undefined && c <= 0; }
      case 'Contains': {
        const left = value(field);
        const ignoreCase = (r.attrs.ContainmentComparison ?? 'Exact') !== 'Exact';
        const [l, c] = ignoreCase ? [left?.toLowerCase(), constant?.toLowerCase()] : [left, constant];
        if (l === undefined || c === undefined) return false;
        const mode = r.attrs.ContainmentMode ?? 'FullString';
        return mode === 'FullString' ? l === c : mode === 'Prefixed' ? l.startsWith(c) : l.includes(c);
      }
      default: throw new Fault('ErrorUnsupportedQueryFilter', `The restriction element '${r.name}' is not supported.`);
    }
  }

  /** Counts what "would have been sent": attendees (each), or else a send mode other than SendToNone. */
  const countInvitations = (mode: string | undefined, attendees: number) => {
    invitationsSent += attendees > 0 ? attendees : mode && mode !== 'SendToNone' ? 1 : 0;
  };

  const operations: Record<string, (op: XEl, ctx: Ctx) => string[]> = {
    CreateItem(op, ctx) {
      const tag = 'CreateItemResponseMessage';
      const mode = op.attrs.SendMeetingInvitations;
      const target = folderMailbox(ctx, kid(kid(op, 'SavedItemFolderId'), 'DistinguishedFolderId') ?? kid(op, 'SavedItemFolderId')?.kids[0]);
      return (kid(op, 'Items')?.kids ?? []).map((ci) => {
        if (ci.name !== 'CalendarItem') return errMsg(tag, 'ErrorInvalidRequest', { text: 'This emulator stores calendar items only.' });
        if (!mode) return errMsg(tag, 'ErrorSendMeetingInvitationsRequired');
        if (target.error) return errMsg(tag, target.error);
        if (!target.calendar) return errMsg(tag, 'ErrorInvalidRequest', { text: 'This emulator models calendar folders only.' });
        const p = readItem(ci);
        const now = Math.ceil(Date.now() / 1_800_000) * 1_800_000; // Exchange defaults Start to the next half hour
        const a: Appt = {
          id: newId(), changeKey: newChangeKey(), mailbox: target.mailbox!, subject: '', body: '', bodyType: 'Text',
          start: new Date(now).toISOString(), end: new Date(now + 1_800_000).toISOString(), isAllDay: false, legacyFreeBusyStatus: 'Busy',
          reminderIsSet: true, reminderMinutesBeforeStart: null, categories: [], sensitivity: 'Normal', extended: {}, timeZone: null, multi: new Set(),
        };
        const invalid = applyPatch(a, p, ctx);
        if (invalid) return errMsg(tag, invalid);
        countInvitations(mode, p.attendees);
        items.set(a.id, a);
        return okMsg(tag, `<m:Items><t:CalendarItem>${itemIdXml(a)}</t:CalendarItem></m:Items>`);
      });
    },
    UpdateItem(op, ctx) {
      const tag = 'UpdateItemResponseMessage';
      const mode = op.attrs.SendMeetingInvitationsOrCancellations;
      const conflict = op.attrs.ConflictResolution ?? 'AutoResolve';
      return kidsOf(kid(op, 'ItemChanges'), 'ItemChange').map((change) => {
        const idEl = change.kids.find((k) => k.name.endsWith('ItemId'));
        if (!mode) return errMsg(tag, 'ErrorSendMeetingInvitationsOrCancellationsRequired');
        const found = idEl?.name === 'ItemId' ? lookup(ctx, idEl.attrs.Id ?? '') : 'ErrorItemNotFound';
        if (typeof found === 'string') return errMsg(tag, found);
        const ck = idEl!.attrs.ChangeKey;
        // Without a ChangeKey there is nothing to conflict with; AlwaysOverwrite ignores it.
        if (ck && ck !== found.changeKey && conflict !== 'AlwaysOverwrite') return errMsg(tag, 'ErrorIrresolvableConflict');
        const draft: Appt = { ...found, extended: { ...found.extended }, categories: [...found.categories], multi: new Set(found.multi) };
        let attendees = 0;
        for (const u of kid(change, 'Updates')?.kids ?? []) {
          const uri = u.kids.find((k) => k.name === 'FieldURI' || k.name === 'ExtendedFieldURI' || k.name === 'IndexedFieldURI');
          const item = u.kids.find((k) => k.name === 'CalendarItem' || k.name === 'Item');
          if (u.name === 'DeleteItemField' && uri) clearField(draft, uri);
          else if (u.name === 'SetItemField' && item) {
            const p = readItem(item);
            attendees += p.attendees;
            const invalid = applyPatch(draft, p, ctx);
            if (invalid) return errMsg(tag, invalid);
          } else if (u.name === 'AppendToItemField' && item) {
            const p = readItem(item);
            attendees += p.attendees;
            if (p.fields.body !== undefined) draft.body += p.fields.body;
            if (p.fields.categories) draft.categories.push(...p.fields.categories);
          }
        }
        countInvitations(mode, attendees);
        Object.assign(found, draft, { changeKey: newChangeKey() });
        return okMsg(tag, `<m:Items><t:CalendarItem>${itemIdXml(found)}</t:CalendarItem></m:Items><m:ConflictResults><t:Count>0</t:Count></m:ConflictResults>`);
      });
    },
    DeleteItem(op, ctx) {
      const tag = 'DeleteItemResponseMessage';
      const mode = op.attrs.SendMeetingCancellations;
      return itemIds(op).map(({ id }) => {
        if (!mode) return errMsg(tag, 'ErrorSendMeetingCancellationsRequired');
        const found = lookup(ctx, id);
        if (typeof found === 'string') return errMsg(tag, found);
        items.delete(found.id);
        countInvitations(mode, 0);
        return okMsg(tag);
      });
    },
    GetItem(op, ctx) {
      const tag = 'GetItemResponseMessage';
      const shape = readShape(op);
      return itemIds(op).map(({ id }) => {
        const found = lookup(ctx, id);
        return typeof found === 'string' ? errMsg(tag, found) : okMsg(tag, `<m:Items>${renderItem(found, shape, false)}</m:Items>`);
      });
    },
    FindItem(op, ctx) {
      const tag = 'FindItemResponseMessage';
      const shape = readShape(op);
      const cv = kid(op, 'CalendarView');
      const restriction = kid(op, 'Restriction');
      const target = folderMailbox(ctx, kid(op, 'ParentFolderIds')?.kids[0]);
      if (target.error) return [errMsg(tag, target.error)];
      if (cv && !target.calendar) return [errMsg(tag, 'ErrorCalendarFolderIsInvalidForCalendarView')];
      if (shape.fields.has('item:Body')) return [errMsg(tag, 'ErrorInvalidPropertyRequest')];
      const inBox = target.calendar ? [...items.values()].filter((a) => a.mailbox === target.mailbox) : [];
      let list: Appt[];
      let max: number;
      let offset = 0;
      if (cv) {
        if (restriction || kid(op, 'SortOrder')) return [errMsg(tag, 'ErrorInvalidRestriction')];
        const from = toUtcMs(cv.attrs.StartDate ?? '', ctx.tzContext);
        const to = toUtcMs(cv.attrs.EndDate ?? '', ctx.tzContext);
        if (Number.isNaN(from) || Number.isNaN(to)) throw new Fault('ErrorSchemaValidation', 'The request failed schema validation: CalendarView requires StartDate and EndDate.');
        if (to < from) return [errMsg(tag, 'ErrorInvalidRequest', { text: 'EndDate must be greater than or equal to StartDate.' })];
        const limit = new Date(from);
        limit.setUTCFullYear(limit.getUTCFullYear() + 2);
        if (to > limit.getTime()) return [errMsg(tag, 'ErrorCalendarViewRangeTooBig')];
        // Overlap: ends after the view starts and starts before it ends (zero-length items at StartDate count).
        list = inBox.filter((a) => Date.parse(a.start) < to && (Date.parse(a.end) > from || Date.parse(a.start) === from)).sort((x, y) => Date.parse(x.start) - Date.parse(y.start));
        max = Number(cv.attrs.MaxEntriesReturned ?? FIND_COUNT_LIMIT);
      } else {
        list = restriction ? inBox.filter((a) => matches(restriction, a)) : inBox;
        const view = kid(op, 'IndexedPageItemView');
        offset = Number(view?.attrs.Offset ?? 0);
        max = Number(view?.attrs.MaxEntriesReturned ?? FIND_COUNT_LIMIT);
        if (view?.attrs.BasePoint === 'End') list = list.slice(0, Math.max(0, list.length - offset)).reverse();
        else list = list.slice(offset);
      }
      const page = list.slice(0, Math.min(max, FIND_COUNT_LIMIT));
      const last = page.length === list.length;
      // CalendarView reports the entries returned; a paged view reports the whole view and the next offset.
      const total = cv ? page.length : list.length + offset;
      const paging = cv ? '' : ` IndexedPagingOffset="${offset + page.length}"`;
      return [okMsg(tag, `<m:RootFolder${paging} TotalItemsInView="${total}" IncludesLastItemInRange="${last}"><t:Items>${page.map((a) => renderItem(a, shape, true)).join('')}</t:Items></m:RootFolder>`)];
    },
  };
  /** How many response messages a request gets (one per item). */
  const messageCount = (op: XEl) => (op.name === 'CreateItem' ? (kid(op, 'Items')?.kids.length ?? 1) : op.name === 'UpdateItem' ? kidsOf(kid(op, 'ItemChanges'), 'ItemChange').length : op.name === 'FindItem' ? 1 : (kid(op, 'ItemIds')?.kids.length ?? 1)) || 1;
  /** The mailbox a request mainly touches, for concurrency tracking and the log. */
  function primaryMailbox(op: XEl, ctx: Ctx): string | null {
    const folder = op.name === 'CreateItem' ? kid(op, 'SavedItemFolderId') : op.name === 'FindItem' ? kid(op, 'ParentFolderIds') : undefined;
    const explicit = kid(kid(folder?.kids[0], 'Mailbox'), 'EmailAddress')?.text.trim().toLowerCase();
    const firstId = op.name === 'UpdateItem' ? kid(kidsOf(kid(op, 'ItemChanges'), 'ItemChange')[0], 'ItemId')?.attrs.Id : kid(op, 'ItemIds')?.kids[0]?.attrs.Id;
    return explicit || ((firstId ? items.get(firstId)?.mailbox : undefined) ?? ctx.actAs);
  }

  async function handle(req: IncomingMessage, res: ServerResponse, raw: Buffer) {
    const log: RequestLog = { operation: null, httpStatus: 0, responseCode: null, mailbox: null, user: null, auth: null, at: 0 };
    if (new URL(req.url ?? '/', 'https://localhost').pathname.toLowerCase() !== '/ews/exchange.asmx') return finish(res, log, 404, '<html><body>404 - File or directory not found.</body></html>', {}, 'text/html');
    const principal = authenticate(req, res, log);
    if (!principal) return;
    // @ewsjs/xhr sends its NTLM NEGOTIATE as a GET; an authenticated GET is the service description page.
    if (req.method === 'GET') return finish(res, log, 200, '<html><body>You have created a service.</body></html>', {}, 'text/html');
    if (req.method !== 'POST') return finish(res, log, 405, '', { allow: 'GET, POST' }, 'text/html');

    let env: XEl;
    try {
      env = parseXml(raw.toString('utf8'));
    } catch (e) {
      if (!(e instanceof XmlError)) throw e;
      log.operation = /<(?:[\w.-]+:)?Body\b[^>]*>\s*<(?:[\w.-]+:)?([\w.-]+)/.exec(raw.toString('utf8'))?.[1] ?? null;
      const detail = `<t:MessageXml xmlns:t="${T_NS}"><t:LineNumber>${e.line}</t:LineNumber><t:LinePosition>${e.pos}</t:LinePosition><t:Violation>${esc(e.message)}</t:Violation></t:MessageXml>`;
      return sendFault(res, log, new Fault('ErrorSchemaValidation', `The request failed schema validation: ${e.message}`, detail));
    }
    const header = kid(env, 'Header');
    const op = kid(env, 'Body')?.kids[0];
    if (env.ns !== SOAP_NS || env.name !== 'Envelope' || !op) return sendFault(res, log, new Fault('ErrorSchemaValidation', 'The request failed schema validation: The SOAP envelope is missing or malformed.'));
    log.operation = op.name;
    if (op.ns !== M_NS || !operations[op.name]) return sendFault(res, log, new Fault('ErrorInvalidRequest', `The request is invalid: operation '${op.name}' is not supported by this emulator.`));

    // Whom the request acts as: the ExchangeImpersonation header (needs the role), else the caller's own mailbox.
    const sid = kid(kid(header, 'ExchangeImpersonation'), 'ConnectingSID');
    const impersonated = (kid(sid, 'SmtpAddress') ?? kid(sid, 'PrimarySmtpAddress') ?? kid(sid, 'PrincipalName'))?.text.trim().toLowerCase();
    const tzContext = kid(kid(header, 'TimeZoneContext'), 'TimeZoneDefinition')?.attrs.Id ?? null;
    if (tzContext && !windowsZoneRules(tzContext)) return sendFault(res, log, new Fault('ErrorTimeZone', TEXT.ErrorTimeZone!));
    const ctx: Ctx = { principal, actAs: null, impersonating: !!sid, tzContext };
    if (sid) {
      log.mailbox = impersonated ?? null;
      if (!impersonated || !mailboxes.has(impersonated)) return sendFault(res, log, new Fault('ErrorNonExistentMailbox', TEXT.ErrorNonExistentMailbox!));
      if (principal.account && !inList(principal.account.impersonate, impersonated)) return sendFault(res, log, new Fault('ErrorImpersonateUserDenied', TEXT.ErrorImpersonateUserDenied!));
      ctx.actAs = impersonated;
    } else if (!principal.account) {
      return sendFault(res, log, new Fault('ErrorInvalidExchangeImpersonationHeaderData', TEXT.ErrorInvalidExchangeImpersonationHeaderData!));
    } else {
      ctx.actAs = principal.account.email?.toLowerCase() ?? null;
    }
    const mailbox = primaryMailbox(op, ctx);
    log.mailbox = mailbox;
    const key = mailbox ?? '';
    inFlight.set(key, (inFlight.get(key) ?? 0) + 1);
    peak.set(key, Math.max(peak.get(key) ?? 0, inFlight.get(key)!));
    try {
      if (latencyMs) await new Promise((r) => setTimeout(r, latencyMs));
      const fault = faults.find((f) => f.times > 0 && (!f.operation || f.operation === op.name));
      let forced: string | null = null;
      if (fault) {
        fault.times--;
        const backOff = fault.backOffMs ?? 2000;
        switch (fault.kind) {
          case 'drop':
            requests.push({ ...log, httpStatus: 0, at: Date.now() });
            req.socket.destroy();
            return;
          case 'slow':
            await new Promise((r) => setTimeout(r, fault.delayMs ?? 0));
            break;
          case 'serverBusy500':
            return sendFault(res, log, new Fault('ErrorServerBusy', TEXT.ErrorServerBusy!, backOffXml('t', backOff)));
          case 'serverBusyItem': {
            log.responseCode = 'ErrorServerBusy';
            const msgs = Array.from({ length: messageCount(op) }, () => errMsg(`${op.name}ResponseMessage`, 'ErrorServerBusy', { backOffMs: backOff }));
            return finish(res, log, 200, envelope(`<m:${op.name}Response xmlns:m="${M_NS}" xmlns:t="${T_NS}"><m:ResponseMessages>${msgs.join('')}</m:ResponseMessages></m:${op.name}Response>`));
          }
          case 'itemNotFound':
            forced = 'ErrorItemNotFound';
            break;
          case 'staleChangeKey':
            forced = 'ErrorIrresolvableConflict';
            break;
        }
      }
      const msgs = forced ? Array.from({ length: messageCount(op) }, () => errMsg(`${op.name}ResponseMessage`, forced)) : operations[op.name]!(op, ctx);
      log.responseCode = /<m:ResponseCode>(\w+)</.exec(msgs[0] ?? '')?.[1] ?? null;
      finish(res, log, 200, envelope(`<m:${op.name}Response xmlns:m="${M_NS}" xmlns:t="${T_NS}"><m:ResponseMessages>${msgs.join('')}</m:ResponseMessages></m:${op.name}Response>`));
    } catch (e) {
      if (e instanceof Fault) return sendFault(res, log, e);
      throw e;
    } finally {
      inFlight.set(key, (inFlight.get(key) ?? 1) - 1);
    }
  }

  const onRequest = (req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (d: Buffer) => chunks.push(d));
    req.on('end', () => {
      void handle(req, res, Buffer.concat(chunks)).catch((err) => {
        if (!res.headersSent) sendFault(res, { operation: null, httpStatus: 0, responseCode: null, mailbox: null, user: null, auth: null, at: 0 }, new Fault('ErrorInternalServerError', `An internal server error occurred. ${String(err)}`));
      });
    });
  };
  // One server for the name the certificate covers, one on 127.0.0.2, which it does not.
  const servers = [https.createServer({ key: tls.key, cert: tls.cert }, onRequest), https.createServer({ key: tls.key, cert: tls.cert }, onRequest)];
  await new Promise<void>((resolve) => servers[0]!.listen(0, '127.0.0.1', resolve));
  await new Promise<void>((resolve) => servers[1]!.listen(0, '127.0.0.2', resolve));
  const port = (servers[0]!.address() as AddressInfo).port;
  const port2 = (servers[1]!.address() as AddressInfo).port;

  const box = (mailbox: string) => {
    const m = mailbox.toLowerCase();
    if (!mailboxes.has(m)) throw new Error(`no mailbox ${mailbox}`);
    return m;
  };
  const inBox = (mailbox: string, id: string) => {
    const a = items.get(id);
    if (!a || a.mailbox !== box(mailbox)) throw new Error(`no appointment ${id} in ${mailbox}`);
    return a;
  };

  return {
    url: `https://localhost:${port}/EWS/Exchange.asmx`,
    /** The same server reached by a name its certificate does not cover. */
    mismatchUrl: `https://127.0.0.2:${port2}/EWS/Exchange.asmx`,
    ca: tls.ca,
    appointments(mailbox: string): StoredAppointment[] {
      const m = box(mailbox);
      return [...items.values()].filter((a) => a.mailbox === m).map(({ multi: _multi, ...a }) => structuredClone(a));
    },
    /** Someone edits / deletes the appointment in Outlook (new ChangeKey / gone). */
    editAppointment(mailbox: string, id: string, patch: Partial<Pick<StoredAppointment, 'subject' | 'start' | 'end' | 'body'>>) {
      const a = inBox(mailbox, id);
      const norm = (t: string | undefined) => (t === undefined ? undefined : new Date(t).toISOString());
      Object.assign(a, { ...patch, ...(patch.start ? { start: norm(patch.start) } : {}), ...(patch.end ? { end: norm(patch.end) } : {}), changeKey: newChangeKey() });
    },
    deleteAppointment(mailbox: string, id: string) {
      items.delete(inBox(mailbox, id).id);
    },
    addFault: (f: EwsFault) => void faults.push(f),
    clearFaults: () => void (faults.length = 0),
    setLatency: (ms: number) => void (latencyMs = ms),
    setPassword(user: string, password: string) {
      const name = user.includes('\\') ? user.split('\\')[1]! : user;
      const a = accounts.find((x) => x.user.toLowerCase() === name.toLowerCase());
      if (!a) throw new Error(`no account ${user}`);
      a.password = password;
    },
    requests,
    /** NTLM handshakes completed (type 3 verified). */
    ntlmHandshakes: () => ntlmHandshakes,
    /** Meeting requests/cancellations that would have been sent (a send mode other than SendToNone, or attendees). Should stay 0. */
    invitationsSent: () => invitationsSent,
    peakConcurrency: (mailbox: string) => peak.get(mailbox.toLowerCase()) ?? 0,
    close: () =>
      Promise.all(
        servers.map(
          (s) =>
            new Promise<void>((resolve) => {
              s.close(() => resolve());
              s.closeAllConnections();
            }),
        ),
      ).then(() => undefined),
  };
}

export type EwsEmulator = Awaited<ReturnType<typeof startEwsEmulator>>;
