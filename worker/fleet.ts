// Fleet control: the one module that starts, signals, updates and queries admin workflows.
// Used by the API (toggles) and by the reconcile activity (make Temporal match the DB).
import {
  type Client,
  WorkflowNotFoundError,
  WorkflowUpdateFailedError,
  WorkflowUpdateRPCTimeoutOrCancelledError,
} from '@temporalio/client';
import { TypedSearchAttributes } from '@temporalio/common';
import type { Logger } from 'pino';
import type { SysaidReadResult } from '../activities/sources/sysaid/read';
import { getIntegration, getSourceConfig, listSyncEnabledAdminIds } from '../db/repositories';
import type { Db } from '../db/client';
import { adminIdFromWorkflowId, adminWorkflowId, sysaidScheduleId } from '../workflows/ids';
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
  type SyncStatus,
} from '../workflows/messages';
import { SA } from '../workflows/searchAttributes';
import type { AdminSyncInput } from '../workflows/adminCalendarSync';
import { ensureSysaidSchedule, removeSysaidSchedule, triggerSysaidRead } from './schedule';

/** Temporal did not answer in time, or no worker is polling: the API answers 503. */
export class FleetUnavailableError extends Error {
  override name = 'FleetUnavailableError';
}
/** The admin has no running sync workflow: the API answers 409. */
export class NotRunningError extends Error {
  override name = 'NotRunningError';
}
/** The workflow rejected the request (validator or handler): the API answers 409 with its message. */
export class RequestRejectedError extends Error {
  override name = 'RequestRejectedError';
}

export interface FleetOptions {
  client: Client;
  db: Db;
  taskQueue: string;
  intervalMs: number;
  /** See AdminSyncInput.maxHistoryEvents; unset = the workflow's default. */
  maxHistoryEvents?: number;
  namespace: string;
  temporalUiUrl?: string;
  logger?: Logger;
  /** Bound on updates/queries that need a polling worker. */
  callTimeoutMs?: number;
}

export type SimpleSignal = 'syncNow' | 'settingsChanged' | 'configChanged' | 'retryFailed';
const SIGNALS = {
  syncNow: syncNowSignal,
  settingsChanged: settingsChangedSignal,
  configChanged: configChangedSignal,
  retryFailed: retryFailedSignal,
} as const;

export interface ReconcileResult {
  started: string[];
  stopped: string[];
  paused: string[];
  resumed: string[];
}

export type SyncFleet = ReturnType<typeof createFleet>;

