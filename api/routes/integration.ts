// The global integration: protocol, settings, write-only secrets, test, enable/disable.
import { createRoute, OpenAPIHono, z } from '@hono/zod-openapi';
import { eq, sql } from 'drizzle-orm';
import { AVAILABLE_PROTOCOLS, createProvider, PROTOCOL_FORMS, ProtocolUnavailableError, RETIRED_PROTOCOLS } from '../../activities/providers';
import { isProviderError } from '../../activities/providers/errors';
import { PROVIDERS, type ProviderName } from '../../activities/sync/types';
import { audit, getIntegration, integrationSecrets } from '../../db/repositories';
import { integration, type IntegrationRow } from '../../db/schema';
import type { Sealer } from '../../db/seal';
import { requireSysadmin } from '../auth';
import { errors, json, jsonBody, Loose, security } from '../openapi';
import { unprocessable, zodErrors } from '../problem';
import { mergeSecrets, secretsView } from '../secrets';
import type { AppEnv } from '../types';

const SecretState = z.object({ set: z.literal(true), updatedAt: z.string().nullable(), fingerprint: z.string() });
const IntegrationView = z
  .object({
    protocol: z.string(),
    settings: Loose,
    secrets: z.record(z.string(), SecretState),
    enabled: z.boolean(),
    version: z.number().int(),
    installationId: z.string(),
    updatedAt: z.string(),
    updatedBy: z.string().nullable(),
    availableProtocols: z.array(z.string()),
  })
  .openapi('Integration');

const IntegrationInput = z
  .object({
    protocol: z.string().min(1, 'protocol is required').openapi({ example: 'ics' }),
    settings: Loose.default({}),
    /** A string sets a secret, null removes it; omitted secrets keep their saved values. */
    secrets: z.record(z.string(), z.string().min(1, 'a secret cannot be empty; send null to remove it').nullable()).default({}),
  })
  .openapi('IntegrationInput');

const TestResult = z.object({ ok: z.boolean(), checks: z.array(z.object({ name: z.string(), ok: z.boolean(), detail: z.string() })) }).openapi('ConnectionTest');

function view(row: IntegrationRow, sealer: Sealer) {
  const secrets = integrationSecrets(row, sealer);
  return {
    protocol: row.protocol,
    settings: row.settings,
    secrets: secretsView(secrets, sealer, row.secretsUpdatedAt),
    enabled: row.enabled,
    version: row.version,
    installationId: row.installationId,
    updatedAt: row.updatedAt.toISOString(),
    updatedBy: row.updatedBy,
    availableProtocols: AVAILABLE_PROTOCOLS,
  };
}

/** Validates protocol, settings and secret names for the chosen protocol; every message names its field. */
function validateForm(input: z.infer<typeof IntegrationInput>, savedSecrets: Record<string, string>) {
  const protocol = input.protocol.trim().toLowerCase();
  if (RETIRED_PROTOCOLS[protocol]) throw unprocessable(RETIRED_PROTOCOLS[protocol]!, [{ path: 'protocol', message: RETIRED_PROTOCOLS[protocol]! }]);
  if (!(PROVIDERS as readonly string[]).includes(protocol)) {
    const message = `Unknown protocol "${input.protocol}". Supported: ${AVAILABLE_PROTOCOLS.join(', ')}.`;
    throw unprocessable(message, [{ path: 'protocol', message }]);
  }
  const form = PROTOCOL_FORMS[protocol as ProviderName];
  if (!form || !AVAILABLE_PROTOCOLS.includes(protocol as ProviderName)) {
    const message = `Protocol "${protocol}" is not available in this version yet. Available: ${AVAILABLE_PROTOCOLS.join(', ')}.`;
    throw unprocessable(message, [{ path: 'protocol', message }]);
  }
  const settings = form.settings.safeParse(input.settings);
  if (!settings.success) throw unprocessable(`The ${protocol} settings are not valid.`, zodErrors(settings.error, 'settings'));
  const secrets = mergeSecrets(`Protocol ${protocol}`, form.secrets, savedSecrets, input.secrets);
  const problems = form.checkSecrets?.(settings.data, secrets) ?? [];
  if (problems.length) throw unprocessable(`The ${protocol} credentials are not usable: ${problems.map((p) => p.message).join('; ')}.`, problems);
  return { protocol: protocol as ProviderName, settings: settings.data, secrets };
}

