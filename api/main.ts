// `npm run api`: the HTTP API as its own process, against PostgreSQL and any Temporal.
import { serve } from '@hono/node-server';
import { previewSync } from '../activities/plan';
import { createBuiltinSource } from '../activities/sources/builtin';
import { ConfigError, loadConfig } from '../worker/config';
import { createFleet } from '../worker/fleet';
import { createLogger } from '../worker/logger';
import { guardPolicy, loadSealer, openRuntimeDatabase } from '../worker/runtime';
import { checkTemporal, connectClient } from '../worker/temporal';
import { createApp } from './app';
import { ensureBootstrapToken } from './auth';

async function main() {
  const config = loadConfig();
  const logger = createLogger(config.LOG_LEVEL);
  const database = await openRuntimeDatabase(config, 'separate');
  const sealer = await loadSealer(config, 'separate');
  const { client, connection, namespace } = await connectClient({ address: config.TEMPORAL_ADDRESS, namespace: config.TEMPORAL_NAMESPACE });
  const fleet = createFleet({
    client,
    db: database.db,
    taskQueue: config.CALENDAR_SYNC_TASK_QUEUE,
    intervalMs: config.CALENDAR_SYNC_INTERVAL_SECONDS * 1000,
    namespace,
    temporalUiUrl: config.TEMPORAL_UI_URL,
    logger,
  });
  const source = createBuiltinSource(database.db);
  const planDeps = { db: database.db, source, policy: guardPolicy(config), batchSize: config.CALENDAR_SYNC_BATCH_SIZE };
  const app = createApp({
    db: database.db,
    sealer,
    fleet,
    config,
    logger,
    temporalHealth: () => checkTemporal(connection),
    preview: (adminId) => previewSync(planDeps, adminId),
  });
  const token = await ensureBootstrapToken(database.db, config);
  if (token) console.log(`[calendar-sync] first sysadmin token (shown once, keep it): ${token}`);
  const server = serve({ fetch: app.fetch, hostname: config.HOST, port: config.PORT }, (info) =>
    logger.info({ host: config.HOST, port: info.port }, 'API listening'),
  );
  const stop = () => {
    server.close(async () => {
      await connection.close();
      await database.close();
      process.exit(0);
    });
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}

main().catch((err) => {
  const message = err instanceof ConfigError ? err.message : (err as Error).stack;
  console.error(`[calendar-sync] api failed: ${message}`);
  process.exit(1);
});
