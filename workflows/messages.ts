// Signals, updates and the query of the per-admin entity workflow, shared by workflow, API and tests.
import { defineQuery, defineSignal, defineUpdate } from '@temporalio/workflow';
import type { RunCounts } from '../activities/sync/types';

export const SYNC_STATES = ['idle', 'syncing', 'paused', 'blocked', 'needs-approval', 'stopping'] as const;
export type SyncStateName = (typeof SYNC_STATES)[number];

export type PauseReason = 'manual' | 'credentials' | 'integration-disabled' | (string & {});

export interface RunSummary {
  runId: string;
  trigger: string;
  startedAt: string;
  finishedAt: string;
  counts: RunCounts;
  /** Set when the run failed as a whole (source unreadable, provider down after retries). */
  error: string | null;
}

export interface SyncStatus {
  adminId: string;
  state: SyncStateName;
  pausedReason: PauseReason | null;
  pausedMessage: string | null;
  blockedReason: string | null;
  lastRun: RunSummary | null;
  nextRunAt: string | null;
  /** Totals over this entity's lifetime (carried across continue-as-new). */
  totals: RunCounts & { runs: number };
  failedItems: number;
  heldDeletes: { runId: string; count: number } | null;
}

export const syncNowSignal = defineSignal('syncNow');
export const settingsChangedSignal = defineSignal('settingsChanged');
export const configChangedSignal = defineSignal('configChanged');
export const stopSignal = defineSignal<[{ removeEvents: boolean }]>('stop');
export const approveDeletesSignal = defineSignal<[{ runId: string }]>('approveDeletes');
export const retryFailedSignal = defineSignal('retryFailed');

export const pauseUpdate = defineUpdate<SyncStatus, [{ reason: PauseReason; message?: string }]>('pause');
export const resumeUpdate = defineUpdate<SyncStatus, []>('resume');
export const runNowUpdate = defineUpdate<RunSummary, []>('runNow');

export const statusQuery = defineQuery<SyncStatus>('status');
