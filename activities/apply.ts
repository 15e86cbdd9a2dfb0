// Applying one batch of a plan to the provider. Every provider call is idempotent: an intent that must
// survive a crash (a delete about to happen) is written before the call; outcomes are written behind it in
// groups (LINK_FLUSH_ROWS rows or LINK_FLUSH_MS), so a retry after a crash repeats at most one group's
// calls, which the provider answers with the same event.
import { and, eq, inArray, sql } from 'drizzle-orm';
import { insertRows } from '../db/bulk';
import type { Db } from '../db/client';
import { getIntegration } from '../db/repositories';
import { admins, eventLinks, planChanges, syncRuns, type EventLinkRow, type IntegrationRow, type PlanChangeRow } from '../db/schema';
import { ownershipMarker } from './sync/items';
import type { ExportedEvent, ProviderName, RunCounts } from './sync/types';
import { isProviderError } from './providers/errors';
import type { CalendarProvider, Mailbox, RemoteRef } from './providers/types';
import { configurationFailure, rethrowAsFailure } from './failures';

export interface ApplyDeps {
  db: Db;
  /** The provider for a protocol; `integration` is the row the caller has just read (saves reading it again). */
  provider: (protocol: ProviderName, integration?: IntegrationRow) => Promise<CalendarProvider>;
  heartbeat: (details: unknown) => void;
  /** Aborted when Temporal cancels the activity (pause, stop). */
  signal?: AbortSignal;
}

export interface ApplyBatchInput {
  runId: string;
  batchNo: number;
}

export type BatchCounts = Pick<RunCounts, 'created' | 'updated' | 'deleted' | 'failed'>;

export async function applyBatch(deps: ApplyDeps, input: ApplyBatchInput): Promise<BatchCounts> {
  const { db } = deps;
  const [found] = await db.select({ run: syncRuns, admin: admins }).from(syncRuns).leftJoin(admins, eq(admins.id, syncRuns.adminId)).where(eq(syncRuns.id, input.runId));
  if (!found) throw configurationFailure(`Sync run ${input.runId} does not exist.`);
  const { run, admin } = found;
  if (!admin) throw configurationFailure(`Admin ${run.adminId} no longer exists.`);
  const integration = await getIntegration(db);
  const provider = await deps.provider(run.provider as ProviderName, integration);
  const mailbox: Mailbox = { adminId: admin.id, email: admin.email, timeZone: admin.timeZone };

  // What is still pending; below, changes an earlier attempt already applied are skipped too.
  const changes = await db
    .select()
    .from(planChanges)
    .where(and(eq(planChanges.runId, input.runId), eq(planChanges.batchNo, input.batchNo), eq(planChanges.state, 'pending')))
    .orderBy(planChanges.seq);
  const linkRows = changes.length
    ? await db
        .select()
        .from(eventLinks)
        .where(
          and(
            eq(eventLinks.adminId, run.adminId),
            eq(eventLinks.provider, run.provider),
            inArray(
              eventLinks.itemKey,
              changes.map((c) => c.itemKey),
            ),
          ),
        )
    : [];
  const links = new Map(linkRows.map((l) => [l.itemKey, l]));
  const outcomes = linkWriter(db, links, { adminId: run.adminId, provider: run.provider, runId: run.id });
  const counts: BatchCounts = { created: 0, updated: 0, deleted: 0, failed: 0 };
  let done = 0;
  let lastBeat = 0;
  // An earlier attempt of this activity already applied these (its link carries this run's id).
  const todo = changes.filter((c) => !appliedInRun(c, links.get(c.itemKey)));

  const applyOne = async (change: PlanChangeRow) => {
    const ctx: ChangeContext = { db, provider, mailbox, runProvider: run.provider, installationId: integration.installationId, adminId: run.adminId, runId: run.id, outcomes };
    try {
      const outcome = await applyChange(ctx, change, links.get(change.itemKey));
      counts[outcome]++;
    } catch (err) {
      if (isProviderError(err) && err.kind === 'item-rejected') {
        await recordItemFailure(ctx, change, links.get(change.itemKey), err.message);
        counts.failed++;
        return;
      }
      throw err;
    } finally {
      done++;
      // Progress at most once a second: each heartbeat is encoded and handed to the SDK (a per-change cost in
      // the profile), which sends one per 80 % of the heartbeat timeout anyway.
      if (Date.now() - lastBeat >= HEARTBEAT_EVERY_MS || done === todo.length) {
        lastBeat = Date.now();
        deps.heartbeat({ done, total: changes.length });
      }
    }
  };

  try {
    await runPool(todo, provider.mailboxConcurrency, applyOne, deps.signal);
  } catch (err) {
    // Keep what succeeded before the failure; if that write fails too, the failure that stopped the batch is the one to report.
    await outcomes.flush().catch(() => undefined);
    rethrowAsFailure(err);
  }
  await outcomes.flush();
  // One write for the whole batch: the links flushed above made each change durable.
  await db
    .update(planChanges)
    .set({ state: 'done' })
    .where(and(eq(planChanges.runId, input.runId), eq(planChanges.batchNo, input.batchNo), eq(planChanges.state, 'pending')));
  return counts;
}

