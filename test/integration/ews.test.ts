// On-premises Exchange end to end: the real ews-javascript-api SDK (NTLM or basic, impersonation or full mailbox
// access) over HTTPS with a private CA to the EWS emulator, a real worker on a real Temporal dev server,
// configured through the API. Exchange Online's OAuth path gets its token from the Entra ID emulator.
import { createHash, getHashes } from 'node:crypto';
import { Agent as HttpsAgent } from 'node:https';
import { rootCertificates } from 'node:tls';
import { historyToJSON } from '@temporalio/common/lib/proto-utils';
import {
  Appointment,
  DateTime,
  ExchangeService,
  ExchangeVersion,
  ExtendedPropertyDefinition,
  FolderId,
  Guid,
  Mailbox as EwsMailbox,
  MapiPropertyType,
  SendInvitationsMode,
  TimeZoneInfo,
  Uri,
  WebCredentials,
  WellKnownFolderName,
  XhrApi,
} from 'ews-javascript-api';
import { afterEach, describe, expect, it } from 'vitest';
import { createEwsProvider, MARKER_PROPERTY } from '../../activities/providers/ews';
import { EXCHANGE_VERSIONS, ewsSettingsSchema } from '../../activities/providers/ews/settings';
import type { ExportedEvent } from '../../activities/sync/types';
import { getIntegration } from '../../db/repositories';
import { adminWorkflowId } from '../../workflows/ids';
import { startEwsEmulator, type EwsAccount, type EwsEmulator } from '../fakes/ews';
import { startGraphEmulator, type GraphEmulator } from '../fakes/graph';
import { createTestApp, type TestApp } from '../helpers/app';
import type { HarnessOptions } from '../helpers/harness';
import { adminSteps, crashAfterCreate } from '../helpers/providers';

const PASSWORD = 'Winter&2027<calsync>';
const MARKER_KEY = `${MARKER_PROPERTY.propertySetId}/${MARKER_PROPERTY.propertyName}`;
interface Mode {
  authentication: 'ntlm' | 'basic';
  accessMode: 'impersonation' | 'delegate';
}

let t: TestApp | undefined;
let emu: EwsEmulator;
let graph: GraphEmulator | undefined;
afterEach(async () => {
  await t?.close();
  await emu?.close();
  await graph?.close();
  t = undefined;
  graph = undefined;
});

async function setUp(opts: HarnessOptions & Partial<Mode> & { account?: (boxes: { alice: string; bob: string }) => Partial<EwsAccount>; extraMailboxes?: string[] } = {}) {
  const testApp = await createTestApp(opts);
  t = testApp;
  const alice = testApp.adminId('alice');
  const bob = testApp.adminId('bob');
  const boxes = { alice: `${alice}@contoso.test`, bob: `${bob}@contoso.test` };
  const account: EwsAccount = { domain: 'CONTOSO', user: 'svc-calsync', password: PASSWORD, impersonate: '*', fullAccess: '*', email: 'svc-calsync@contoso.test', ...opts.account?.(boxes) };
  emu = await startEwsEmulator({ accounts: [account], mailboxes: [boxes.alice, boxes.bob, 'svc-calsync@contoso.test', ...(opts.extraMailboxes ?? [])] });
  const settings = { server: emu.url, domain: 'CONTOSO', username: 'svc-calsync', syncUserEmail: boxes.alice, authentication: opts.authentication ?? 'ntlm', accessMode: opts.accessMode ?? 'impersonation', caCertificate: emu.ca };
  const saved = await testApp.call('PUT', '/api/integration', { protocol: 'ews', settings, secrets: { password: PASSWORD } });
  expect(saved.status).toBe(200);
  await testApp.call('POST', '/api/integration/enable');
  return { alice, bob, boxes, settings };
}

