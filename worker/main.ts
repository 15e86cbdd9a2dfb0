// `npm run worker`: a production worker process against PostgreSQL and any Temporal (self-hosted or Cloud).
// Run as many as you like on the same task queue; each also keeps the reconcile and SysAid schedules in place.
import { ConfigError, loadConfig } from './config';
import { createLogger, installTemporalRuntime } from './logger';
import { fleetFromConfig, loadSealer, openRuntimeDatabase, workerFromConfig } from './runtime';
import { ensureReconcileSchedule } from './schedule';
import { connectClient, connectNative } from './temporal';

async function main() {
  const config = loadConfig();
  const logger = createLogger(config.LOG_LEVEL);
  const database = await openRuntimeDatabase(config, 'separate');
  const sealer = await loadSealer(config, 'separate');
  const target = { address: config.TEMPORAL_ADDRESS, namespace: config.TEMPORAL_NAMESPACE };
  const { client, namespace } = await connectClient(target);
  const fleet = fleetFromConfig(config, { client, db: database.db, namespace, logger });
  const { connection } = await connectNative(target);
  const worker = await workerFromConfig(config, { connection, namespace, db: database.db, sealer, fleet });
  await ensureReconcileSchedule(client, config.CALENDAR_SYNC_TASK_QUEUE, config.CALENDAR_SYNC_RECONCILE_SECONDS);
  await fleet.applySourceSchedule();
  logger.info({ taskQueue: config.CALENDAR_SYNC_TASK_QUEUE, namespace, db: database.driver }, 'worker started');
  await worker.run();
  await connection.close();
  await client.connection.close();
  await database.close();
}

installTemporalRuntime(process.env.LOG_LEVEL ?? 'info');
main().catch((err) => {
  const message = err instanceof ConfigError ? err.message : (err as Error).stack;
  console.error(`[calendar-sync] worker failed: ${message}`);
  process.exit(1);
});