function appliedInRun(change: PlanChangeRow, link: EventLinkRow | undefined): boolean {
  if (!link || link.lastRunId !== change.runId) return false;
  return change.op === 'delete' ? link.state === 'removed' : link.state === 'synced';
}

interface ChangeContext {
  db: Db;
  provider: CalendarProvider;
  mailbox: Mailbox;
  runProvider: string;
  installationId: string;
  adminId: string;
  runId: string;
  outcomes: LinkWriter;
}

async function applyChange(ctx: ChangeContext, change: PlanChangeRow, link: EventLinkRow | undefined): Promise<'created' | 'updated' | 'deleted'> {
  const { provider, mailbox } = ctx;
  const marker = ownershipMarker(ctx.installationId, ctx.adminId, change.itemKey);
  const event = change.event as unknown as ExportedEvent;
  if (change.op === 'delete') {
    if (link?.remoteId) {
      await writeLink(ctx, change.itemKey, { state: 'removing' });
      await provider.delete(mailbox, { marker, generation: link.generation }, { remoteId: link.remoteId, remoteVersion: link.remoteVersion });
    }
    await ctx.outcomes.put(change.itemKey, { state: 'removed', remoteId: null, remoteVersion: null, lastError: null, syncedAt: new Date() });
    return 'deleted';
  }
  if (change.op === 'update' && link?.remoteId) {
    const ref: RemoteRef = { remoteId: link.remoteId, remoteVersion: link.remoteVersion };
    const updated = await provider.update(mailbox, { marker, generation: link.generation }, ref, event);
    if (updated !== 'gone') {
      await writeSynced(ctx, change, updated, link.generation);
      return 'updated';
    }
    // Deleted in the calendar by someone else: re-create under a fresh generation (Google keeps old ids reserved).
    const generation = link.generation + 1;
    const created = await provider.create(mailbox, { marker, generation }, event);
    await writeSynced(ctx, change, created, created.generation ?? generation);
    return 'updated';
  }
  // Create (or an update whose earlier create never succeeded). A re-create after removal needs a new generation.
  const generation = !link ? 1 : link.state === 'removed' ? link.generation + 1 : link.generation;
  const created = await provider.create(mailbox, { marker, generation }, event);
  await writeSynced(ctx, change, created, created.generation ?? generation);
  return 'created';
}

async function writeSynced(ctx: ChangeContext, change: PlanChangeRow, ref: RemoteRef, generation: number) {
  await ctx.outcomes.put(change.itemKey, {
    state: 'synced',
    remoteId: ref.remoteId,
    remoteVersion: ref.remoteVersion,
    contentHash: change.contentHash,
    generation,
    itemStartsAt: change.itemStartsAt,
    lastError: null,
    syncedAt: new Date(),
  });
}

const HEARTBEAT_EVERY_MS = 1_000;

/** How many outcome writes are grouped into one statement, and how old the oldest may get before it is written. */
export const LINK_FLUSH_ROWS = 100;
export const LINK_FLUSH_MS = 5_000;

type LinkInsert = typeof eventLinks.$inferInsert;
type LinkWriter = ReturnType<typeof linkWriter>;

const LINK_KEY = [eventLinks.adminId, eventLinks.provider, eventLinks.itemKey];

/**
 * Buffers outcome writes of one batch: one multi-row upsert per group instead of one statement per event
 * (the per-event statement was most of a batch's own CPU time). Rows are merged with the link as loaded at
 * the start of the batch (a batch changes each item once), so each row is complete. Only outcomes go
 * through here: losing a group in a crash repeats idempotent provider calls, never skips one.
 */
function linkWriter(db: Db, known: ReadonlyMap<string, EventLinkRow>, batch: { adminId: string; provider: string; runId: string }) {
  let pending = new Map<string, LinkInsert>();
  let oldest = 0;
  async function flush() {
    if (!pending.size) return;
    const rows = [...pending.values()];
    pending = new Map();
    // On conflict every other column takes the new row's value: rows are complete (merged with the known link).
    await insertRows(db, eventLinks, rows, { upsertOn: LINK_KEY });
  }
  return {
    async put(itemKey: string, values: Partial<LinkInsert>) {
      const row: LinkInsert = {
        generation: 1,
        remoteId: null,
        remoteVersion: null,
        contentHash: null,
        lastError: null,
        itemStartsAt: null,
        syncedAt: null,
        ...known.get(itemKey),
        ...values,
        adminId: batch.adminId,
        provider: batch.provider,
        itemKey,
        state: values.state ?? known.get(itemKey)?.state ?? 'synced',
        lastRunId: batch.runId,
      };
      if (!pending.size) oldest = Date.now();
      pending.set(itemKey, row);
      if (pending.size >= LINK_FLUSH_ROWS || Date.now() - oldest >= LINK_FLUSH_MS) await flush();
    },
    flush,
  };
}