export function createFleet(opts: FleetOptions) {
  const { client, db, taskQueue, intervalMs } = opts;
  const callTimeoutMs = opts.callTimeoutMs ?? 10_000;

  const handle = (adminId: string) => client.workflow.getHandle(adminWorkflowId(adminId));

  async function bounded<T>(what: string, fn: () => Promise<T>, timeoutMs = callTimeoutMs): Promise<T> {
    try {
      return await client.withDeadline(Date.now() + timeoutMs, fn);
    } catch (err) {
      if (err instanceof WorkflowNotFoundError) throw new NotRunningError('Sync is not running for this admin.');
      if (err instanceof WorkflowUpdateFailedError) {
        const cause = err.cause as Error | undefined;
        throw new RequestRejectedError(cause?.message ?? err.message);
      }
      if (err instanceof WorkflowUpdateRPCTimeoutOrCancelledError || isDeadline(err)) {
        throw new FleetUnavailableError(`${what} did not complete within ${Math.round(timeoutMs / 1000)} s: is a worker running? It may still be applied; check the sync status again.`);
      }
      if (isNotRunning(err)) throw new NotRunningError('Sync is not running for this admin.');
      throw err;
    }
  }

  async function isRunning(adminId: string): Promise<boolean> {
    try {
      const d = await bounded('describe', () => handle(adminId).describe());
      return d.status.name === 'RUNNING';
    } catch (err) {
      if (err instanceof NotRunningError) return false;
      throw err;
    }
  }

  async function ensureStarted(adminId: string, start: { paused?: { reason: PauseReason; message: string } } = {}) {
    const input: AdminSyncInput = { adminId, intervalMs, pausedAtStart: start.paused ?? null, ...(opts.maxHistoryEvents ? { maxHistoryEvents: opts.maxHistoryEvents } : {}) };
    await bounded('start', () =>
      client.workflow.start('adminCalendarSync', {
        workflowId: adminWorkflowId(adminId),
        taskQueue,
        args: [input],
        workflowIdConflictPolicy: 'USE_EXISTING',
        typedSearchAttributes: new TypedSearchAttributes([
          { key: SA.adminId, value: adminId },
          { key: SA.state, value: start.paused ? 'paused' : 'idle' },
        ]),
        staticSummary: `Calendar sync for admin ${adminId}`,
      }),
    );
  }

  async function signal(adminId: string, name: SimpleSignal): Promise<boolean> {
    try {
      await bounded(name, () => handle(adminId).signal(SIGNALS[name]));
      return true;
    } catch (err) {
      if (err instanceof NotRunningError) return false;
      throw err;
    }
  }

  async function stop(adminId: string, removeEvents: boolean): Promise<boolean> {
    try {
      await bounded('stop', () => handle(adminId).signal(stopSignal, { removeEvents }));
      return true;
    } catch (err) {
      if (err instanceof NotRunningError) return false;
      throw err;
    }
  }

  const approveDeletes = (adminId: string, runId: string) =>
    bounded('approve deletes', () => handle(adminId).signal(approveDeletesSignal, { runId }));

  const pause = (adminId: string, reason: PauseReason, message?: string): Promise<SyncStatus> =>
    bounded('pause', () => handle(adminId).executeUpdate(pauseUpdate, { args: [{ reason, message }] }));

  const resume = (adminId: string): Promise<SyncStatus> =>
    bounded('resume', () => handle(adminId).executeUpdate(resumeUpdate, { args: [] }));

  const runNow = (adminId: string, timeoutMs: number): Promise<RunSummary> =>
    bounded('run now', () => handle(adminId).executeUpdate(runNowUpdate, { args: [] }), timeoutMs);

  async function status(adminId: string): Promise<SyncStatus | null> {
    try {
      return await bounded('status', () => handle(adminId).query(statusQuery));
    } catch (err) {
      if (err instanceof NotRunningError) return null;
      throw err;
    }
  }

  async function describe(adminId: string) {
    try {
      const d = await bounded('describe', () => handle(adminId).describe());
      return { workflowId: d.workflowId, runId: d.runId, status: d.status.name };
    } catch (err) {
      if (err instanceof NotRunningError) return null;
      throw err;
    }
  }

  function uiLink(adminId: string): string | null {
    if (!opts.temporalUiUrl) return null;
    const base = opts.temporalUiUrl.replace(/\/$/, '');
    return `${base}/namespaces/${encodeURIComponent(opts.namespace)}/workflows/${encodeURIComponent(adminWorkflowId(adminId))}`;
  }

  async function runningAdminIds(): Promise<string[]> {
    const ids: string[] = [];
    for await (const wf of client.workflow.list({
      // Scoped by task queue: one namespace may host several installations (and test suites).
      query: `WorkflowType='adminCalendarSync' AND ExecutionStatus='Running' AND TaskQueue='${taskQueue}'`,
    })) {
      const adminId = adminIdFromWorkflowId(wf.workflowId);
      if (adminId) ids.push(adminId);
    }
    return ids;
  }

  /** Make Temporal match the DB: enabled admins under an enabled integration run; nobody else does. */
  async function reconcile(): Promise<ReconcileResult> {
    const result: ReconcileResult = { started: [], stopped: [], paused: [], resumed: [] };
    const integration = await getIntegration(db);
    const wanted = new Set(await listSyncEnabledAdminIds(db));
    const running = new Set(await runningAdminIds());
    for (const adminId of running) {
      if (!wanted.has(adminId)) {
        if (await stop(adminId, false)) result.stopped.push(adminId);
      }
    }
    for (const adminId of wanted) {
      if (!integration.enabled) {
        if (running.has(adminId)) {
          const s = await status(adminId);
          if (s && s.pausedReason !== 'integration-disabled') {
            await pause(adminId, 'integration-disabled', 'The calendar integration is disabled.');
            result.paused.push(adminId);
          }
        }
        continue;
      }
      if (!running.has(adminId)) {
        await ensureStarted(adminId);
        result.started.push(adminId);
      } else {
        const s = await status(adminId);
        if (s?.pausedReason === 'integration-disabled') {
          await resume(adminId);
          result.resumed.push(adminId);
        }
      }
    }
    opts.logger?.info({ ...countsOf(result) }, 'reconciled admin workflows');
    return result;
  }

  /** Global disable: pause every running workflow; they keep their state and resume on enable. */
  async function pauseAll(reason: PauseReason, message: string) {
    const paused: string[] = [];
    for (const adminId of await runningAdminIds()) {
      try {
        await pause(adminId, reason, message);
        paused.push(adminId);
      } catch (err) {
        if (!(err instanceof NotRunningError)) throw err;
      }
    }
    return paused;
  }

  /**
   * Creates, updates or removes the SysAid read schedule to match the saved source configuration; `readNow` also
   * starts a read at once (corrected credentials: its login waits for the login budget, not for the interval).
   */
  async function applySourceSchedule(opts: { readNow?: boolean } = {}): Promise<'scheduled' | 'removed'> {
    const cfg = await getSourceConfig(db);
    if (cfg.mode === 'builtin') {
      await bounded('remove the SysAid schedule', () => removeSysaidSchedule(client, taskQueue));
      return 'removed';
    }
    const every = Number((cfg.settings as { pollIntervalSeconds?: number }).pollIntervalSeconds ?? 300);
    await bounded('schedule SysAid reads', () => ensureSysaidSchedule(client, taskQueue, every));
    if (opts.readNow) await bounded('start a SysAid read', () => triggerSysaidRead(client, taskQueue));
    return 'scheduled';
  }

  /** One SysAid read now, as its own workflow run (a manual read already running is joined, not doubled). */
  const readSysaidNow = (timeoutMs: number): Promise<SysaidReadResult> =>
    bounded(
      'SysAid read',
      async () => {
        const h = await client.workflow.start('sysaidRead', { workflowId: `${sysaidScheduleId(taskQueue)}/manual`, taskQueue, args: [], workflowIdConflictPolicy: 'USE_EXISTING', staticSummary: 'SysAid read requested through the API' });
        return (await h.result()) as SysaidReadResult;
      },
      timeoutMs,
    );

  /** Integration settings saved: every running workflow re-plans; credential-paused ones resume. */
  async function broadcastConfigChanged() {
    const signalled: string[] = [];
    for (const adminId of await runningAdminIds()) {
      if (await signal(adminId, 'configChanged')) signalled.push(adminId);
    }
    return signalled;
  }

  return {
    ensureStarted,
    isRunning,
    signal,
    stop,
    approveDeletes,
    pause,
    resume,
    runNow,
    status,
    describe,
    uiLink,
    runningAdminIds,
    reconcile,
    pauseAll,
    broadcastConfigChanged,
    applySourceSchedule,
    readSysaidNow,
  };
}

const countsOf = (r: ReconcileResult) => ({
  started: r.started.length,
  stopped: r.stopped.length,
  paused: r.paused.length,
  resumed: r.resumed.length,
});

function isDeadline(err: unknown): boolean {
  const e = err as { code?: number; message?: string } | null;
  return !!e && (e.code === 4 || /deadline/i.test(e.message ?? ''));
}

function isNotRunning(err: unknown): boolean {
  const e = err as { code?: number; message?: string } | null;
  return !!e && (e.code === 5 || /workflow execution (already completed|not found)/i.test(e.message ?? ''));
}
