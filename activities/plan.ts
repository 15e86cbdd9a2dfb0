// Planning one sync cycle: read the source, diff against event_links, write the diff to plan_changes.
import { randomUUID } from 'node:crypto';
import { and, eq } from 'drizzle-orm';
import { ApplicationFailure } from '@temporalio/common';
import type { Db } from '../db/client';
import { insertRows } from '../db/bulk';
import { getIntegration, loadAdminSyncSettings } from '../db/repositories';
import { eventLinks, planChanges, syncRuns, type IntegrationRow } from '../db/schema';
import { FAILURE } from './failures';
import type { Mailbox, ManagedEvent } from './providers/types';
import type { ItemSource } from './sources/types';
import { deleteGuard, diffItems, isHeldByGuard, keysToLookUp, removeAllChanges, type GuardPolicy, type GuardVerdict } from './sync/diff';
import { syncWindow } from './sync/time';
import type { LinkState, PlannedChange, ProviderName, SyncWindow } from './sync/types';

export interface PlanDeps {
  db: Db;
  source: ItemSource;
  policy: GuardPolicy;
  batchSize: number;
  now?: () => Date;
  /** The admin's events as the calendar has them, for drift checks (absent: no drift check, e.g. previews). */
  listManaged?: (integration: IntegrationRow, mailbox: Mailbox, window: SyncWindow) => Promise<ManagedEvent[]>;
}

export interface PlanSyncInput {
  adminId: string;
  trigger: string;
  mode: 'sync' | 'remove-all';
  retryFailed: boolean;
  workflowId: string;
  workflowRunId: string;
}

export interface PlannedCounts {
  create: number;
  update: number;
  delete: number;
  unchanged: number;
  held: number;
  stillFailed: number;
}

export type PlanSyncResult =
  | { status: 'planned'; runId: string; provider: ProviderName; batches: number; counts: PlannedCounts; sourceItems: number; held: GuardVerdict['reason'] }
  | { status: 'integration-disabled' }
  | { status: 'sync-disabled' };

interface ComputedPlan {
  provider: ProviderName;
  window: SyncWindow;
  changes: PlannedChange[];
  unchanged: number;
  stillFailed: number;
  sourceItems: number;
  verdict: GuardVerdict;
  drift: { missing: number; edited: number };
}

type AdminSyncSettingsRow = NonNullable<Awaited<ReturnType<typeof loadAdminSyncSettings>>>;

/**
 * The diff for one admin, with nothing written: shared by planSync and the API's preview. A caller that has
 * just read the integration and the admin's settings passes them (`loaded`), which saves two queries.
 */
export async function computePlan(
  deps: PlanDeps,
  adminId: string,
  opts: { mode: 'sync' | 'remove-all'; retryFailed: boolean },
  loaded?: { integration: IntegrationRow; settings: AdminSyncSettingsRow },
): Promise<ComputedPlan | 'admin-not-found'> {
  const { db, source, policy } = deps;
  const settings = loaded?.settings ?? (await loadAdminSyncSettings(db, adminId));
  if (!settings) return 'admin-not-found';
  const integration = loaded?.integration ?? (await getIntegration(db));
  const provider = integration.protocol as ProviderName;
  const window = syncWindow((deps.now ?? (() => new Date()))(), settings.daysBack, settings.daysForward);
  const linkRows = await db
    .select()
    .from(eventLinks)
    .where(and(eq(eventLinks.adminId, adminId), eq(eventLinks.provider, provider)));
  const links: LinkState[] = linkRows.map((l) => ({
    itemKey: l.itemKey,
    contentHash: l.contentHash,
    state: l.state,
    remoteId: l.remoteId,
    remoteVersion: l.remoteVersion,
    itemStartsAt: l.itemStartsAt?.toISOString() ?? null,
  }));
  if (opts.mode === 'remove-all') {
    const changes = removeAllChanges(links);
    return { provider, window, changes, unchanged: 0, stillFailed: 0, sourceItems: 0, verdict: { hold: false, reason: null, vanished: 0 }, drift: { missing: 0, edited: 0 } };
  }
  // A failed read throws here: it never becomes an empty read, so it can never cause deletes.
  const windowItems = await source.listItems(adminId, window);
  const lookUp = keysToLookUp(links, new Set(windowItems.map((i) => i.key)), window);
  const movedItems = await source.getItems(adminId, lookUp);
  const managed = await managedEvents(deps, integration, settings, window);
  const repairDrift = integration.settings.driftPolicy !== 'leave';
  const diff = diffItems({ items: [...windowItems, ...movedItems], links, settings, window, retryFailed: opts.retryFailed, managed, repairDrift });
  const activeLinks = links.filter((l) => l.state !== 'removed').length;
  const verdict = deleteGuard(diff.changes, activeLinks, windowItems.length, policy);
  return { provider, window, changes: diff.changes, unchanged: diff.unchanged, stillFailed: diff.stillFailed, sourceItems: windowItems.length, verdict, drift: diff.drift };
}

/** This admin's events in the calendar (by our marker), as remote id → version; null when not checked. */
async function managedEvents(
  deps: PlanDeps,
  integration: IntegrationRow,
  settings: { adminId: string; email: string; timeZone: string },
  window: SyncWindow,
): Promise<Map<string, string | null> | null> {
  if (!deps.listManaged) return null;
  const prefix = `${integration.installationId}/${settings.adminId}/`;
  const events = await deps.listManaged(integration, { adminId: settings.adminId, email: settings.email, timeZone: settings.timeZone }, window);
  return new Map(events.filter((e) => e.marker.startsWith(prefix)).map((e) => [e.remoteId, e.remoteVersion]));
}