const app = () => t!;
const steps = adminSteps(app);
const addAdmin = (id: string, timeZone: string, email = `${id}@contoso.test`) => steps.addAdmin(id, timeZone, email);
const { enable, lastRun } = steps;
const put = (key: string, body: Record<string, unknown>) => app().call('PUT', `/api/calendar-items/${key}?sync=later`, body);
const srDue = (adminId: string, i: number, title = `SR ${i}`) => ({ adminId, type: 'sr_due', title, timing: { kind: 'deadline', atUtc: new Date(Date.UTC(2027, 0, 1 + i, 12)).toISOString() }, statusClass: 'open' });
const bySubject = (mailbox: string) => Object.fromEntries(emu.appointments(mailbox).map((a) => [a.subject, a]));
/** The SOAP requests (NTLM's negotiation GETs have no operation), as `operation responseCode`. */
const soap = () => emu.requests.filter((r) => r.operation !== null);
const ops = (list = soap()) => list.map((r) => `${r.operation} ${r.responseCode}`);
const count = (list: string[]) => list.reduce<Record<string, number>>((n, o) => ({ ...n, [o]: (n[o] ?? 0) + 1 }), {});
const statusOf = async (id: string) => (await app().call('GET', `/api/admins/${id}/sync`)).json;

describe('on-premises Exchange over EWS', () => {
  it('tests the connection step by step, explains TLS, sign-in and permission failures per mode, and validates the form', async () => {
    // The account reaches alice's mailbox only (role scope and full access alike).
    const { boxes, settings } = await setUp({ account: (b) => ({ impersonate: [b.alice], fullAccess: [b.alice] }), extraMailboxes: ['carol@example.test'] });
    const ok = await app().call('POST', '/api/integration/test');
    expect(ok.json.checks.map((c: { name: string; ok: boolean }) => [c.name, c.ok])).toEqual([['server', true], ['calendar', true], ['admin', true], ['event', true]]);
    expect(ok.json.checks[1].detail).toBe(`Opened the calendar of ${boxes.alice} through impersonation.`);
    // The probe appointment was created and deleted: nothing is left.
    expect(emu.appointments(boxes.alice)).toEqual([]);
    expect(ops().filter((o) => !o.startsWith('FindItem'))).toEqual(['CreateItem NoError', 'DeleteItem NoError']);
    // NTLM signed every request, while MD4 stayed unavailable to the rest of the process.
    expect(emu.ntlmHandshakes()).toBe(soap().length);
    expect(getHashes()).not.toContain('md4');
    expect(() => createHash('md4')).toThrow();

    const check = async (patch: Record<string, unknown>, secrets: Record<string, string> = {}) =>
      (await app().call('POST', '/api/integration/test', { protocol: 'ews', settings: { ...settings, ...patch }, secrets })).json.checks as Array<{ name: string; ok: boolean; detail: string }>;
    expect(await check({}, { password: 'not-the-password' })).toEqual([{ name: 'server', ok: false, detail: expect.stringMatching(/^Exchange refused the NTLM sign-in of CONTOSO\\svc-calsync \(401\): check the password/) }]);
    expect((await check({ authentication: 'basic' }, { password: 'not-the-password' }))[0]!.detail).toMatch(/^Exchange refused the basic sign-in of CONTOSO\\svc-calsync \(401\).*Basic authentication is enabled/);
    expect((await check({ caCertificate: undefined }))[0]!.detail).toMatch(/^The certificate of localhost:\d+ is not trusted \(UNABLE_TO_VERIFY_LEAF_SIGNATURE\): add the issuing CA certificate/);
    expect((await check({ server: emu.mismatchUrl }))[0]!.detail).toMatch(/^The certificate of 127\.0\.0\.2:\d+ is not issued for that name: use the name in its certificate/);

    // bob as the sync user: the role, or full access, is missing for his mailbox.
    const impersonated = await check({ syncUserEmail: boxes.bob });
    expect(impersonated.map((c) => [c.name, c.ok])).toEqual([['server', true], ['calendar', false]]);
    expect(impersonated[1]!.detail).toMatch(/\(ErrorImpersonateUserDenied\): grant the ApplicationImpersonation role: New-ManagementRoleAssignment -Name calendar-sync -Role ApplicationImpersonation -User CONTOSO\\svc-calsync/);
    const delegated = await check({ syncUserEmail: boxes.bob, accessMode: 'delegate' });
    expect(delegated[1]!.detail).toBe(`Access to ${boxes.bob} was denied to CONTOSO\\svc-calsync (ErrorAccessDenied): grant full access to the mailbox: Add-MailboxPermission -Identity ${boxes.bob} -User CONTOSO\\svc-calsync -AccessRights FullAccess -InheritanceType All -AutoMapping $false.`);
    // carol opts in: the test opens her calendar too, the way the sync will.
    await app().addAdmin('carol');
    const withCarol = await check({});
    expect(withCarol.map((c) => [c.name, c.ok])).toEqual([['server', true], ['calendar', true], ['admin', false]]);
    expect(withCarol[2]!.detail).toMatch(/may not act as carol@example\.test \(ErrorImpersonateUserDenied\)/);
    expect((await check({ accessMode: 'delegate' }))[2]!.detail).toMatch(/Add-MailboxPermission -Identity carol@example\.test -User CONTOSO\\svc-calsync -AccessRights FullAccess/);

    const bad = await app().call('PUT', '/api/integration', { protocol: 'ews', settings: { ...settings, server: 'http://mail.contoso.test', domain: 'contoso.test', syncUserEmail: 'nobody', exchangeVersion: 'Exchange2003' } });
    expect(bad.status).toBe(422);
    expect(bad.json.errors.map((e: { path: string }) => e.path).sort()).toEqual(['settings.domain', 'settings.exchangeVersion', 'settings.server', 'settings.syncUserEmail']);
    const oauthHalf = await app().call('PUT', '/api/integration', { protocol: 'ews', settings: { ...settings, authentication: 'oauth', accessMode: 'delegate' } });
    expect(oauthHalf.json.errors.map((e: { path: string }) => e.path).sort()).toEqual(['settings.accessMode', 'settings.clientId', 'settings.tenantId']);
    const noPassword = await app().call('PUT', '/api/integration', { protocol: 'ews', settings, secrets: { password: null } });
    expect(noPassword.status).toBe(422);
    expect(noPassword.json.errors).toEqual([{ path: 'secrets.password', message: 'password is required with ntlm: the service account’s password' }]);
    const view = (await app().call('GET', '/api/integration')).json;
    expect(view.secrets.password).toMatchObject({ set: true, fingerprint: expect.stringMatching(/^[0-9a-f]{12}$/) });
    expect(JSON.stringify(view)).not.toContain(PASSWORD);
    // A bare server name is saved as its EWS URL.
    const bare = await app().call('PUT', '/api/integration', { protocol: 'ews', settings: { ...settings, server: 'Mail.Contoso.test' }, secrets: {} });
    expect(bare.json.settings.server).toBe('https://mail.contoso.test/EWS/Exchange.asmx');
  });

  const modes: Mode[] = [
    { authentication: 'ntlm', accessMode: 'impersonation' },
    { authentication: 'basic', accessMode: 'delegate' },
  ];
  for (const mode of modes) {
    it(`exports exact appointments with ${mode.authentication} and ${mode.accessMode}, all-day west and east of UTC, in any worker zone; updates in place, deletes, invites no one`, async () => {
      // The worker's own zone must not leak into what Exchange stores.
      const workerZone = process.env.TZ;
      process.env.TZ = 'Pacific/Chatham';
      try {
        const { alice, bob, boxes } = await setUp(mode);
        await addAdmin(alice, 'Australia/Sydney');
        await addAdmin(bob, 'America/Los_Angeles');
        // Both expiries were entered at 23:30 UTC on 9 February: already the 10th in Sydney (summer time,
        // UTC+11), still the 9th in Los Angeles. Bob's deadline falls on the morning US summer time begins.
        const items: Array<[string, Record<string, unknown>]> = [
          ['sysaid:software:1:expiration', { adminId: alice, type: 'software_expiry', title: 'Backup suite', timing: { kind: 'all_day', atUtc: '2027-02-09T23:30:00Z', sourceTz: 'Australia/Sydney' } }],
          ['sysaid:task:3', { adminId: alice, type: 'task', title: 'Patch night & <reboot>', timing: { kind: 'timed', startUtc: '2027-02-10T13:00:00Z', endUtc: '2027-02-10T15:00:00Z' } }],
          ['sysaid:software:2:expiration', { adminId: bob, type: 'software_expiry', title: 'Antivirus', timing: { kind: 'all_day', atUtc: '2027-02-09T23:30:00Z', sourceTz: 'America/Los_Angeles' } }],
          ['sysaid:sr:4:due', { adminId: bob, type: 'sr_due', title: 'SR #4 VPN', body: 'Drops hourly', url: 'https://helpdesk.example/sr/4?tab=1&x=2', timing: { kind: 'deadline', atUtc: '2027-03-14T18:00:00Z' }, statusClass: 'open' }],
        ];
        for (const [key, item] of items) await put(key, item);
        for (const admin of [alice, bob]) {
          await enable(admin);
          expect((await lastRun(admin)).lastRun).toMatchObject({ created: 2, failed: 0 });
        }

        const installationId = (await getIntegration(app().db)).installationId;
        const a = bySubject(boxes.alice);
        expect(a['Expires: Backup suite']).toMatchObject({ isAllDay: true, start: '2027-02-09T13:00:00.000Z', end: '2027-02-10T13:00:00.000Z', timeZone: 'AUS Eastern Standard Time', legacyFreeBusyStatus: 'Free', reminderIsSet: false });
        expect(a['Task: Patch night & <reboot>']).toMatchObject({
          isAllDay: false,
          start: '2027-02-10T13:00:00.000Z',
          end: '2027-02-10T15:00:00.000Z',
          timeZone: 'AUS Eastern Standard Time',
          legacyFreeBusyStatus: 'Busy',
          reminderIsSet: true,
          reminderMinutesBeforeStart: 15,
          categories: ['Helpdesk'],
          sensitivity: 'Normal',
          bodyType: 'Text',
          extended: { [MARKER_KEY]: `${installationId}/${alice}/sysaid:task:3` },
        });
        const b = bySubject(boxes.bob);
        expect(b['Expires: Antivirus']).toMatchObject({ isAllDay: true, start: '2027-02-09T08:00:00.000Z', end: '2027-02-10T08:00:00.000Z', timeZone: 'Pacific Standard Time' });
        // Deadline blocks end at the due time; the body carries the link with its & intact.
        expect(b['Due: SR #4 VPN']).toMatchObject({ start: '2027-03-14T17:30:00.000Z', end: '2027-03-14T18:00:00.000Z', body: 'Drops hourly\n\nOpen in the helpdesk: https://helpdesk.example/sr/4?tab=1&x=2', extended: { [MARKER_KEY]: `${installationId}/${bob}/sysaid:sr:4:due` } });

        const before = a['Task: Patch night & <reboot>']!;
        await put('sysaid:task:3', { adminId: alice, type: 'task', title: 'Patch night (extended)', timing: { kind: 'timed', startUtc: '2027-02-10T13:00:00Z', endUtc: '2027-02-10T16:00:00Z' } });
        await app().call('DELETE', `/api/calendar-items/sysaid:software:1:expiration?adminId=${alice}&sync=later`);
        const run = await app().call('POST', `/api/admins/${alice}/sync/run`);
        expect(run.json.counts).toMatchObject({ created: 0, updated: 1, deleted: 1, failed: 0 });
        const after = emu.appointments(boxes.alice);
        expect(after.map((e) => [e.id, e.subject, e.end])).toEqual([[before.id, 'Task: Patch night (extended)', '2027-02-10T16:00:00.000Z']]);
        expect(after[0]!.changeKey).not.toBe(before.changeKey);
        expect(emu.invitationsSent()).toBe(0);
        expect(emu.requests.every((r) => r.auth === mode.authentication)).toBe(true);
        if (mode.authentication === 'ntlm') {
          expect(emu.ntlmHandshakes()).toBe(soap().length);
          expect(getHashes()).not.toContain('md4');
        }
      } finally {
        if (workerZone === undefined) delete process.env.TZ;
        else process.env.TZ = workerZone;
      }
    });
  }

  for (const mode of modes) {
    it(`a worker that dies after CreateItem but before the link was written leaves one appointment (${mode.authentication}, ${mode.accessMode})`, async () => {
      const { alice, boxes } = await setUp({ ...mode, providerFactory: crashAfterCreate(3) });
      await addAdmin(alice, 'UTC');
      for (let i = 0; i < 6; i++) await put(`sysaid:sr:${i}:due`, srDue(alice, i));
      await enable(alice);
      expect((await lastRun(alice)).lastRun).toMatchObject({ created: 6, failed: 0, error: null });
      const appointments = emu.appointments(boxes.alice);
      expect(appointments).toHaveLength(6);
      expect(new Set(appointments.map((e) => e.extended[MARKER_KEY])).size).toBe(6);
      // The retried create looked for its marker first, found the appointment that had landed and updated it.
      expect(count(ops())).toEqual({ 'FindItem NoError': 1 + 7, 'CreateItem NoError': 6, 'UpdateItem NoError': 1 });
    });
  }

  it('rides out ErrorServerBusy as a 500 fault and inside a 200, waits BackOffMilliseconds, creates no duplicates, keeps to 4 requests in flight', async () => {
    const { alice, boxes } = await setUp({ authentication: 'basic', accessMode: 'delegate' });
    await addAdmin(alice, 'UTC');
    for (let i = 0; i < 20; i++) await put(`sysaid:sr:${i}:due`, srDue(alice, i, `SR ${String(i).padStart(2, '0')}`));
    emu.setLatency(20);
    // Back-offs longer than the retry policy's first interval (2 s), so waiting them out is observable.
    emu.addFault({ times: 3, operation: 'CreateItem', kind: 'serverBusy500', backOffMs: 4000 });
    emu.addFault({ times: 2, operation: 'CreateItem', kind: 'serverBusyItem', backOffMs: 3000 });
    await enable(alice);
    expect((await lastRun(alice)).lastRun).toMatchObject({ created: 20, failed: 0, error: null });
    expect(emu.appointments(boxes.alice).map((e) => e.subject).sort()).toEqual(Array.from({ length: 20 }, (_, i) => `Due: SR ${String(i).padStart(2, '0')}`));
    const creates = soap().filter((r) => r.operation === 'CreateItem');
    expect(creates.filter((r) => r.responseCode === 'ErrorServerBusy').map((r) => r.httpStatus)).toEqual([500, 500, 500, 200, 200]);
    expect(creates.filter((r) => r.responseCode === 'NoError')).toHaveLength(20);
    expect(emu.peakConcurrency(boxes.alice)).toBeLessThanOrEqual(4);
    // After each busy answer, nothing reached the server until its BackOffMilliseconds had passed.
    const arrivals = soap().map((r) => r.at).sort((x, y) => x - y);
    const pauses = arrivals.slice(1).map((at, i) => at - arrivals[i]!).sort((x, y) => y - x);
    expect(pauses[0]).toBeGreaterThanOrEqual(3900);
    expect(pauses[1]).toBeGreaterThanOrEqual(2900);
  });

  for (const mode of modes) {
    it(`pauses every workflow with reason credentials on a changed password and resumes when it is saved; an unknown mailbox blocks only its admin (${mode.authentication}, ${mode.accessMode})`, async () => {
      const { alice, bob, boxes, settings } = await setUp(mode);
      await addAdmin(alice, 'UTC');
      await addAdmin(bob, 'UTC', `${bob}@elsewhere.test`);
      await put('sysaid:sr:1:due', srDue(alice, 1));
      await put('sysaid:sr:2:due', srDue(bob, 2));
      await enable(alice);
      await enable(bob);
      await lastRun(alice);
      const blocked = await app().eventually(async () => {
        const s = await statusOf(bob);
        return s.state === 'blocked' ? s : null;
      }, 60_000, 'bob blocked');
      expect(blocked.blockedReason).toMatch(/mailbox .*elsewhere\.test was not found/);
      expect((await statusOf(alice)).state).toBe('idle');

      // The password is changed in Active Directory but not here yet.
      const rotated = 'Spring&2027<rotated>';
      emu.setPassword('svc-calsync', rotated);
      await app().call('PUT', '/api/integration', { protocol: 'ews', settings, secrets: {} });
      await app().call('PUT', '/api/calendar-items/sysaid:sr:3:due', srDue(alice, 3));
      const paused = await app().eventually(async () => {
        const s = await statusOf(alice);
        return s.state === 'paused' ? s : null;
      }, 60_000, 'alice paused for credentials');
      expect(paused).toMatchObject({ pausedReason: 'credentials', pausedMessage: expect.stringMatching(/^Exchange refused the (NTLM|basic) sign-in of CONTOSO\\svc-calsync \(401\)/) });
      expect(paused.pausedMessage).toContain(`${mode.authentication === 'ntlm' ? 'NTLM' : 'basic'} sign-in`);
      expect(emu.appointments(boxes.alice)).toHaveLength(1);

      await app().call('PUT', '/api/integration', { protocol: 'ews', settings, secrets: { password: rotated } });
      await app().eventually(async () => emu.appointments(boxes.alice).length === 2, 60_000, 'alice resumed and synced');
      await app().eventually(async () => (await statusOf(alice)).state === 'idle', 30_000, 'alice idle again');
      expect(await statusOf(alice)).toMatchObject({ pausedReason: null, lastRun: { error: null } });
      // Neither password ever reached a workflow history or a log line.
      const history = historyToJSON(await app().client.workflow.getHandle(adminWorkflowId(alice)).fetchHistory());
      for (const secret of [PASSWORD, rotated]) {
        expect(history).not.toContain(secret);
        expect(app().logLines.join('\n')).not.toContain(secret);
      }
    });
  }

  it('reports appointments deleted or edited in Outlook and repairs them (a stale ChangeKey is reloaded once); a steady run writes nothing', async () => {
    const { alice, boxes, settings } = await setUp({ accessMode: 'delegate' });
    await addAdmin(alice, 'UTC');
    for (let i = 1; i <= 3; i++) await put(`sysaid:sr:${i}:due`, srDue(alice, i));
    await enable(alice);
    await lastRun(alice);
    const original = bySubject(boxes.alice);
    emu.deleteAppointment(boxes.alice, original['Due: SR 1']!.id);
    emu.editAppointment(boxes.alice, original['Due: SR 2']!.id, { subject: 'Due: SR 2 (moved by hand)' });

    const seen = soap().length;
    const repaired = await app().call('POST', `/api/admins/${alice}/sync/run`);
    expect(repaired.json.counts).toMatchObject({ updated: 2, created: 0, deleted: 0, failed: 0 });
    expect((await statusOf(alice)).drift).toEqual({ missing: 1, edited: 1, policy: 'repair' });
    const after = bySubject(boxes.alice);
    expect(Object.keys(after).sort()).toEqual(['Due: SR 1', 'Due: SR 2', 'Due: SR 3']);
    expect(after['Due: SR 1']!.id).not.toBe(original['Due: SR 1']!.id);
    expect(after['Due: SR 2']!.id).toBe(original['Due: SR 2']!.id);
    // The edited one: its stored ChangeKey was stale, so it was read again and written once more; the
    // deleted one: gone, so created again (after looking for its marker).
    expect(count(ops(soap().slice(seen)))).toEqual({ 'FindItem NoError': 2, 'UpdateItem ErrorIrresolvableConflict': 1, 'GetItem NoError': 1, 'UpdateItem NoError': 1, 'UpdateItem ErrorItemNotFound': 1, 'CreateItem NoError': 1 });

    const steady = soap().length;
    expect((await app().call('POST', `/api/admins/${alice}/sync/run`)).json.counts).toMatchObject({ updated: 0, created: 0, deleted: 0, unchanged: 3 });
    expect(ops(soap().slice(steady))).toEqual(['FindItem NoError']);

    await app().call('PUT', '/api/integration', { protocol: 'ews', settings: { ...settings, driftPolicy: 'leave' }, secrets: {} });
    emu.deleteAppointment(boxes.alice, after['Due: SR 3']!.id);
    const left = await app().eventually(async () => {
      const r = await app().call('POST', `/api/admins/${alice}/sync/run`);
      return r.status === 200 ? r : null;
    }, 30_000, 'a run after the policy change');
    expect(left.json.counts).toMatchObject({ updated: 0, created: 0 });
    expect((await statusOf(alice)).drift).toEqual({ missing: 1, edited: 0, policy: 'leave' });
    expect(Object.keys(bySubject(boxes.alice)).sort()).toEqual(['Due: SR 1', 'Due: SR 2']);
  });

  it('costs two SOAP requests per exported event (find by marker, create), one per drift check, and nothing more in a steady run', async () => {
    const { alice } = await setUp();
    await addAdmin(alice, 'UTC');
    const n = 30;
    for (let i = 0; i < n; i++) await put(`sysaid:sr:${i}:due`, srDue(alice, i));
    await enable(alice);
    await lastRun(alice);
    expect(count(ops())).toEqual({ 'FindItem NoError': n + 1, 'CreateItem NoError': n });
    // With NTLM each request is signed on its own connection: one negotiation (401) before each.
    expect(emu.requests.filter((r) => r.operation === null && r.httpStatus === 401)).toHaveLength(soap().length);
    const before = soap().length;
    const steady = await app().call('POST', `/api/admins/${alice}/sync/run`);
    expect(steady.json.counts).toMatchObject({ created: 0, updated: 0, deleted: 0, unchanged: n });
    expect(ops(soap().slice(before))).toEqual(['FindItem NoError']);
  });
});

