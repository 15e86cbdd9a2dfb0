// Where items come from: the built-in store (items API), SysAid (read on a schedule), or both.
import { createRoute, OpenAPIHono, z } from '@hono/zod-openapi';
import { WorkflowFailedError } from '@temporalio/client';
import { eq, sql } from 'drizzle-orm';
import { checklist } from '../../activities/providers/connection';
import { canonicalJson } from '../../activities/sync/hash';
import { isProviderError } from '../../activities/providers/errors';
import { loginsSpent } from '../../activities/sources/sysaid/budget';
import type { SysaidFilters } from '../../activities/sources/sysaid/client';
import { createSysaidApi } from '../../activities/sources/sysaid/index';
import { changeDetectionOf, updateTimeWarning } from '../../activities/sources/sysaid/read';
import { SOURCE_MODES, SYSAID_SECRETS, sysaidSecretFor, sysaidSettingsSchema, type SysaidSettings } from '../../activities/sources/sysaid/settings';
import { audit, getSourceConfig } from '../../db/repositories';
import { sourceConfig, type SourceConfigRow } from '../../db/schema';
import type { Sealer } from '../../db/seal';
import { requireSysadmin } from '../auth';
import { errors, json, jsonBody, Loose, security } from '../openapi';
import { ProblemError, unprocessable, zodErrors } from '../problem';
import { mergeSecrets, secretsView } from '../secrets';
import type { AppEnv } from '../types';

const SourceInput = z
  .object({
    mode: z.enum(SOURCE_MODES, { error: `mode must be one of: ${SOURCE_MODES.join(', ')}` }),
    settings: Loose.default({}),
    /** A string sets a secret, null removes it; omitted secrets keep their saved values. */
    secrets: z.record(z.string(), z.string().min(1, 'a secret cannot be empty; send null to remove it').nullable()).default({}),
  })
  .openapi('SourceInput');

const SourceView = z
  .object({
    mode: z.enum(SOURCE_MODES),
    settings: Loose,
    secrets: z.record(z.string(), z.object({ set: z.literal(true), updatedAt: z.string().nullable(), fingerprint: z.string() })),
    version: z.number().int(),
    updatedAt: z.string(),
    updatedBy: z.string().nullable(),
    status: z.object({
      lastReadAt: z.string().nullable(),
      lastReadError: z.string().nullable(),
      lastRead: Loose.nullable(),
      highWater: z.string().nullable(),
      adminsRefreshedAt: z.string().nullable(),
      /** How changes are found: by update_time, or by due-date window reads where SysAid cannot filter on it. */
      changeDetection: z.enum(['update_time', 'due-date-window']),
      /** What the sysadmin should know about how SysAid is read (e.g. a filter this SysAid lacks or ignores). */
      warnings: z.array(z.string()),
      /** When the check for deleted service records last went through every SR with items. */
      existenceCheckedAt: z.string().nullable(),
      /** When SysAid last refused the saved credentials (not tried again until the source is saved). */
      loginRefusedAt: z.string().nullable(),
      budget: z.object({
        windowStartedAt: z.string().nullable(),
        requestsUsed: z.number().int(),
        loginsUsed: z.number().int(),
        /** The account's own count, all integrations together, as SysAid's X-RateLimit-* headers last said (newer API). */
        account: z.object({ limit: z.number().int(), remaining: z.number().int(), resetsAt: z.string() }).nullable(),
      }),
    }),
  })
  .openapi('Source');

const secretsOf = (row: SourceConfigRow, sealer: Sealer): Record<string, string> => (row.secrets ? sealer.unseal<Record<string, string>>(row.secrets) : {});
const iso = (d: Date | null) => d?.toISOString() ?? null;

function view(row: SourceConfigRow, sealer: Sealer) {
  return {
    mode: row.mode,
    settings: row.settings,
    secrets: secretsView(secretsOf(row, sealer), sealer),
    version: row.version,
    updatedAt: row.updatedAt.toISOString(),
    updatedBy: row.updatedBy,
    status: {
      lastReadAt: iso(row.lastReadAt),
      lastReadError: row.lastReadError,
      lastRead: row.lastReadStats ?? null,
      highWater: row.srHighWater,
      adminsRefreshedAt: iso(row.adminsRefreshedAt),
      changeDetection: changeDetectionOf(row.updateTimeFilter),
      warnings: [updateTimeWarning(row.updateTimeFilter)].filter((w): w is string => w !== null),
      existenceCheckedAt: iso(row.existenceCheckedAt),
      loginRefusedAt: iso(row.loginRefusedAt),
      budget: {
        windowStartedAt: iso(row.budgetWindowStart),
        requestsUsed: row.budgetUsed,
        loginsUsed: row.loginsUsed,
        account: row.serverLimit !== null && row.serverRemaining !== null && row.serverResetAt ? { limit: row.serverLimit, remaining: Math.max(0, row.serverRemaining), resetsAt: row.serverResetAt.toISOString() } : null,
      },
    },
  };
}

