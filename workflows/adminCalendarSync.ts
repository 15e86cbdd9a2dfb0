// The per-admin entity workflow: plan → (held deletes) → apply batches → record → wait, forever,
// continuing as new when the server suggests it. Deterministic code only; activities are imported as types.
import {
  ActivityFailure,
  ApplicationFailure,
  CancellationScope,
  condition,
  continueAsNew,
  isCancellation,
  patched,
  proxyActivities,
  proxyLocalActivities,
  setCurrentDetails,
  setHandler,
  upsertSearchAttributes,
  workflowInfo,
  allHandlersFinished,
} from '@temporalio/workflow';
import type { Activities } from '../activities';
import type { PlanSyncResult } from '../activities/plan';
import { zeroCounts, type RunCounts } from '../activities/sync/types';
import {
  approveDeletesSignal,
  configChangedSignal,
  pauseUpdate,
  resumeUpdate,
  retryFailedSignal,
  runNowUpdate,
  settingsChangedSignal,
  statusQuery,
  stopSignal,
  syncNowSignal,
  type PauseReason,
  type RunSummary,
  type SyncStateName,
  type SyncStatus,
} from './messages';
import { SA } from './searchAttributes';

// Failure types from activities/failures.ts (repeated as strings: workflow code must not import activity code).
const CREDENTIALS = 'ProviderCredentials';
const MAILBOX_NOT_FOUND = 'ProviderMailboxNotFound';
const ADMIN_NOT_FOUND = 'AdminNotFound';
const CONFIGURATION = 'IntegrationConfiguration';
const NON_RETRYABLE = [CREDENTIALS, MAILBOX_NOT_FOUND, 'ProviderItemRejected', ADMIN_NOT_FOUND, CONFIGURATION];

const db = proxyActivities<Activities>({
  startToCloseTimeout: '2 minutes',
  retry: { initialInterval: '2s', backoffCoefficient: 2, maximumInterval: '1 minute', maximumAttempts: 10, nonRetryableErrorTypes: NON_RETRYABLE },
});

const provider = proxyActivities<Activities>({
  startToCloseTimeout: '15 minutes',
  heartbeatTimeout: '15 seconds',
  retry: { initialInterval: '2s', backoffCoefficient: 2, maximumInterval: '5 minutes', maximumAttempts: 12, nonRetryableErrorTypes: NON_RETRYABLE },
  summary: 'apply batch',
});

/**
 * Recording a run's counts is a few statements: a local activity, run by the worker that finished the cycle,
 * recorded as a marker in the history. Saves an activity task round trip through the server and one
 * workflow task per cycle (6 history events), which is most of an idle cycle's cost.
 */
const local = proxyLocalActivities<Activities>({
  startToCloseTimeout: '1 minute',
  localRetryThreshold: '10 seconds',
  retry: { initialInterval: '2s', backoffCoefficient: 2, maximumInterval: '1 minute', maximumAttempts: 10, nonRetryableErrorTypes: NON_RETRYABLE },
});
/** Histories recorded before finishRun became local replay the activity; new ones take the local one. */
const FINISH_RUN_LOCAL = 'finish-run-local';

export interface Paused {
  reason: PauseReason;
  message: string | null;
}

/** Everything the entity carries across continue-as-new: plain JSON only. */
export interface CarriedState {
  paused: Paused | null;
  blocked: string | null;
  lastRun: RunSummary | null;
  totals: RunCounts & { runs: number };
  failedItems: number;
  heldDeletes: { runId: string; count: number } | null;
  provider: string | null;
  pendingSync: boolean;
  pendingRetryFailed: boolean;
  pendingApproval: string | null;
  stop: { removeEvents: boolean } | null;
  lastCycleEndedAt: number | null;
}

/**
 * About 13 idle cycles (an idle cycle adds ~15 events) per run of the workflow. Measured: a cached run
 * holds ~25 KB more per cycle until it continues as new, so 1,000 idle admins stay within ~250 MB above
 * their baseline; with 2,000 (~100 cycles) the same fleet grew ~25 MiB every cycle for the whole run.
 */
