// Where items come from: the built-in store (items API), SysAid (read on a schedule), or both.
import { createRoute, OpenAPIHono, z } from '@hono/zod-openapi';
import { WorkflowFailedError } from '@temporalio/client';
import { eq, sql } from 'drizzle-orm';
import { checklist } from '../../activities/providers/connection';
import { isProviderError } from '../../activities/providers/errors';
import { createSysaidClient } from '../../activities/sources/sysaid/client';
import { SOURCE_MODES, SYSAID_SECRETS, sysaidSettingsSchema, type SysaidSettings } from '../../activities/sources/sysaid/settings';
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
      budget: z.object({ windowStartedAt: z.string().nullable(), requestsUsed: z.number().int(), loginsUsed: z.number().int() }),
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
      budget: { windowStartedAt: iso(row.budgetWindowStart), requestsUsed: row.budgetUsed, loginsUsed: row.loginsUsed },
    },
  };
}

/** Mode, SysAid settings and secret names, checked together; every message names its field. */
function validate(input: z.infer<typeof SourceInput>, saved: Record<string, string>): { mode: SourceConfigRow['mode']; settings: Record<string, unknown>; secrets: Record<string, string> } {
  const secrets = mergeSecrets('The source', SYSAID_SECRETS, saved, input.secrets);
  if (input.mode === 'builtin' && Object.keys(input.settings).length === 0) return { mode: 'builtin', settings: {}, secrets };
  const parsed = sysaidSettingsSchema.safeParse(input.settings);
  if (!parsed.success) throw unprocessable('The SysAid settings are not valid.', zodErrors(parsed.error, 'settings'));
  if (input.mode !== 'builtin' && !secrets.password) throw unprocessable('Reading SysAid needs the API user’s password.', [{ path: 'secrets.password', message: 'the SysAid API user’s password is required' }]);
  return { mode: input.mode, settings: parsed.data, secrets };
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
      // Another server, account or password: the saved session (and where the change-driven read stands) are not theirs.
      const newAccount = before.baseUrl !== after.baseUrl || before.accountId !== after.accountId || before.userName !== after.userName || secretsOf(current, sealer).password !== form.secrets.password;
      const newServer = before.baseUrl !== after.baseUrl || before.accountId !== after.accountId;
      await db
        .update(sourceConfig)
        .set({
          mode: form.mode,
          settings: form.settings,
          secrets: Object.keys(form.secrets).length ? sealer.seal(form.secrets) : null,
          version: sql`${sourceConfig.version} + 1`,
          updatedAt: new Date(),
          updatedBy: p.name,
          ...(newAccount ? { session: null } : {}),
          ...(newServer ? { srHighWater: null, adminsRefreshedAt: null } : {}),
        })
        .where(eq(sourceConfig.id, 1));
      await audit(db, p.name, 'source.save', 'source', { mode: form.mode, settingKeys: Object.keys(form.settings), newAccount });
      await fleet.applySourceSchedule();
      return c.json(view(await getSourceConfig(db), sealer), 200);
    },
  );

  app.openapi(
    createRoute({
      method: 'post',
      path: '/api/source/test',
      tags: ['source'],
      security,
      summary: 'Log in to SysAid and read one admin and one service record, on saved or unsaved values',
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
      // Its own session (a test of other values must not replace the saved one); its requests count in the shared budget.
      const client = createSysaidClient({ db, sealer }, { ...settings, pageSize: 10 }, form.secrets, { sharedSession: false });
      const { checks, step } = checklist((err) => (isProviderError(err) ? err.message : `Unexpected error: ${(err as Error).message}`));
      if (await step('login', `Logged in to ${settings.baseUrl} as ${settings.userName}.`, () => client.login())) {
        const admins = () => client.listAll('/users', { type: 'admin', fields: 'email_address' });
        if (await step('admins', (list) => `Read the admin list (${list.length} admins).`, admins)) {
          const recent = () => client.listAll('/sr', { type: 'all', fields: 'due_date', update_time: `${Date.now() - 86_400_000},0` });
          await step('service records', (page) => `Read service records (${page.length} changed in the last 24 hours).`, recent);
        }
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
