// Each admin's sync: status, run now, pause/resume, retry failed items, approve held deletes, runs, preview.
import { createRoute, OpenAPIHono, z } from '@hono/zod-openapi';
import { and, desc, eq, gt, lt } from 'drizzle-orm';
import { audit, getIntegration } from '../../db/repositories';
import { admins, eventLinks, syncRuns, type SyncRunRow } from '../../db/schema';
import { adminWorkflowId } from '../../workflows/ids';
import { requireAdminAccess } from '../auth';
import { AdminIdParam, errors, json, jsonBody, Loose, security } from '../openapi';
import { conflict, notFound } from '../problem';
import type { AppDeps, AppEnv } from '../types';

const Run = z
  .object({
    id: z.string(),
    trigger: z.string(),
    mode: z.string(),
    startedAt: z.string(),
    finishedAt: z.string().nullable(),
    created: z.number().int(),
    updated: z.number().int(),
    deleted: z.number().int(),
    unchanged: z.number().int(),
    failed: z.number().int(),
    heldDeletes: z.number().int(),
    sourceItems: z.number().int(),
    driftMissing: z.number().int(),
    driftEdited: z.number().int(),
    error: z.string().nullable(),
    workflowRunId: z.string().nullable(),
  })
  .openapi('SyncRun');

const SyncView = z
  .object({
    adminId: z.string(),
    workflowId: z.string(),
    running: z.boolean(),
    state: z.string().nullable(),
    pausedReason: z.string().nullable(),
    pausedMessage: z.string().nullable(),
    blockedReason: z.string().nullable(),
    nextRunAt: z.string().nullable(),
    lastRun: Run.nullable(),
    totals: Loose.nullable(),
    failedItems: z.array(z.object({ itemKey: z.string(), error: z.string().nullable() })),
    heldDeletes: z.object({ runId: z.string(), count: z.number().int() }).nullable(),
    /** Exported events someone deleted or edited in the calendar, found by the last run; repaired unless the policy is "leave". */
    drift: z.object({ missing: z.number().int(), edited: z.number().int(), policy: z.enum(['repair', 'leave']) }),
    temporalUiUrl: z.string().nullable(),
  })
  .openapi('SyncStatus');

const runView = (r: SyncRunRow) => ({
  id: r.id,
  trigger: r.trigger,
  mode: r.mode,
  startedAt: r.startedAt.toISOString(),
  finishedAt: r.finishedAt?.toISOString() ?? null,
  created: r.created,
  updated: r.updated,
  deleted: r.deleted,
  unchanged: r.unchanged,
  failed: r.failed,
  heldDeletes: r.heldDeletes,
  sourceItems: r.sourceItems,
  driftMissing: r.driftMissing,
  driftEdited: r.driftEdited,
  error: r.error,
  workflowRunId: r.workflowRunId,
});

async function requireAdmin(deps: AppDeps, adminId: string) {
  const [row] = await deps.db.select({ id: admins.id }).from(admins).where(eq(admins.id, adminId));
  if (!row) throw notFound(`No admin with id "${adminId}".`);
}

async function syncView(deps: AppDeps, adminId: string) {
  const integration = await getIntegration(deps.db);
  const [described, queried, [lastRun], failed] = await Promise.all([
    deps.fleet.describe(adminId),
    deps.fleet.status(adminId),
    deps.db.select().from(syncRuns).where(eq(syncRuns.adminId, adminId)).orderBy(desc(syncRuns.startedAt)).limit(1),
    deps.db
      .select({ itemKey: eventLinks.itemKey, error: eventLinks.lastError })
      .from(eventLinks)
      .where(and(eq(eventLinks.adminId, adminId), eq(eventLinks.provider, integration.protocol), eq(eventLinks.state, 'failed')))
      .orderBy(eventLinks.itemKey)
      .limit(200),
  ]);
  // A completed workflow still answers queries: only a running one has a current state.
  const running = described?.status === 'RUNNING';
  const status = running ? queried : null;
  return {
    adminId,
    workflowId: adminWorkflowId(adminId),
    running,
    state: status?.state ?? null,
    pausedReason: status?.pausedReason ?? null,
    pausedMessage: status?.pausedMessage ?? null,
    blockedReason: status?.blockedReason ?? null,
    nextRunAt: status?.nextRunAt ?? null,
    lastRun: lastRun ? runView(lastRun) : null,
    totals: status?.totals ?? null,
    failedItems: failed,
    heldDeletes: status?.heldDeletes ?? null,
    drift: { missing: lastRun?.driftMissing ?? 0, edited: lastRun?.driftEdited ?? 0, policy: integration.settings.driftPolicy === 'leave' ? ('leave' as const) : ('repair' as const) },
    temporalUiUrl: deps.fleet.uiLink(adminId),
  };
}