/** Mode, SysAid settings and secret names, checked together; every message names its field. */
function validate(input: z.infer<typeof SourceInput>, saved: Record<string, string>): { mode: SourceConfigRow['mode']; settings: Record<string, unknown>; secrets: Record<string, string> } {
  const merged = mergeSecrets('The source', SYSAID_SECRETS, saved, input.secrets);
  if (input.mode === 'builtin' && Object.keys(input.settings).length === 0) return { mode: 'builtin', settings: {}, secrets: merged };
  const parsed = sysaidSettingsSchema.safeParse(input.settings);
  if (!parsed.success) throw unprocessable('The SysAid settings are not valid.', zodErrors(parsed.error, 'settings'));
  // Only the secret of the API in use is kept (switching APIs starts from a clean form).
  const secret = sysaidSecretFor(parsed.data.apiVersion);
  const secrets: Record<string, string> = merged[secret] ? { [secret]: merged[secret] } : {};
  if (input.mode !== 'builtin' && !secrets[secret]) {
    const what = secret === 'password' ? 'the SysAid API user’s password is required' : 'the application key’s clientSecret is required (from POST /connect/v1/application-keys)';
    throw unprocessable(`Reading SysAid needs ${secret === 'password' ? 'the API user’s password' : 'the application key’s secret'}.`, [{ path: `secrets.${secret}`, message: what }]);
  }
  return { mode: input.mode, settings: parsed.data, secrets };
}

/** The connection test's note on the list filters: how changes will be found, the statuses and which count as closed. */
function filtersDetail(settings: SysaidSettings) {
  return (f: SysaidFilters) =>
    [
      f.updateTime ? 'update_time is a date filter: changes are read by update_time.' : updateTimeWarning('absent'),
      `Statuses: ${f.statuses.map((s) => `${s.id} ${s.caption}`).join(', ') || 'none listed'}.`,
      settings.closedStatusIds
        ? `Counted as closed (closedStatusIds): ${settings.closedStatusIds.join(', ')}.`
        : 'closedStatusIds is not set: the status class SysAid sends with each status decides what is closed; set closedStatusIds to the ids of your closed statuses where SysAid sends none.',
    ].join(' ');
}

