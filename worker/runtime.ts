// Start-up pieces shared by the three entry points (embedded default, worker, api).
import { openDatabase, type Database } from '../db/client';
import { createSealer, loadOrCreateKeyFile, parseSecretKey, type Sealer } from '../db/seal';
import { ConfigError, type Config } from './config';
import type { Client } from '@temporalio/client';
import type { Logger } from 'pino';
import type { GuardPolicy } from '../activities/sync/diff';
import type { Db } from '../db/client';
import type { NativeConnection } from '@temporalio/worker';
import { createWorker } from './createWorker';
import { createFleet, type SyncFleet } from './fleet';

/**
 * The embedded default uses PGlite in the data dir; the separate worker and API processes need a shared
 * PostgreSQL (PGlite is single-process).
 */
export async function openRuntimeDatabase(config: Config, mode: 'embedded' | 'separate'): Promise<Database> {
  if (!config.DATABASE_URL && mode === 'separate') {
    throw new ConfigError('DATABASE_URL is required when the worker and the API run as separate processes (e.g. postgres://user@host:5432/calendar_sync). `npm start` runs both in one process on PGlite.');
  }
  const database = await openDatabase({ url: config.DATABASE_URL, dataDir: config.CALENDAR_SYNC_DATA_DIR });
  await database.migrate();
  return database;
}

export async function loadSealer(config: Config, mode: 'embedded' | 'separate'): Promise<Sealer> {
  if (config.CALENDAR_SYNC_SECRET_KEY) return createSealer(parseSecretKey(config.CALENDAR_SYNC_SECRET_KEY));
  if (mode === 'separate' || config.DATABASE_URL) {
    throw new ConfigError('CALENDAR_SYNC_SECRET_KEY is required with a shared database: the same 32-byte key (openssl rand -base64 32) on every worker and API process.');
  }
  return createSealer(await loadOrCreateKeyFile(config.CALENDAR_SYNC_DATA_DIR));
}

export const guardPolicy = (config: Config): GuardPolicy => ({
  holdMin: config.CALENDAR_SYNC_DELETE_HOLD_MIN,
  holdRatio: config.CALENDAR_SYNC_DELETE_HOLD_RATIO,
});

/** The fleet control of a process, from the configuration. */
export function fleetFromConfig(config: Config, parts: { client: Client; db: Db; namespace: string; logger: Logger; temporalUiUrl?: string | null }) {
  return createFleet({
    client: parts.client,
    db: parts.db,
    taskQueue: config.CALENDAR_SYNC_TASK_QUEUE,
    intervalMs: config.CALENDAR_SYNC_INTERVAL_SECONDS * 1000,
    maxHistoryEvents: config.CALENDAR_SYNC_MAX_HISTORY_EVENTS,
    namespace: parts.namespace,
    temporalUiUrl: parts.temporalUiUrl ?? config.TEMPORAL_UI_URL,
    logger: parts.logger,
  });
}

/** A process's worker on the configured task queue, with the activities' dependencies from the configuration. */
export async function workerFromConfig(config: Config, parts: { connection: NativeConnection; namespace: string; db: Db; sealer: Sealer; fleet: SyncFleet }) {
  return createWorker({
    connection: parts.connection,
    namespace: parts.namespace,
    taskQueue: config.CALENDAR_SYNC_TASK_QUEUE,
    deps: { db: parts.db, sealer: parts.sealer, policy: guardPolicy(config), batchSize: config.CALENDAR_SYNC_BATCH_SIZE, fleet: parts.fleet },
  });
}