const countOps = (changes: PlannedChange[], held: (c: PlannedChange) => boolean) => {
  const counts = { create: 0, update: 0, delete: 0, held: 0 };
  for (const c of changes) {
    if (held(c)) counts.held++;
    else counts[c.op]++;
  }
  return counts;
};

export async function planSync(deps: PlanDeps, input: PlanSyncInput): Promise<PlanSyncResult> {
  const { db } = deps;
  const integration = await getIntegration(db);
  const settings = await loadAdminSyncSettings(db, input.adminId);
  if (!settings) {
    throw ApplicationFailure.create({ type: FAILURE.adminNotFound, message: `Admin ${input.adminId} no longer exists.`, nonRetryable: true });
  }
  if (input.mode === 'sync') {
    if (!integration.enabled) return { status: 'integration-disabled' };
    if (!settings.syncEnabled) return { status: 'sync-disabled' };
  }
  const plan = await computePlan(deps, input.adminId, input, { integration, settings });
  if (plan === 'admin-not-found') throw ApplicationFailure.create({ type: FAILURE.adminNotFound, message: `Admin ${input.adminId} no longer exists.`, nonRetryable: true });

  const held = (c: PlannedChange) => plan.verdict.hold && isHeldByGuard(c);
  const counts = countOps(plan.changes, held);
  const runId = randomUUID();
  let pendingSeq = 0;
  const rows = plan.changes.map((c, seq) => {
    const isHeld = held(c);
    const batchNo = isHeld ? null : Math.floor(pendingSeq++ / deps.batchSize);
    return {
      runId,
      seq,
      batchNo,
      itemKey: c.itemKey,
      op: c.op,
      reason: c.reason,
      state: isHeld ? ('held' as const) : ('pending' as const),
      event: c.event as Record<string, unknown> | null,
      contentHash: c.contentHash,
      itemStartsAt: c.itemStartsAt ? new Date(c.itemStartsAt) : null,
    };
  });
  const run = {
    id: runId,
    adminId: input.adminId,
    provider: plan.provider,
    trigger: input.trigger,
    mode: input.mode,
    unchanged: plan.unchanged,
    heldDeletes: counts.held,
    sourceItems: plan.sourceItems,
    driftMissing: plan.drift.missing,
    driftEdited: plan.drift.edited,
    workflowId: input.workflowId,
    workflowRunId: input.workflowRunId,
  };
  if (rows.length === 0) {
    // Nothing to apply (most cycles): one statement, no transaction around it.
    await db.insert(syncRuns).values(run);
  } else {
    await db.transaction(async (tx) => {
      await tx.insert(syncRuns).values(run);
      await insertRows(tx, planChanges, rows);
    });
  }
  return {
    status: 'planned',
    runId,
    provider: plan.provider,
    batches: Math.ceil(pendingSeq / deps.batchSize),
    counts: { ...counts, unchanged: plan.unchanged, stillFailed: plan.stillFailed },
    sourceItems: plan.sourceItems,
    held: plan.verdict.hold ? plan.verdict.reason : null,
  };
}

/** An operator approved the held deletes of a run: make them pending again, in fresh batches. */
export async function releaseHeldDeletes(deps: PlanDeps, input: { runId: string }): Promise<{ batches: number; released: number; firstBatch: number }> {
  const { db } = deps;
  const held = await db
    .select({ seq: planChanges.seq })
    .from(planChanges)
    .where(and(eq(planChanges.runId, input.runId), eq(planChanges.state, 'held')))
    .orderBy(planChanges.seq);
  const existing = await db.select({ batchNo: planChanges.batchNo }).from(planChanges).where(eq(planChanges.runId, input.runId));
  const firstBatch = existing.reduce((max, r) => Math.max(max, (r.batchNo ?? -1) + 1), 0);
  await db.transaction(async (tx) => {
    for (let i = 0; i < held.length; i++) {
      await tx
        .update(planChanges)
        .set({ state: 'pending', batchNo: firstBatch + Math.floor(i / deps.batchSize) })
        .where(and(eq(planChanges.runId, input.runId), eq(planChanges.seq, held[i]!.seq)));
    }
  });
  return { batches: Math.ceil(held.length / deps.batchSize), released: held.length, firstBatch };
}

export interface PreviewResult {
  window: SyncWindow;
  counts: { create: number; update: number; delete: number; unchanged: number; held: number };
  changes: Array<{ itemKey: string; op: 'create' | 'update' | 'delete'; reason: string; held: boolean; title: string | null }>;
}

/** The diff a sync would apply now, with nothing written and nothing sent. */
export async function previewSync(deps: PlanDeps, adminId: string): Promise<PreviewResult | null> {
  const plan = await computePlan(deps, adminId, { mode: 'sync', retryFailed: false });
  if (plan === 'admin-not-found') return null;
  const held = (c: PlannedChange) => plan.verdict.hold && isHeldByGuard(c);
  const counts = countOps(plan.changes, held);
  return {
    window: plan.window,
    counts: { create: counts.create, update: counts.update, delete: counts.delete, unchanged: plan.unchanged, held: counts.held },
    changes: plan.changes.map((c) => ({ itemKey: c.itemKey, op: c.op, reason: c.reason, held: held(c), title: c.event?.title ?? null })),
  };
}