export function sourceRoutes() {
  const app = new OpenAPIHono<AppEnv>();

  app.openapi(
    createRoute({ method: 'get', path: '/api/source', tags: ['source'], security, summary: 'Where items come from, and how the SysAid reads are going', responses: { 200: json(SourceView, 'The source'), ...errors() } }),
    async (c) => {
      requireSysadmin(c);
      const { db, sealer } = c.get('deps');
      return c.json(view(await getSourceConfig(db), sealer), 200);
    },
  );

  app.openapi(
    createRoute({
      method: 'put',
      path: '/api/source',
      tags: ['source'],
      security,
      summary: 'Choose builtin, sysaid or both; SysAid settings and password (write-only); schedules or removes the SysAid reads',
      request: jsonBody(SourceInput),
      responses: { 200: json(SourceView, 'Saved'), ...errors(400, 422, 503) },
    }),
    async (c) => {
      const p = requireSysadmin(c);
      const { db, sealer, fleet } = c.get('deps');
      const current = await getSourceConfig(db);
      const form = validate(c.req.valid('json'), secretsOf(current, sealer));
      const before = current.settings as Partial<SysaidSettings>;
      const after = form.settings as Partial<SysaidSettings>;
      const sameAs = (...keys: Array<keyof SysaidSettings>) => keys.every((k) => (before[k] ?? null) === (after[k] ?? null));
      // Another server, account or API: the saved session and where the change-driven read stands are not theirs.
      const newServer = !sameAs('baseUrl', 'accountId') || (before.apiVersion ?? 'classic') !== (after.apiVersion ?? 'classic');
      const newAccount = newServer || !sameAs('userName', 'clientId', 'passwordEncoding') || canonicalJson(secretsOf(current, sealer)) !== canonicalJson(form.secrets);
      // Corrected credentials after a refused login (or with this window's logins spent, e.g. by a Test click): read
      // at once, so the new ones are tried as soon as the login budget allows rather than at the next interval.
      const readNow = form.mode !== 'builtin' && newAccount && (current.loginRefused !== null || (await loginsSpent(db, form.settings as SysaidSettings)));
      await db
        .update(sourceConfig)
        .set({
          mode: form.mode,
          settings: form.settings,
          secrets: Object.keys(form.secrets).length ? sealer.seal(form.secrets) : null,
          version: sql`${sourceConfig.version} + 1`,
          updatedAt: new Date(),
          updatedBy: p.name,
          // A save is the go-ahead to log in again, and to look at SysAid's list filters afresh.
          loginRefused: null,
          loginRefusedAt: null,
          updateTimeFilter: null,
          filtersCheckedAt: null,
          ...(newAccount ? { session: null } : {}),
          ...(newServer ? { srHighWater: null, srInsertHighWater: null, adminsRefreshedAt: null, adminUserNames: null, existenceCheckedAt: null, existenceCursor: null, serverLimit: null, serverRemaining: null, serverResetAt: null } : {}),
        })
        .where(eq(sourceConfig.id, 1));
      await audit(db, p.name, 'source.save', 'source', { mode: form.mode, settingKeys: Object.keys(form.settings), newAccount, readNow });
      await fleet.applySourceSchedule({ readNow });
      return c.json(view(await getSourceConfig(db), sealer), 200);
    },
  );

  app.openapi(
    createRoute({
      method: 'post',
      path: '/api/source/test',
      tags: ['source'],
      security,
      summary: 'Log in to SysAid and read one page of admins, one service record and the list filters, on saved or unsaved values (1 login, 3 requests)',
      request: { body: { required: false, content: { 'application/json': { schema: SourceInput.partial() } } } },
      responses: { 200: json(z.object({ ok: z.boolean(), checks: z.array(z.object({ name: z.string(), ok: z.boolean(), detail: z.string() })) }), 'Each check with ok/detail'), ...errors(400, 422) },
    }),
    async (c) => {
      requireSysadmin(c);
      const { db, sealer } = c.get('deps');
      const current = await getSourceConfig(db);
      const body = (c.req.valid('json') ?? {}) as Partial<z.infer<typeof SourceInput>>;
      const form = validate({ mode: 'sysaid', settings: body.settings ?? current.settings, secrets: body.secrets ?? {} }, secretsOf(current, sealer));
      const settings = form.settings as SysaidSettings;
      // A test of the saved values logs in for the reader too (its session is kept, so the next read needs no login of
      // its own); a test of other values gets a session of its own. Its calls count in the shared budget either way.
      const saved = canonicalJson(settings) === canonicalJson(current.settings) && canonicalJson(form.secrets) === canonicalJson(secretsOf(current, sealer));
      const api = createSysaidApi({ db, sealer }, settings, form.secrets, { sharedSession: saved && current.mode !== 'builtin', retryRefused: true });
      const connect = settings.apiVersion === 'connect';
      const { checks, step } = checklist((err) => (isProviderError(err) ? err.message : `Unexpected error: ${(err as Error).message}`));
      const signedIn = connect ? `Got an access token for application key ${settings.clientId} (account ${settings.accountId}).` : `Logged in to ${settings.baseUrl} as ${settings.userName}.`;
      if (!(await step(connect ? 'access token' : 'login', signedIn, () => api.login()))) return c.json({ ok: false, checks }, 200);
      const admins = (list: unknown[]) => `Read the first page of the admin list: ${list.length} admin${list.length === 1 ? '' : 's'}${list.length >= settings.pageSize ? ', more on the next pages' : ''}.`;
      const oneSr = (page: Array<{ id: string }>) => (page.length ? `Read service record #${page[0]!.id}.` : 'There are no service records yet (the API user may list them).');
      if ((await step('admins', admins, () => api.admins({ firstPageOnly: true }))) && (await step('service records', oneSr, () => api.srPage({ archived: false }, 0, 1))) && !connect) {
        await step('filters', filtersDetail(settings), async () => (await api.filters())!);
      }
      return c.json({ ok: checks.every((k) => k.ok), checks }, 200);
    },
  );

  app.openapi(
    createRoute({
      method: 'post',
      path: '/api/source/read',
      tags: ['source'],
      security,
      summary: 'Read SysAid now (admins when due, changed service records) and wait for the result',
      responses: { 200: json(Loose, 'What the read found and wrote'), ...errors(409, 502, 503) },
    }),
    async (c) => {
      requireSysadmin(c);
      const { db, fleet } = c.get('deps');
      if ((await getSourceConfig(db)).mode === 'builtin') throw new ProblemError(409, 'SysAid is not a source (mode builtin): save the source with mode sysaid or both first.');
      try {
        return c.json({ ...(await fleet.readSysaidNow(120_000)) }, 200);
      } catch (err) {
        if (err instanceof WorkflowFailedError) throw new ProblemError(502, `The SysAid read failed: ${(err.cause as Error | undefined)?.message ?? err.message}`);
        throw err;
      }
    },
  );
  return app;
}