export const DEFAULT_MAX_HISTORY_EVENTS = 200;

export interface AdminSyncInput {
  adminId: string;
  intervalMs: number;
  /**
   * Continue as new once the history holds this many events (default DEFAULT_MAX_HISTORY_EVENTS), or
   * earlier when the server suggests it. Short histories keep a cached workflow's memory bounded (the
   * worker holds every event's state machine of the open run) and replays fast.
   */
  maxHistoryEvents?: number;
  /** Start paused (e.g. the integration is disabled when the admin opts in). */
  pausedAtStart?: Paused | null;
  carried?: CarriedState;
}

function initialState(input: AdminSyncInput): CarriedState {
  return {
    paused: input.pausedAtStart ?? null,
    blocked: null,
    lastRun: null,
    totals: { ...zeroCounts(), runs: 0 },
    failedItems: 0,
    heldDeletes: null,
    provider: null,
    pendingSync: true,
    pendingRetryFailed: false,
    pendingApproval: null,
    stop: null,
    lastCycleEndedAt: null,
  };
}

export async function adminCalendarSync(input: AdminSyncInput): Promise<void> {
  const { adminId, intervalMs } = input;
  const s: CarriedState = input.carried ?? initialState(input);
  let syncing = false;
  let cycleScope: CancellationScope | null = null;
  let completedCycles = 0;
  let cycleStartedSeq = 0;
  let publishedState: SyncStateName | null = null;
  let publishedProvider: string | null = null;

  const stateName = (): SyncStateName => {
    if (s.stop) return 'stopping';
    if (s.paused) return 'paused';
    if (s.blocked) return 'blocked';
    if (syncing) return 'syncing';
    if (s.heldDeletes) return 'needs-approval';
    return 'idle';
  };

  const status = (): SyncStatus => ({
    adminId,
    state: stateName(),
    pausedReason: s.paused?.reason ?? null,
    pausedMessage: s.paused?.message ?? null,
    blockedReason: s.blocked,
    lastRun: s.lastRun,
    nextRunAt:
      s.paused || s.blocked || s.stop
        ? null
        : new Date((s.lastCycleEndedAt ?? Date.now()) + (s.lastCycleEndedAt === null ? 0 : intervalMs)).toISOString(),
    totals: s.totals,
    failedItems: s.failedItems,
    heldDeletes: s.heldDeletes,
  });

  /** Search attributes and UI details follow every state change (only when something changed). */
  const publish = () => {
    const state = stateName();
    if (state !== publishedState || s.provider !== publishedProvider) {
      upsertSearchAttributes([
        { key: SA.state, value: state },
        ...(s.provider ? [{ key: SA.provider, value: s.provider }] : []),
      ]);
      publishedState = state;
      publishedProvider = s.provider;
    }
    const r = s.lastRun;
    setCurrentDetails(
      [
        `**State:** ${state}${s.paused ? ` (${s.paused.reason}${s.paused.message ? `: ${s.paused.message}` : ''})` : ''}${s.blocked ? ` (${s.blocked})` : ''}`,
        r
          ? `**Last run** ${r.finishedAt}: +${r.counts.created} created, ${r.counts.updated} updated, ${r.counts.deleted} deleted, ${r.counts.unchanged} unchanged, ${r.counts.failed} failed${r.counts.heldDeletes ? `, ${r.counts.heldDeletes} deletes held` : ''}${r.error ? ` — error: ${r.error}` : ''}`
          : '**Last run:** none yet',
        s.heldDeletes ? `**Needs approval:** ${s.heldDeletes.count} deletes held in run ${s.heldDeletes.runId}` : '',
        `**Failed items:** ${s.failedItems} · **Runs:** ${s.totals.runs}`,
      ]
        .filter(Boolean)
        .join('\n\n'),
    );
  };

  const pause = (reason: PauseReason, message: string | null) => {
    s.paused = { reason, message };
    cycleScope?.cancel();
    publish();
  };

  setHandler(syncNowSignal, () => {
    s.pendingSync = true;
  });
  setHandler(settingsChangedSignal, () => {
    s.pendingSync = true;
    if (s.blocked) s.blocked = null;
    publish();
  });
  setHandler(configChangedSignal, () => {
    s.pendingSync = true;
    s.blocked = null;
    // New integration settings may fix the credentials; a manual or integration-disabled pause stays.
    if (s.paused?.reason === 'credentials') s.paused = null;
    publish();
  });
  setHandler(retryFailedSignal, () => {
    s.pendingRetryFailed = true;
    s.pendingSync = true;
  });
  setHandler(approveDeletesSignal, ({ runId }) => {
    if (s.heldDeletes?.runId === runId) s.pendingApproval = runId;
  });
  setHandler(stopSignal, ({ removeEvents }) => {
    s.stop = { removeEvents: !!removeEvents };
    cycleScope?.cancel();
    publish();
  });
  setHandler(
    pauseUpdate,
    ({ reason, message }) => {
      pause(reason, message ?? null);
      return status();
    },
    {
      validator: ({ reason }) => {
        if (typeof reason !== 'string' || !reason.trim()) throw new Error('A pause reason is required.');
      },
    },
  );
  setHandler(
    resumeUpdate,
    () => {
      s.paused = null;
      s.blocked = null;
      s.pendingSync = true;
      publish();
      return status();
    },
    {
      validator: () => {
        if (s.stop) throw new Error('Sync is stopping; it cannot be resumed.');
      },
    },
  );
  setHandler(
    runNowUpdate,
    async () => {
      // A cycle already under way started before this request: wait for the one after it.
      const target = cycleStartedSeq + 1;
      s.pendingSync = true;
      await condition(() => completedCycles >= target || !!s.paused || !!s.stop);
      if (completedCycles < target) throw ApplicationFailure.create({ message: s.stop ? 'Sync is stopping.' : `Sync was paused: ${s.paused?.reason}.` });
      return s.lastRun!;
    },
    {
      validator: () => {
        if (s.stop) throw new Error('Sync is stopping.');
        if (s.paused) throw new Error(`Sync is paused (${s.paused.reason}${s.paused.message ? `: ${s.paused.message}` : ''}); resume it first.`);
        if (s.blocked) throw new Error(`Sync is blocked: ${s.blocked}`);
      },
    },
  );
  setHandler(statusQuery, status);

  const info = () => workflowInfo();
  const historyLimit = input.maxHistoryEvents ?? DEFAULT_MAX_HISTORY_EVENTS;
  // At least one cycle per run, so a limit below a run's opening events cannot loop on continue-as-new.
  const timeToContinue = () => info().continueAsNewSuggested || (completedCycles > 0 && info().historyLength >= historyLimit);

  /** One cycle: plan, apply, record. Never throws except for cancellation of the whole workflow. */
  async function runCycle(mode: 'sync' | 'remove-all', trigger: string): Promise<void> {
    syncing = true;
    cycleStartedSeq++;
    publish();
    const retryFailed = s.pendingRetryFailed;
    s.pendingRetryFailed = false;
    const startedAt = new Date().toISOString();
    let plan: PlanSyncResult | null = null;
    let error: string | null = null;
    cycleScope = new CancellationScope();
    try {
      await cycleScope.run(async () => {
        plan = await db.planSync({ adminId, trigger, mode, retryFailed, workflowId: info().workflowId, workflowRunId: info().runId });
        if (plan.status === 'integration-disabled') {
          pause('integration-disabled', 'The calendar integration is disabled.');
          return;
        }
        if (plan.status !== 'planned') return;
        s.provider = plan.provider;
        for (let b = 0; b < plan.batches; b++) await provider.applyBatch({ runId: plan.runId, batchNo: b });
      });
    } catch (err) {
      error = handleCycleError(err);
    } finally {
      cycleScope = null;
    }
    const planned = plan as PlanSyncResult | null;
    if (planned?.status === 'planned') {
      await recordRun(planned.runId, trigger, startedAt, error, planned.counts.held > 0);
    } else if (error) {
      s.lastRun = { runId: '', trigger, startedAt, finishedAt: new Date().toISOString(), counts: zeroCounts(), error };
    }
    syncing = false;
    completedCycles++;
    s.lastCycleEndedAt = Date.now();
    publish();
  }

  async function recordRun(runId: string, trigger: string, startedAt: string, error: string | null, held: boolean) {
    const finishRun = patched(FINISH_RUN_LOCAL) ? local.finishRun : db.finishRun;
    const counts = await CancellationScope.nonCancellable(() => finishRun({ runId, error }));
    s.lastRun = { runId, trigger, startedAt, finishedAt: new Date().toISOString(), counts, error };
    s.failedItems = counts.failedItems;
    s.totals = {
      created: s.totals.created + counts.created,
      updated: s.totals.updated + counts.updated,
      deleted: s.totals.deleted + counts.deleted,
      unchanged: counts.unchanged,
      failed: counts.failed,
      heldDeletes: counts.heldDeletes,
      runs: s.totals.runs + 1,
    };
    if (!error) s.heldDeletes = held ? { runId, count: counts.heldDeletes } : null;
  }

  /** Maps a failed cycle to the entity's state; returns the message recorded on the run. */
  function handleCycleError(err: unknown): string {
    if (isCancellation(err)) return s.stop ? 'Cancelled: sync is stopping.' : `Cancelled: sync was paused (${s.paused?.reason ?? 'manual'}).`;
    const cause = err instanceof ActivityFailure ? err.cause : err;
    const type = cause instanceof ApplicationFailure ? cause.type : null;
    const message = cause instanceof Error ? cause.message : String(cause);
    if (type === CREDENTIALS) pause('credentials', message);
    else if (type === MAILBOX_NOT_FOUND || type === ADMIN_NOT_FOUND || type === CONFIGURATION) s.blocked = message;
    return message;
  }

  async function approveHeld(runId: string) {
    s.pendingApproval = null;
    syncing = true;
    publish();
    let error: string | null = null;
    try {
      const released = await db.releaseHeldDeletes({ runId });
      for (let b = 0; b < released.batches; b++) await provider.applyBatch({ runId, batchNo: released.firstBatch + b });
    } catch (err) {
      error = handleCycleError(err);
    }
    const startedAt = s.lastRun?.startedAt ?? new Date().toISOString();
    await recordRun(runId, 'approve-deletes', startedAt, error, false);
    if (!error) s.heldDeletes = null;
    syncing = false;
    publish();
  }

  publish();
  while (!s.stop && !timeToContinue()) {
    if (s.paused || s.blocked) {
      await condition(() => (!s.paused && !s.blocked) || !!s.stop || timeToContinue());
      continue;
    }
    if (s.pendingApproval) {
      await approveHeld(s.pendingApproval);
      continue;
    }
    const wake = () => s.pendingSync || !!s.pendingApproval || !!s.stop || !!s.paused || timeToContinue();
    const woke = s.lastCycleEndedAt === null ? (await condition(wake), true) : await condition(wake, Math.max(1, s.lastCycleEndedAt + intervalMs - Date.now()), { summary: 'wait for the next sync' });
    if (s.stop || s.paused || timeToContinue() || s.pendingApproval) continue;
    const trigger = woke && s.pendingSync ? 'requested' : 'interval';
    s.pendingSync = false;
    await runCycle('sync', trigger);
  }

  await condition(allHandlersFinished);
  if (s.stop) {
    if (s.stop.removeEvents) await runCycle('remove-all', 'stop');
    return;
  }
  await continueAsNew<typeof adminCalendarSync>({ adminId, intervalMs, ...(input.maxHistoryEvents ? { maxHistoryEvents: input.maxHistoryEvents } : {}), carried: s });
}