async function writeLink(ctx: ChangeContext, itemKey: string, values: Partial<typeof eventLinks.$inferInsert>) {
  await ctx.db
    .insert(eventLinks)
    .values({ adminId: ctx.adminId, provider: ctx.runProvider, itemKey, state: 'synced', ...values, lastRunId: ctx.runId })
    .onConflictDoUpdate({ target: [eventLinks.adminId, eventLinks.provider, eventLinks.itemKey], set: { ...values, lastRunId: ctx.runId } });
}

/** The provider refused this one event: record why, keep going with the others. */
async function recordItemFailure(ctx: ChangeContext, change: PlanChangeRow, link: EventLinkRow | undefined, message: string) {
  if (change.op === 'delete') {
    await writeLink(ctx, change.itemKey, { state: 'failed', lastError: message });
  } else {
    await writeLink(ctx, change.itemKey, {
      state: 'failed',
      lastError: message,
      // Keep the remote id of an existing event; a failed first create has none.
      remoteId: link?.state === 'removed' ? null : (link?.remoteId ?? null),
      generation: link ? (link.state === 'removed' ? link.generation + 1 : link.generation) : 1,
      contentHash: change.contentHash,
      itemStartsAt: change.itemStartsAt,
    });
  }
  await markChange(ctx.db, change, 'failed', message);
}

async function markChange(db: Db, change: PlanChangeRow, state: 'failed', error: string | null) {
  await db
    .update(planChanges)
    .set({ state, error })
    .where(and(eq(planChanges.runId, change.runId), eq(planChanges.seq, change.seq)));
}

/**
 * Runs `fn` over `items` with at most `limit` in flight (the provider's per-mailbox cap). On the first
 * failure no new work starts; in-flight work finishes, then the failure is thrown.
 */
export async function runPool<T>(items: T[], limit: number, fn: (item: T) => Promise<void>, signal?: AbortSignal): Promise<void> {
  let next = 0;
  let failure: unknown = null;
  const lane = async () => {
    while (failure === null && next < items.length) {
      if (signal?.aborted) {
        failure ??= signal.reason ?? new Error('cancelled');
        return;
      }
      const item = items[next++]!;
      try {
        await fn(item);
      } catch (err) {
        failure ??= err;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, lane));
  if (failure !== null) throw failure;
}

export interface FinishRunInput {
  runId: string;
  error: string | null;
}

/** Records the run's final counts (from plan_changes, so retries never double-count) and returns them. */
export async function finishRun(deps: { db: Db }, input: FinishRunInput): Promise<RunCounts & { failedItems: number }> {
  const { db } = deps;
  const rows = await db
    .select({ op: planChanges.op, state: planChanges.state, n: sql<number>`count(*)::int` })
    .from(planChanges)
    .where(eq(planChanges.runId, input.runId))
    .groupBy(planChanges.op, planChanges.state);
  const n = (op: string, state: string) => rows.filter((r) => r.op === op && r.state === state).reduce((s, r) => s + Number(r.n), 0);
  const created = n('create', 'done');
  const updated = n('update', 'done');
  const deleted = n('delete', 'done');
  const failed = rows.filter((r) => r.state === 'failed').reduce((s, r) => s + Number(r.n), 0);
  const heldDeletes = n('delete', 'held');
  // One statement records the counts and returns what the rest needs (the run's admin, provider, unchanged).
  const [run] = await db
    .update(syncRuns)
    .set({ created, updated, deleted, failed, heldDeletes, finishedAt: new Date(), error: input.error })
    .where(eq(syncRuns.id, input.runId))
    .returning({ adminId: syncRuns.adminId, provider: syncRuns.provider, unchanged: syncRuns.unchanged });
  if (!run) throw configurationFailure(`Sync run ${input.runId} does not exist.`);
  const counts: RunCounts = { created, updated, deleted, unchanged: run.unchanged, failed, heldDeletes };
  const [failedItems] = await db
    .select({ n: sql<number>`count(*)::int` })
    .from(eventLinks)
    .where(and(eq(eventLinks.adminId, run.adminId), eq(eventLinks.provider, run.provider), eq(eventLinks.state, 'failed')));
  return { ...counts, failedItems: Number(failedItems?.n ?? 0) };
}
