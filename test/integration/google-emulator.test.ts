// The Google Calendar emulator, driven by the real googleapis SDK over verified HTTPS: proves it answers the
// way the documented API does (token grants and their errors, ids, 409/410/412, list filters and paging,
// the per-user rate limit, faults), so provider tests against it mean something.
import { rootCertificates } from 'node:tls';
import { Gaxios, type GaxiosError } from 'gaxios';
import { google } from 'googleapis';
import { Agent, fetch } from 'undici';
import { afterEach, describe, expect, it } from 'vitest';
import { makeServiceAccount, startGoogleEmulator, type GoogleEmulator, type ServiceAccount } from '../fakes/google';

const CAL = 'https://www.googleapis.com/auth/calendar';
const ALICE = 'alice@example.test';
const BOB = 'bob@example.test';
const HELPDESK = 'helpdesk@group.calendar.google.com';

let emu: GoogleEmulator | undefined;
const agents: Agent[] = [];
afterEach(async () => {
  await emu?.close();
  emu = undefined;
  await Promise.all(agents.splice(0).map((a) => a.close()));
});

async function start(opts: { delegation?: (sa: ServiceAccount) => Record<string, string[]>; userRatePerMinute?: number } = {}) {
  const sa = makeServiceAccount();
  emu = await startGoogleEmulator({
    accounts: [sa],
    delegation: opts.delegation ? opts.delegation(sa) : { [sa.clientId]: [CAL] },
    users: [ALICE, BOB],
    calendars: { [ALICE]: [HELPDESK] },
    userRatePerMinute: opts.userRatePerMinute,
  });
  return { sa, emu };
}

/** A googleapis client whose token requests go to the emulator; TLS verified against the test CA. */
function client(e: GoogleEmulator, sa: { clientEmail: string; privateKey: string }, subject: string, extra: { scopes?: string[]; additionalClaims?: Record<string, unknown> } = {}) {
  const dispatcher = new Agent({ connect: { ca: [...rootCertificates, e.ca] } });
  agents.push(dispatcher);
  const fetchImplementation = (url: string | URL, init: Record<string, unknown>) => fetch(url, { ...init, dispatcher });
  const transporter = new Gaxios({ fetchImplementation: fetchImplementation as never });
  // google-auth-library hard-codes the token URL; only the request is redirected, the JWT `aud` stays Google's.
  transporter.interceptors.request.add({
    resolved: async (cfg) => {
      if (new URL(String(cfg.url)).hostname === 'oauth2.googleapis.com') cfg.url = new URL(e.tokenUrl);
      return cfg;
    },
  });
  const jwt = new google.auth.JWT({ email: sa.clientEmail, key: sa.privateKey, scopes: extra.scopes ?? [CAL], subject, transporter: transporter as never, additionalClaims: extra.additionalClaims });
  return { jwt, cal: google.calendar({ version: 'v3', auth: jwt, rootUrl: e.baseUrl }) };
}

async function failure(p: Promise<unknown>): Promise<GaxiosError> {
  try {
    await p;
  } catch (err) {
    return err as GaxiosError;
  }
  throw new Error('expected the request to fail');
}
const body = (err: GaxiosError) => err.response?.data as { error: { errors: Array<Record<string, string>>; code: number; message: string } };
const reason = (err: GaxiosError) => body(err)?.error?.errors?.[0]?.reason;

const timed = (id: string, start: string, end: string, extra: Record<string, unknown> = {}) => ({ id, summary: `Item ${id}`, start: { dateTime: start }, end: { dateTime: end }, ...extra });
const tagged = (marker: string, extra: Record<string, string> = {}) => ({ extendedProperties: { private: { calendarSyncMarker: marker, ...extra } } });

