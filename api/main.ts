// `npm run api`: the HTTP API as its own process, against PostgreSQL and any Temporal.
import { serve } from '@hono/node-server';
import { ConfigError, loadConfig } from '../worker/config';
import { createLogger } from '../worker/logger';
import { fleetFromConfig, loadSealer, openRuntimeDatabase } from '../worker/runtime';
import { connectClient } from '../worker/temporal';
import { createAppFromConfig } from './app';
import { ensureBootstrapToken } from './auth';

async function main() {
  const config = loadConfig();
  const logger = createLogger(config.LOG_LEVEL);
  const database = await openRuntimeDatabase(config, 'separate');
  const sealer = await loadSealer(config, 'separate');
  const { client, connection, namespace } = await connectClient({ address: config.TEMPORAL_ADDRESS, namespace: config.TEMPORAL_NAMESPACE });
  const fleet = fleetFromConfig(config, { client, db: database.db, namespace, logger });
  const app = createAppFromConfig(config, { db: database.db, sealer, fleet, logger, connection });
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