describe('the ews provider on its own', () => {
  const TENANT = '72f988bf-86f1-41af-91ab-2d7cd011db47';
  const CLIENT = '5e3ce6c0-2b1f-4285-8d4b-75ee78787346';
  const SECRET = 'Qm8~client-secret-value-0123456789';
  const ALICE = 'alice@contoso.test';
  const mailbox = { adminId: 'alice', email: ALICE, timeZone: 'UTC' };

  /** Accepts the tokens the Entra ID emulator issues (random, shaped like a JWT); Exchange Online would check signature and audience. */
  class TokensOfTheEntraEmulator extends Array<string> {
    override indexOf(token: string) {
      return /^eyJ0eXAiOiJKV1QifQ\.[\w-]+\.[\w-]+$/.test(token) ? 0 : -1;
    }
  }

  it('signs in to Exchange Online with client credentials and acts through impersonation; explains a wrong secret and a refused token', async () => {
    graph = await startGraphEmulator({ tenants: { [TENANT]: { [CLIENT]: { secret: SECRET } } }, mailboxes: [] });
    emu = await startEwsEmulator({ accounts: [], mailboxes: [ALICE], auth: ['bearer'], bearerTokens: new TokensOfTheEntraEmulator() });
    const settings = ewsSettingsSchema.parse({ server: emu.url, syncUserEmail: ALICE, authentication: 'oauth', tenantId: TENANT, clientId: CLIENT, authorityHost: graph.baseUrl, caCertificate: emu.ca });
    const provider = createEwsProvider({ settings, secrets: { clientSecret: SECRET }, installationId: 'inst' });
    const checks = await provider.testConnection(mailbox);
    expect(checks.map((c) => [c.name, c.ok])).toEqual([['server', true], ['calendar', true], ['admin', true], ['event', true]]);
    expect(checks[0]!.detail).toBe(`Reached ${emu.url} over TLS and signed in as application ${CLIENT}.`);
    expect(emu.requests.every((r) => r.auth === 'bearer' && r.httpStatus === 200 && r.mailbox === ALICE)).toBe(true);
    // One token for all of it.
    expect(graph.requests.filter((r) => r.path.includes('/oauth2/v2.0/token'))).toHaveLength(1);

    const wrongSecret = createEwsProvider({ settings, secrets: { clientSecret: 'not-the-secret' }, installationId: 'inst' });
    expect(await wrongSecret.testConnection(mailbox)).toEqual([{ name: 'server', ok: false, detail: expect.stringMatching(/^AADSTS7000215: The client secret is wrong/) }]);
    await emu.close();
    emu = await startEwsEmulator({ accounts: [], mailboxes: [ALICE], auth: ['bearer'], bearerTokens: [] });
    const refused = createEwsProvider({ settings: { ...settings, server: emu.url }, secrets: { clientSecret: SECRET }, installationId: 'inst' });
    expect((await refused.testConnection(mailbox))[0]!.detail).toMatch(/^Exchange Online refused the access token of application 5e3ce6c0-.* \(401\): the app needs the application permission full_access_as_app/);
  });

  it('writes the same appointment with every Exchange version the form offers (2007 SP1 carries the zone as MeetingTimeZone)', async () => {
    emu = await startEwsEmulator({ accounts: [{ domain: 'CONTOSO', user: 'svc-calsync', password: PASSWORD, impersonate: '*' }], mailboxes: [ALICE] });
    const berlin = { ...mailbox, timeZone: 'Europe/Berlin' };
    // Berlin springs forward on 28 March 2027: the all-day event is 23 hours long.
    const expiry = (title: string): ExportedEvent => ({ title, body: '', url: null, time: { kind: 'all_day', startDate: '2027-03-28', endDateExclusive: '2027-03-29' }, showAs: 'free', reminderMinutes: null, category: 'Helpdesk', sensitivity: 'normal' });
    for (const exchangeVersion of EXCHANGE_VERSIONS) {
      const settings = ewsSettingsSchema.parse({ server: emu.url, domain: 'CONTOSO', username: 'svc-calsync', syncUserEmail: ALICE, exchangeVersion, caCertificate: emu.ca });
      const provider = createEwsProvider({ settings, secrets: { password: PASSWORD }, installationId: 'inst' });
      const identity = { marker: `inst/alice/${exchangeVersion}`, generation: 1 };
      const ref = await provider.create(berlin, identity, expiry('Expires: Backup suite'));
      expect(await provider.update(berlin, identity, ref, expiry(`Expires: Backup suite (${exchangeVersion})`))).toMatchObject({ remoteId: ref.remoteId });
      expect(emu.appointments(ALICE).find((a) => a.id === ref.remoteId)).toMatchObject({ subject: `Expires: Backup suite (${exchangeVersion})`, isAllDay: true, start: '2027-03-27T23:00:00.000Z', end: '2027-03-28T22:00:00.000Z', timeZone: 'W. Europe Standard Time' });
    }
  });

  it('lists only this installation’s appointments for the admin, over full CalendarView pages and windows longer than two years', async () => {
    emu = await startEwsEmulator({ accounts: [{ domain: 'CONTOSO', user: 'svc-calsync', password: PASSWORD, impersonate: '*', fullAccess: '*' }], mailboxes: [ALICE] });
    // 1,005 of ours an hour apart, and some that are not: written straight through the SDK in one CreateItem.
    const svc = new ExchangeService(ExchangeVersion.Exchange2013_SP1, TimeZoneInfo.Utc);
    svc.Url = new Uri(emu.url);
    svc.Credentials = new WebCredentials('CONTOSO\\svc-calsync', PASSWORD);
    svc.XHRApi = new XhrApi({ httpsAgent: new HttpsAgent({ ca: [...rootCertificates, emu.ca] }) });
    const marker = new ExtendedPropertyDefinition(new Guid(MARKER_PROPERTY.propertySetId), MARKER_PROPERTY.propertyName, MapiPropertyType.String);
    const start = Date.parse('2027-01-01T00:00:00Z');
    const items = Array.from({ length: 1010 }, (_, i) => {
      const a = new Appointment(svc);
      a.Subject = `item ${i}`;
      a.Start = new DateTime(start + i * 3_600_000);
      a.End = new DateTime(start + i * 3_600_000 + 1_800_000);
      if (i < 1005) a.SetExtendedProperty(marker, `inst/alice/k${i}`);
      else if (i < 1008) a.SetExtendedProperty(marker, `other-installation/alice/k${i}`);
      return a;
    });
    await svc.CreateItems(items, new FolderId(WellKnownFolderName.Calendar, new EwsMailbox(ALICE)), null as never, SendInvitationsMode.SendToNone);
    expect(emu.appointments(ALICE)).toHaveLength(1010);

    const settings = ewsSettingsSchema.parse({ server: emu.url, domain: 'CONTOSO', username: 'svc-calsync', syncUserEmail: ALICE, authentication: 'basic', caCertificate: emu.ca });
    const provider = createEwsProvider({ settings, secrets: { password: PASSWORD }, installationId: 'inst' });
    const before = soap().length;
    const listed = await provider.listManaged(mailbox, { startUtc: '2026-06-01T00:00:00Z', endUtc: '2029-06-01T00:00:00Z' });
    expect(listed).toHaveLength(1005);
    expect(new Set(listed.map((e) => e.marker))).toEqual(new Set(Array.from({ length: 1005 }, (_, i) => `inst/alice/k${i}`)));
    const stored = new Map(emu.appointments(ALICE).map((a) => [a.id, a.changeKey]));
    expect(listed.every((e) => stored.get(e.remoteId) === e.remoteVersion)).toBe(true);
    // Two pages in the first 700-day view (1,000 is Exchange's page), then one more view for the rest of the three years.
    expect(ops(soap().slice(before))).toEqual(Array(3).fill('FindItem NoError'));
  });
});