describe('Google emulator: token endpoint', () => {
  it('grants a delegated token for a Workspace user with the assertion the SDK signs', async () => {
    const { sa, emu } = await start();
    const { jwt, cal } = client(emu, sa, ALICE);
    const creds = await jwt.authorize();
    expect(creds.access_token).toMatch(/^ya29\.[\w-]{20,}$/);
    expect(creds.token_type).toBe('Bearer');
    expect(emu.requests.at(-1)).toMatchObject({ method: 'POST', path: '/token', status: 200, user: ALICE });
    const listed = await cal.events.list({ calendarId: 'primary' });
    expect(listed.status).toBe(200);
    expect(listed.data).toMatchObject({ kind: 'calendar#events', summary: ALICE, accessRole: 'owner', items: [] });
    // The calendar.events scope is covered by a delegation of the broad calendar scope.
    expect((await client(emu, sa, BOB, { scopes: [`${CAL}.events`] }).jwt.authorize()).access_token).toMatch(/^ya29\./);
    // The key file looks like the console's download.
    expect(JSON.parse(sa.keyFile)).toMatchObject({ type: 'service_account', client_email: sa.clientEmail, private_key_id: sa.privateKeyId, client_id: sa.clientId, token_uri: 'https://oauth2.googleapis.com/token' });
    expect(sa.clientId).toMatch(/^\d{21}$/);
    expect(sa.privateKeyId).toMatch(/^[0-9a-f]{40}$/);
  });

  it('refuses a client without domain-wide delegation until it is granted', async () => {
    const { sa, emu } = await start({ delegation: () => ({}) });
    const err = await failure(client(emu, sa, ALICE).jwt.authorize());
    expect(err.status).toBe(401);
    expect(err.response?.data).toEqual({ error: 'unauthorized_client', error_description: 'Client is unauthorized to retrieve access tokens using this method, or client not authorized for any of the scopes requested.' });
    // Delegating only a narrower scope is not enough for the broad one.
    emu.setDelegation(sa.clientId, [`${CAL}.readonly`]);
    expect((await failure(client(emu, sa, ALICE).jwt.authorize())).status).toBe(401);
    emu.setDelegation(sa.clientId, [CAL]);
    expect((await client(emu, sa, ALICE).jwt.authorize()).access_token).toMatch(/^ya29\./);
    emu.setDelegation(sa.clientId, null);
    expect((await failure(client(emu, sa, ALICE).jwt.authorize())).status).toBe(401);
  });

  it('answers invalid_grant for an unknown user, a revoked or wrong key, and a long-lived or misaddressed JWT', async () => {
    const { sa, emu } = await start();
    const unknown = await failure(client(emu, sa, 'nobody@example.test').jwt.authorize());
    expect(unknown.status).toBe(400);
    expect(unknown.response?.data).toEqual({ error: 'invalid_grant', error_description: 'Invalid email or User ID' });

    const longLived = await failure(client(emu, sa, ALICE, { additionalClaims: { exp: Math.floor(Date.now() / 1000) + 7200 } }).jwt.authorize());
    expect(longLived.status).toBe(400);
    expect(longLived.response?.data).toMatchObject({ error: 'invalid_grant', error_description: expect.stringMatching(/^Invalid JWT: Token must be a short-lived token/) });
    const wrongAud = await failure(client(emu, sa, ALICE, { additionalClaims: { aud: 'https://elsewhere.example/token' } }).jwt.authorize());
    expect(wrongAud.response?.data).toMatchObject({ error: 'invalid_grant', error_description: expect.stringMatching(/audience/) });

    const other = makeServiceAccount('other');
    const wrongKey = await failure(client(emu, { clientEmail: sa.clientEmail, privateKey: other.privateKey }, ALICE).jwt.authorize());
    expect(wrongKey.response?.data).toEqual({ error: 'invalid_grant', error_description: 'Invalid JWT Signature.' });

    expect((await client(emu, sa, ALICE).jwt.authorize()).access_token).toBeTruthy();
    emu.revokeKey(sa.privateKeyId);
    const revoked = await failure(client(emu, sa, ALICE).jwt.authorize());
    expect(revoked.status).toBe(400);
    expect(revoked.response?.data).toEqual({ error: 'invalid_grant', error_description: 'Invalid JWT Signature.' });
  });
});