export function integrationRoutes() {
  const app = new OpenAPIHono<AppEnv>();

  app.openapi(
    createRoute({ method: 'get', path: '/api/integration', tags: ['integration'], security, summary: 'The integration (secrets shown only as set/fingerprint)', responses: { 200: json(IntegrationView, 'The integration'), ...errors() } }),
    async (c) => {
      requireSysadmin(c);
      const { db, sealer } = c.get('deps');
      return c.json(view(await getIntegration(db), sealer), 200);
    },
  );

  app.openapi(
    createRoute({
      method: 'put',
      path: '/api/integration',
      tags: ['integration'],
      security,
      summary: 'Save protocol, settings and secrets; running workflows re-plan',
      request: jsonBody(IntegrationInput),
      responses: { 200: json(IntegrationView, 'Saved'), ...errors(400, 422, 503) },
    }),
    async (c) => {
      const p = requireSysadmin(c);
      const { db, sealer, fleet } = c.get('deps');
      const current = await getIntegration(db);
      const saved = integrationSecrets(current, sealer);
      const form = validateForm(c.req.valid('json'), saved);
      const secretsChanged = JSON.stringify(form.secrets) !== JSON.stringify(saved);
      await db
        .update(integration)
        .set({
          protocol: form.protocol,
          settings: form.settings,
          secrets: Object.keys(form.secrets).length ? sealer.seal(form.secrets) : null,
          ...(secretsChanged ? { secretsUpdatedAt: new Date() } : {}),
          version: sql`${integration.version} + 1`,
          updatedAt: new Date(),
          updatedBy: p.name,
        })
        .where(eq(integration.id, 1));
      await audit(db, p.name, 'integration.save', 'integration', { protocol: form.protocol, settingKeys: Object.keys(form.settings), secretsChanged });
      await fleet.broadcastConfigChanged();
      return c.json(view(await getIntegration(db), sealer), 200);
    },
  );

  app.openapi(
    createRoute({
      method: 'post',
      path: '/api/integration/test',
      tags: ['integration'],
      security,
      summary: 'Run the real connection checks, on saved or unsaved values',
      request: { body: { required: false, content: { 'application/json': { schema: IntegrationInput.partial() } } } },
      responses: { 200: json(TestResult, 'Each check with ok/detail'), ...errors(400, 422) },
    }),
    async (c) => {
      requireSysadmin(c);
      const { db, sealer } = c.get('deps');
      const current = await getIntegration(db);
      const body = (c.req.valid('json') ?? {}) as Partial<z.infer<typeof IntegrationInput>>;
      const form = validateForm(
        { protocol: body.protocol ?? current.protocol, settings: body.settings ?? current.settings, secrets: body.secrets ?? {} },
        integrationSecrets(current, sealer),
      );
      try {
        const provider = createProvider(form, { db, installationId: current.installationId });
        const email = typeof form.settings.syncUserEmail === 'string' ? form.settings.syncUserEmail : '';
        const checks = await provider.testConnection({ adminId: 'sync-user', email, timeZone: 'UTC' });
        return c.json({ ok: checks.every((k) => k.ok), checks }, 200);
      } catch (err) {
        if (err instanceof ProtocolUnavailableError) throw unprocessable(err.message);
        if (isProviderError(err)) return c.json({ ok: false, checks: [{ name: 'connection', ok: false, detail: err.message }] }, 200);
        throw err;
      }
    },
  );

  for (const enabled of [true, false]) {
    app.openapi(
      createRoute({
        method: 'post',
        path: enabled ? '/api/integration/enable' : '/api/integration/disable',
        tags: ['integration'],
        security,
        summary: enabled ? 'Enable: resume paused workflows and start missing ones' : 'Disable: pause every workflow',
        responses: { 200: json(z.object({ integration: IntegrationView, workflows: z.record(z.string(), z.number().int()) }), 'Done'), ...errors(503) },
      }),
      async (c) => {
        const p = requireSysadmin(c);
        const { db, sealer, fleet } = c.get('deps');
        await getIntegration(db);
        await db
          .update(integration)
          .set({ enabled, version: sql`${integration.version} + 1`, updatedAt: new Date(), updatedBy: p.name })
          .where(eq(integration.id, 1));
        await audit(db, p.name, enabled ? 'integration.enable' : 'integration.disable', 'integration');
        let workflows: Record<string, number>;
        if (enabled) {
          const r = await fleet.reconcile();
          workflows = { started: r.started.length, resumed: r.resumed.length, stopped: r.stopped.length };
        } else {
          workflows = { paused: (await fleet.pauseAll('integration-disabled', 'The calendar integration is disabled.')).length };
        }
        return c.json({ integration: view(await getIntegration(db), sealer), workflows }, 200);
      },
    );
  }
  return app;
}