const RUN_NOW_TIMEOUT_MS = 60_000;

export function syncRoutes() {
  const app = new OpenAPIHono<AppEnv>();
  const base = '/api/admins/{adminId}/sync';

  app.openapi(
    createRoute({ method: 'get', path: base, tags: ['sync'], security, summary: 'State, last run, failed items, Temporal UI link', request: { params: AdminIdParam }, responses: { 200: json(SyncView, 'Sync status'), ...errors(400, 404, 503) } }),
    async (c) => {
      const { adminId } = c.req.valid('param');
      requireAdminAccess(c, adminId);
      const deps = c.get('deps');
      await requireAdmin(deps, adminId);
      return c.json(await syncView(deps, adminId), 200);
    },
  );

  app.openapi(
    createRoute({ method: 'post', path: `${base}/run`, tags: ['sync'], security, summary: 'Run a sync now and wait for it (up to 60 s)', request: { params: AdminIdParam }, responses: { 200: json(Loose, 'The run summary'), ...errors(400, 404, 409, 503) } }),
    async (c) => {
      const { adminId } = c.req.valid('param');
      const p = requireAdminAccess(c, adminId);
      const deps = c.get('deps');
      await requireAdmin(deps, adminId);
      await audit(deps.db, p.name, 'sync.run', adminId);
      return c.json({ ...(await deps.fleet.runNow(adminId, RUN_NOW_TIMEOUT_MS)) }, 200);
    },
  );

  app.openapi(
    createRoute({
      method: 'post',
      path: `${base}/pause`,
      tags: ['sync'],
      security,
      summary: 'Pause this admin’s sync (a cycle under way is cancelled)',
      request: { params: AdminIdParam, body: { required: false, content: { 'application/json': { schema: z.object({ message: z.string().max(500).optional() }).strict() } } } },
      responses: { 200: json(Loose, 'The new status'), ...errors(400, 404, 409, 503) },
    }),
    async (c) => {
      const { adminId } = c.req.valid('param');
      const p = requireAdminAccess(c, adminId);
      const deps = c.get('deps');
      await requireAdmin(deps, adminId);
      const body = c.req.valid('json') as { message?: string } | undefined;
      await audit(deps.db, p.name, 'sync.pause', adminId);
      return c.json({ ...(await deps.fleet.pause(adminId, 'manual', body?.message)) }, 200);
    },
  );

  app.openapi(
    createRoute({ method: 'post', path: `${base}/resume`, tags: ['sync'], security, summary: 'Resume (also clears a credentials pause or a block)', request: { params: AdminIdParam }, responses: { 200: json(Loose, 'The new status'), ...errors(400, 404, 409, 503) } }),
    async (c) => {
      const { adminId } = c.req.valid('param');
      const p = requireAdminAccess(c, adminId);
      const deps = c.get('deps');
      await requireAdmin(deps, adminId);
      const integration = await getIntegration(deps.db);
      if (!integration.enabled) throw conflict('The integration is disabled; a sysadmin must enable it first.');
      await audit(deps.db, p.name, 'sync.resume', adminId);
      return c.json({ ...(await deps.fleet.resume(adminId)) }, 200);
    },
  );

  app.openapi(
    createRoute({ method: 'post', path: `${base}/retry-failed`, tags: ['sync'], security, summary: 'Retry items the calendar rejected', request: { params: AdminIdParam }, responses: { 202: json(z.object({ accepted: z.literal(true) }), 'A sync with retries is queued'), ...errors(400, 404, 409, 503) } }),
    async (c) => {
      const { adminId } = c.req.valid('param');
      const p = requireAdminAccess(c, adminId);
      const deps = c.get('deps');
      await requireAdmin(deps, adminId);
      if (!(await deps.fleet.signal(adminId, 'retryFailed'))) throw conflict('Sync is not running for this admin. Enable sync for the admin (and the integration) first.');
      await audit(deps.db, p.name, 'sync.retry-failed', adminId);
      return c.json({ accepted: true as const }, 202);
    },
  );

  app.openapi(
    createRoute({
      method: 'post',
      path: `${base}/approve-deletes`,
      tags: ['sync'],
      security,
      summary: 'Apply the deletes held by the mass-deletion guard in a run',
      request: { params: AdminIdParam, ...jsonBody(z.object({ runId: z.string().uuid('runId must be the id of a sync run') }).strict()) },
      responses: { 202: json(z.object({ accepted: z.literal(true), runId: z.string(), heldDeletes: z.number().int() }), 'The deletes will be applied'), ...errors(400, 404, 409, 503) },
    }),
    async (c) => {
      const { adminId } = c.req.valid('param');
      const { runId } = c.req.valid('json');
      const p = requireAdminAccess(c, adminId);
      const deps = c.get('deps');
      await requireAdmin(deps, adminId);
      const [run] = await deps.db.select().from(syncRuns).where(and(eq(syncRuns.id, runId), eq(syncRuns.adminId, adminId)));
      if (!run) throw notFound(`No sync run ${runId} for this admin.`);
      if (run.heldDeletes === 0) throw conflict(`Run ${runId} holds no deletes.`);
      // Compared in SQL order, not through JS dates (timestamps carry microseconds).
      const [latestHeld] = await deps.db
        .select({ id: syncRuns.id })
        .from(syncRuns)
        .where(and(eq(syncRuns.adminId, adminId), gt(syncRuns.heldDeletes, 0)))
        .orderBy(desc(syncRuns.startedAt))
        .limit(1);
      if (latestHeld && latestHeld.id !== runId) throw conflict(`A newer run (${latestHeld.id}) holds deletes: review and approve that one instead.`);
      await deps.fleet.approveDeletes(adminId, runId);
      await audit(deps.db, p.name, 'sync.approve-deletes', adminId, { runId, heldDeletes: run.heldDeletes });
      return c.json({ accepted: true as const, runId, heldDeletes: run.heldDeletes }, 202);
    },
  );

  app.openapi(
    createRoute({
      method: 'get',
      path: '/api/admins/{adminId}/runs',
      tags: ['sync'],
      security,
      summary: 'Sync runs, newest first',
      request: {
        params: AdminIdParam,
        query: z.object({
          limit: z.coerce.number().int().min(1).max(200).default(20),
          before: z.iso.datetime({ message: 'before must be an ISO-8601 instant' }).optional(),
        }),
      },
      responses: { 200: json(z.object({ runs: z.array(Run) }), 'Runs'), ...errors(400, 404) },
    }),
    async (c) => {
      const { adminId } = c.req.valid('param');
      const { limit, before } = c.req.valid('query');
      requireAdminAccess(c, adminId);
      const deps = c.get('deps');
      await requireAdmin(deps, adminId);
      const rows = await deps.db
        .select()
        .from(syncRuns)
        .where(before ? and(eq(syncRuns.adminId, adminId), lt(syncRuns.startedAt, new Date(before))) : eq(syncRuns.adminId, adminId))
        .orderBy(desc(syncRuns.startedAt))
        .limit(limit);
      return c.json({ runs: rows.map(runView) }, 200);
    },
  );

  app.openapi(
    createRoute({ method: 'get', path: '/api/admins/{adminId}/preview', tags: ['sync'], security, summary: 'What a sync would do now; nothing is applied', request: { params: AdminIdParam }, responses: { 200: json(Loose, 'The diff'), ...errors(400, 404) } }),
    async (c) => {
      const { adminId } = c.req.valid('param');
      requireAdminAccess(c, adminId);
      const preview = await c.get('deps').preview(adminId);
      if (!preview) throw notFound(`No admin with id "${adminId}".`);
      return c.json({ ...preview }, 200);
    },
  );
  return app;
}