describe('Google emulator: events', () => {
  it('rejects calls without a valid token and keeps each user to their own calendars', async () => {
    const { sa, emu } = await start();
    const { jwt, cal } = client(emu, sa, ALICE);
    jwt.setCredentials({ access_token: 'ya29.not-issued', expiry_date: Date.now() + 3_600_000 });
    const err = await failure(cal.events.list({ calendarId: 'primary' }));
    expect(err.status).toBe(401);
    expect(body(err)).toEqual({ error: { errors: [{ domain: 'global', reason: 'authError', message: 'Invalid Credentials', locationType: 'header', location: 'Authorization' }], code: 401, message: 'Invalid Credentials' } });

    const alice = client(emu, sa, ALICE).cal;
    expect((await alice.events.list({ calendarId: ALICE })).data.summary).toBe(ALICE);
    expect((await alice.events.list({ calendarId: HELPDESK })).data.summary).toBe(HELPDESK);
    const foreign = await failure(alice.events.list({ calendarId: BOB }));
    expect(foreign.status).toBe(404);
    expect(reason(foreign)).toBe('notFound');
    expect(reason(await failure(client(emu, sa, BOB).cal.events.list({ calendarId: HELPDESK })))).toBe('notFound');
  });

  it('inserts with a client id, keeps ids reserved after delete, and reports deletes as cancelled then 410', async () => {
    const { sa, emu } = await start();
    const { cal } = client(emu, sa, ALICE);
    const id = 'c5m6k0a1b2c3d4e5f6g7h8i9j0';
    const created = await cal.events.insert({ calendarId: 'primary', sendUpdates: 'none', requestBody: { ...timed(id, '2027-03-28T00:30:00Z', '2027-03-28T01:30:00Z'), transparency: 'transparent', ...tagged('m1') } });
    expect(created.status).toBe(200);
    expect(created.data).toMatchObject({ kind: 'calendar#event', id, status: 'confirmed', iCalUID: `${id}@google.com`, sequence: 0, eventType: 'default', transparency: 'transparent', reminders: { useDefault: true }, creator: { email: ALICE, self: true }, organizer: { email: ALICE, self: true }, extendedProperties: { private: { calendarSyncMarker: 'm1' } } });
    expect(created.data.etag).toMatch(/^"\d{16}"$/);
    expect(created.data.updated).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/);
    expect(emu.events(ALICE).map((e) => e.id)).toEqual([id]);
    expect(emu.events(ALICE, HELPDESK)).toEqual([]);

    const dup = await failure(cal.events.insert({ calendarId: 'primary', requestBody: timed(id, '2027-03-28T00:30:00Z', '2027-03-28T01:30:00Z') }));
    expect(dup.status).toBe(409);
    expect(body(dup).error.errors[0]).toEqual({ domain: 'global', reason: 'duplicate', message: 'The requested identifier already exists.' });
    // The same id in another calendar is fine.
    expect((await cal.events.insert({ calendarId: HELPDESK, requestBody: timed(id, '2027-03-28T00:30:00Z', '2027-03-28T01:30:00Z') })).status).toBe(200);

    for (const bad of ['ABCDE12345', 'abc_def_ghi', 'abcd', 'wxyz0123']) {
      const err = await failure(cal.events.insert({ calendarId: 'primary', requestBody: timed(bad, '2027-03-28T00:30:00Z', '2027-03-28T01:30:00Z') }));
      expect(err.status).toBe(400);
      expect(body(err).error.errors[0]).toMatchObject({ reason: 'invalid', message: 'Invalid resource id value.' });
    }

    const deleted = await cal.events.delete({ calendarId: 'primary', eventId: id, sendUpdates: 'none' });
    expect(deleted.status).toBe(204);
    expect(emu.events(ALICE)).toEqual([]);
    expect(emu.allEvents(ALICE)).toMatchObject([{ id, status: 'cancelled' }]);
    const again = await failure(cal.events.delete({ calendarId: 'primary', eventId: id }));
    expect(again.status).toBe(410);
    expect(reason(again)).toBe('deleted');
    const got = await cal.events.get({ calendarId: 'primary', eventId: id });
    expect(got.status).toBe(200);
    expect(got.data.status).toBe('cancelled');
    const reinsert = await failure(cal.events.insert({ calendarId: 'primary', requestBody: timed(id, '2027-03-28T00:30:00Z', '2027-03-28T01:30:00Z') }));
    expect(reinsert.status).toBe(409);
    expect(reason(reinsert)).toBe('duplicate');
    expect(reason(await failure(cal.events.patch({ calendarId: 'primary', eventId: id, requestBody: { summary: 'x' } })))).toBe('deleted');

    const missing = await failure(cal.events.get({ calendarId: 'primary', eventId: 'abcdefghij' }));
    expect(missing.status).toBe(404);
    expect(reason(missing)).toBe('notFound');

    // Without an id the emulator makes a base32hex one.
    const generated = await cal.events.insert({ calendarId: 'primary', requestBody: { summary: 'no id', start: { date: '2027-04-01' }, end: { date: '2027-04-02' } } });
    expect(generated.data.id).toMatch(/^[a-v0-9]{5,1024}$/);
    expect(emu.invitationsSent()).toBe(0);
    await cal.events.insert({ calendarId: 'primary', requestBody: { summary: 'meeting', start: { date: '2027-04-01' }, end: { date: '2027-04-02' }, attendees: [{ email: 'x@example.test' }, { email: 'y@example.test' }] } });
    expect(emu.invitationsSent()).toBe(2);
  });

  it('validates start and end the way Google does', async () => {
    const { sa, emu } = await start();
    const { cal } = client(emu, sa, ALICE);
    const insert = (start: object, end: object) => failure(cal.events.insert({ calendarId: 'primary', requestBody: { summary: 's', start, end } }));
    const cases: Array<[object, object, string, string]> = [
      [{ dateTime: '2027-01-01T10:00:00Z' }, { dateTime: '2027-01-01T09:00:00Z' }, 'timeRangeEmpty', 'The specified time range is empty.'],
      [{ date: '2027-01-01' }, { date: '2027-01-01' }, 'timeRangeEmpty', 'The specified time range is empty.'],
      [{ dateTime: '2027-01-01T10:00:00' }, { dateTime: '2027-01-01T11:00:00Z' }, 'required', 'Missing time zone definition for start time.'],
      [{ dateTime: '2027-01-01T10:00:00', timeZone: 'Mars/Olympus' }, { dateTime: '2027-01-01T11:00:00Z' }, 'invalid', 'Invalid time zone definition for start time.'],
      // A newer spelling of a known zone, as Google answered after the Kiev → Kyiv rename.
      [{ dateTime: '2027-01-01T10:00:00', timeZone: 'Europe/Kyiv' }, { dateTime: '2027-01-01T11:00:00Z' }, 'invalid', 'Invalid time zone definition for start time.'],
      [{ date: '2027-01-01' }, { dateTime: '2027-01-02T00:00:00Z' }, 'invalid', 'Start and end times must either both be date or both be dateTime.'],
      [{ date: '2027-02-30' }, { date: '2027-03-01' }, 'invalid', 'Invalid start time.'],
    ];
    for (const [start, end, why, message] of cases) {
      const err = await insert(start, end);
      expect(err.status, JSON.stringify(start)).toBe(400);
      expect(body(err).error.errors[0], JSON.stringify(start)).toMatchObject({ reason: why, message });
    }
    // A local time with an IANA zone is fine, as is a zero-length timed event.
    const ok = await cal.events.insert({ calendarId: 'primary', requestBody: { start: { dateTime: '2027-03-28T02:30:00', timeZone: 'Europe/Berlin' }, end: { dateTime: '2027-03-28T03:30:00', timeZone: 'Europe/Berlin' } } });
    expect(ok.status).toBe(200);
    expect((await cal.events.insert({ calendarId: 'primary', requestBody: timed('nolength00', '2027-01-01T10:00:00Z', '2027-01-01T10:00:00Z') })).status).toBe(200);
    // A local time in a repeated hour counts once, with the earlier offset: 02:45 CEST (00:45 UTC) on 31 October
    // 2027, before an end at 01:00 UTC (02:45 CET would be after it).
    const repeated = await cal.events.insert({ calendarId: 'primary', requestBody: { start: { dateTime: '2027-10-31T02:45:00', timeZone: 'Europe/Berlin' }, end: { dateTime: '2027-10-31T01:00:00Z' } } });
    expect(repeated.status).toBe(200);
    expect(emu.events(ALICE)).toHaveLength(3);
  });

  it('changes the etag on every write and enforces If-Match and If-None-Match', async () => {
    const { sa, emu } = await start();
    const { cal } = client(emu, sa, ALICE);
    const id = 'etagtest01';
    const v1 = (await cal.events.insert({ calendarId: 'primary', requestBody: { ...timed(id, '2027-05-01T10:00:00Z', '2027-05-01T11:00:00Z'), ...tagged('m1', { generation: '1' }) } })).data;
    const v2 = (await cal.events.patch({ calendarId: 'primary', eventId: id, requestBody: { summary: 'Renamed', extendedProperties: { private: { generation: '2' } } } }, { headers: { 'If-Match': v1.etag! } })).data;
    expect(v2.etag).not.toBe(v1.etag);
    expect(v2.sequence).toBe(0);
    // Patch replaces top-level fields but merges extended properties key by key.
    expect(v2).toMatchObject({ summary: 'Renamed', start: { dateTime: '2027-05-01T10:00:00Z' }, extendedProperties: { private: { calendarSyncMarker: 'm1', generation: '2' } } });

    const stale = await failure(cal.events.patch({ calendarId: 'primary', eventId: id, requestBody: { summary: 'Lost update' } }, { headers: { 'If-Match': v1.etag! } }));
    expect(stale.status).toBe(412);
    expect(body(stale).error.errors[0]).toEqual({ domain: 'global', reason: 'conditionNotMet', message: 'Precondition Failed', locationType: 'header', location: 'If-Match' });
    expect(emu.events(ALICE)[0]!.props.summary).toBe('Renamed');

    // An edit in the Calendar UI makes the adapter's etag stale too.
    emu.editEvent(ALICE, id, { summary: 'Edited by a human' });
    const afterUi = await failure(cal.events.update({ calendarId: 'primary', eventId: id, requestBody: timed(id, '2027-05-01T12:00:00Z', '2027-05-01T13:00:00Z') }, { headers: { 'If-Match': v2.etag! } }));
    expect(afterUi.status).toBe(412);
    const current = (await cal.events.get({ calendarId: 'primary', eventId: id })).data;
    expect(current.summary).toBe('Edited by a human');
    // googleapis-common counts 304 as a success (validateStatus), with no body.
    const notModified = await cal.events.get({ calendarId: 'primary', eventId: id }, { headers: { 'If-None-Match': current.etag! } });
    expect(notModified.status).toBe(304);
    expect((await cal.events.get({ calendarId: 'primary', eventId: id }, { headers: { 'If-None-Match': v1.etag! } })).status).toBe(200);

    // Update replaces the whole event; moving it bumps the sequence.
    const v4 = (await cal.events.update({ calendarId: 'primary', eventId: id, requestBody: timed(id, '2027-05-01T12:00:00Z', '2027-05-01T13:00:00Z') }, { headers: { 'If-Match': current.etag! } })).data;
    expect(v4.sequence).toBe(1);
    expect(v4.extendedProperties).toBeUndefined();
    expect(emu.events(ALICE)[0]).toMatchObject({ etag: v4.etag, sequence: 1, props: { summary: `Item ${id}` } });

    const staleDelete = await failure(cal.events.delete({ calendarId: 'primary', eventId: id }, { headers: { 'If-Match': v1.etag! } }));
    expect(staleDelete.status).toBe(412);
    expect(emu.events(ALICE)).toHaveLength(1);
    // A UI delete turns the next patch into 410.
    emu.deleteEvent(ALICE, id);
    expect(reason(await failure(cal.events.patch({ calendarId: 'primary', eventId: id, requestBody: { summary: 'x' } })))).toBe('deleted');
  });

  it('lists with AND-ed extended-property filters, time bounds, showDeleted and paging', async () => {
    const { sa, emu } = await start();
    const { cal } = client(emu, sa, ALICE);
    const mine: string[] = [];
    for (let i = 0; i < 5; i++) {
      const id = `mine${i}0000`;
      mine.push(id);
      await cal.events.insert({ calendarId: 'primary', requestBody: { ...timed(id, `2027-06-0${i + 1}T10:00:00Z`, `2027-06-0${i + 1}T11:00:00Z`), ...tagged('m1', { kind: i % 2 ? 'odd' : 'even' }) } });
    }
    await cal.events.insert({ calendarId: 'primary', requestBody: { ...timed('other00000', '2027-06-01T10:00:00Z', '2027-06-01T11:00:00Z'), ...tagged('m2') } });
    await cal.events.insert({ calendarId: 'primary', requestBody: { id: 'datedate00', start: { date: '2027-06-10' }, end: { date: '2027-06-11' }, ...tagged('m1', { kind: 'allday' }) } });
    await cal.events.insert({ calendarId: 'primary', requestBody: timed('untagged00', '2027-06-01T10:00:00Z', '2027-06-01T11:00:00Z') });

    const pages: string[][] = [];
    let pageToken: string | undefined;
    do {
      const res = await cal.events.list({ calendarId: 'primary', privateExtendedProperty: ['calendarSyncMarker=m1'], timeMax: '2027-06-09T00:00:00Z', maxResults: 2, pageToken });
      pages.push(res.data.items!.map((e) => e.id!));
      pageToken = res.data.nextPageToken ?? undefined;
    } while (pageToken && pages.length < 10);
    expect(pages).toEqual([mine.slice(0, 2), mine.slice(2, 4), mine.slice(4)]);

    const ids = async (params: Record<string, unknown>) => (await cal.events.list({ calendarId: 'primary', ...params })).data.items!.map((e) => e.id);
    expect(await ids({ privateExtendedProperty: ['calendarSyncMarker=m1', 'kind=odd'] })).toEqual([mine[1], mine[3]]);
    expect(await ids({ privateExtendedProperty: ['calendarSyncMarker=m2', 'kind=odd'] })).toEqual([]);
    expect(await ids({ sharedExtendedProperty: ['calendarSyncMarker=m1'] })).toEqual([]);
    // timeMin is exclusive on the end, timeMax exclusive on the start; all-day dates count from UTC midnight.
    expect(await ids({ privateExtendedProperty: ['calendarSyncMarker=m1'], timeMin: '2027-06-02T11:00:00Z', timeMax: '2027-06-04T10:00:00Z' })).toEqual([mine[2]]);
    expect(await ids({ timeMin: '2027-06-10T23:59:00Z' })).toEqual(['datedate00']);
    expect(await ids({ timeMin: '2027-06-11T00:00:00+00:00' })).toEqual([]);
    expect(await ids({ timeMin: '2027-06-10T23:00:00-02:00' })).toEqual([]);

    await cal.events.delete({ calendarId: 'primary', eventId: mine[0]! });
    expect(await ids({ privateExtendedProperty: ['kind=even'] })).toEqual([mine[2], mine[4]]);
    const withDeleted = (await cal.events.list({ calendarId: 'primary', privateExtendedProperty: ['kind=even'], showDeleted: true })).data.items!;
    expect(withDeleted.map((e) => [e.id, e.status])).toEqual([[mine[0], 'cancelled'], [mine[2], 'confirmed'], [mine[4], 'confirmed']]);

    const badToken = await failure(cal.events.list({ calendarId: 'primary', pageToken: 'not-a-token' }));
    expect(badToken.status).toBe(400);
    expect(reason(badToken)).toBe('invalid');
    const noOffset = await failure(cal.events.list({ calendarId: 'primary', timeMin: '2027-06-01T00:00:00' }));
    expect(noOffset.status).toBe(400);
    expect(reason(await failure(cal.events.list({ calendarId: 'primary', timeMin: '2027-06-02T00:00:00Z', timeMax: '2027-06-01T00:00:00Z' })))).toBe('timeRangeEmpty');
  });

  it('limits each user to userRatePerMinute requests with 403 rateLimitExceeded', async () => {
    const { sa, emu } = await start({ userRatePerMinute: 5 });
    const alice = client(emu, sa, ALICE).cal;
    for (let i = 0; i < 5; i++) expect((await alice.events.list({ calendarId: 'primary' })).status).toBe(200);
    const limited = await failure(alice.events.list({ calendarId: 'primary' }));
    expect(limited.status).toBe(403);
    expect(body(limited)).toEqual({ error: { errors: [{ domain: 'usageLimits', reason: 'rateLimitExceeded', message: 'Rate Limit Exceeded' }], code: 403, message: 'Rate Limit Exceeded' } });
    // 403 is not retried by the SDK: exactly one request went out.
    expect(emu.requests.filter((r) => r.status === 403)).toHaveLength(1);
    // Per user: Bob still has his own budget.
    expect((await client(emu, sa, BOB).cal.events.list({ calendarId: 'primary' })).status).toBe(200);
  });

  it('injects faults: a 500 on insert, a retried 503, a 429 with Retry-After, a dropped connection', async () => {
    const { sa, emu } = await start();
    const { cal } = client(emu, sa, ALICE);
    await cal.events.list({ calendarId: 'primary' }); // fetch the token before faults apply
    emu.addFault({ status: 500, times: 1, method: 'POST' });
    const err = await failure(cal.events.insert({ calendarId: 'primary', requestBody: timed('fault00000', '2027-07-01T10:00:00Z', '2027-07-01T11:00:00Z') }));
    expect(err.status).toBe(500);
    expect(body(err).error.errors[0]).toEqual({ domain: 'global', reason: 'backendError', message: 'Backend Error' });
    expect(emu.events(ALICE)).toEqual([]);
    // The fault is used up: the same insert now succeeds.
    expect((await cal.events.insert({ calendarId: 'primary', requestBody: timed('fault00000', '2027-07-01T10:00:00Z', '2027-07-01T11:00:00Z') })).status).toBe(200);

    // gaxios retries a GET after 503, so the call succeeds on the second attempt.
    emu.addFault({ status: 503, times: 1, method: 'GET', reason: 'backendError' });
    expect((await cal.events.get({ calendarId: 'primary', eventId: 'fault00000' })).status).toBe(200);
    expect(emu.requests.slice(-2).map((r) => [r.method, r.status])).toEqual([['GET', 503], ['GET', 200]]);

    emu.addFault({ status: 429, times: 1, method: 'PATCH', reason: 'userRateLimitExceeded', retryAfter: '7' });
    const throttled = await failure(cal.events.patch({ calendarId: 'primary', eventId: 'fault00000', requestBody: { summary: 'x' } }));
    expect(throttled.status).toBe(429);
    expect(throttled.response?.headers.get('retry-after')).toBe('7');
    expect(body(throttled).error.errors[0]).toEqual({ domain: 'usageLimits', reason: 'userRateLimitExceeded', message: 'User Rate Limit Exceeded' });

    emu.addFault({ status: 0, times: 1, method: 'POST', drop: true });
    const dropped = await failure(cal.events.insert({ calendarId: 'primary', requestBody: timed('dropped000', '2027-07-01T10:00:00Z', '2027-07-01T11:00:00Z') }));
    expect(dropped.response).toBeUndefined();
    expect(emu.requests.at(-1)).toMatchObject({ method: 'POST', status: 0, reason: 'dropped' });
    expect(emu.events(ALICE).map((e) => e.id)).toEqual(['fault00000']);
  });

  it('delays responses with setLatency and tracks concurrency per user', async () => {
    const { sa, emu } = await start();
    const { cal } = client(emu, sa, ALICE);
    await cal.events.list({ calendarId: 'primary' });
    expect(emu.peakConcurrency(ALICE)).toBe(1);
    emu.setLatency(300);
    const t0 = Date.now();
    await Promise.all([0, 1, 2].map(() => cal.events.list({ calendarId: 'primary' })));
    expect(Date.now() - t0).toBeGreaterThanOrEqual(290);
    expect(emu.peakConcurrency(ALICE)).toBe(3);
    expect(emu.peakConcurrency(BOB)).toBe(0);
    const last = emu.requests.at(-1)!;
    expect(last.at - last.receivedAt).toBeGreaterThanOrEqual(290);
  });
});
