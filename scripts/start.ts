// `npm start`: the embedded default. PGlite in .data/, a child Temporal dev server with its Web UI,
// the worker and the API in this one process, demo data on first start. Ctrl-C stops all of it.
import path from 'node:path';
import { serve } from '@hono/node-server';
import { eq } from 'drizzle-orm';
import { createAppFromConfig } from '../api/app';
import { ensureBootstrapToken } from '../api/auth';
import { feedUrl } from '../api/feedToken';
import { admins, adminSettings } from '../db/schema';
import { ConfigError, loadConfig, publicUrl } from '../worker/config';
import { startDevServer } from '../worker/devServer';
import { createLogger, installTemporalRuntime } from '../worker/logger';
import { fleetFromConfig, loadSealer, openRuntimeDatabase, workerFromConfig } from '../worker/runtime';
import { ensureReconcileSchedule } from '../worker/schedule';
import { connectClient, connectNative } from '../worker/temporal';
import { seedDemo } from './demo';

const say = (message: string) => console.log(`[calendar-sync] ${message}`);

async function main() {
  const config = loadConfig();
  const logger = createLogger(config.LOG_LEVEL === 'info' ? 'warn' : config.LOG_LEVEL);
  const dataDir = path.resolve(config.CALENDAR_SYNC_DATA_DIR);
  const stops: Array<() => Promise<unknown>> = [];
  let stopping = false;
  const shutdown = async (code: number) => {
    if (stopping) return;
    stopping = true;
    say('stopping…');
    for (const stop of stops.reverse()) await stop().catch((err) => say(`while stopping: ${(err as Error).message}`));
    say('stopped.');
    process.exit(code);
  };
  process.on('SIGINT', () => void shutdown(0));
  process.on('SIGTERM', () => void shutdown(0));

  say(config.DATABASE_URL ? 'opening PostgreSQL and applying migrations' : `opening PGlite in ${dataDir} and applying migrations`);
  const database = await openRuntimeDatabase(config, 'embedded');
  stops.push(() => database.close());
  const sealer = await loadSealer(config, 'embedded');

  let address = config.TEMPORAL_ADDRESS;
  let uiUrl = config.TEMPORAL_UI_URL ?? null;
  if (!address) {
    const cliPath = config.TEMPORAL_CLI;
    if (!cliPath) throw new ConfigError('TEMPORAL_CLI is not set: run through `npm start`, which finds or builds the Temporal CLI.');
    say(`starting the Temporal dev server (gRPC 127.0.0.1:${config.TEMPORAL_PORT}, UI :${config.TEMPORAL_UI_PORT}, data ${path.join(dataDir, 'temporal.db')})`);
    const server = await startDevServer({
      cliPath,
      port: config.TEMPORAL_PORT,
      uiPort: config.TEMPORAL_UI_PORT,
      dbFile: path.join(dataDir, 'temporal.db'),
      logFile: path.join(dataDir, 'temporal.log'),
    });
    stops.push(() => server.stop());
    address = server.address;
    uiUrl ??= server.uiUrl;
  }

  const target = { address, namespace: config.TEMPORAL_NAMESPACE };
  const { client, connection: clientConnection, namespace } = await connectClient(target);
  stops.push(() => clientConnection.close());
  const fleet = fleetFromConfig(config, { client, db: database.db, namespace, logger, temporalUiUrl: uiUrl });

  if (config.CALENDAR_SYNC_DEMO && (await seedDemo(database.db))) say('seeded demo admins and items (protocol ics, integration enabled)');

  say('bundling workflows and starting the worker');
  const { connection } = await connectNative(target);
  const worker = await workerFromConfig(config, { connection, namespace, db: database.db, sealer, fleet });
  const running = worker.run();
  stops.push(async () => {
    // The SDK also reacts to SIGINT/SIGTERM and may already be draining.
    if (worker.getState() === 'RUNNING') worker.shutdown();
    await running;
    await connection.close();
  });
  running.catch((err) => {
    say(`worker stopped with an error: ${(err as Error).message}`);
    void shutdown(1);
  });

  await ensureReconcileSchedule(client, config.CALENDAR_SYNC_TASK_QUEUE, config.CALENDAR_SYNC_RECONCILE_SECONDS);
  await fleet.applySourceSchedule();
  const reconciled = await fleet.reconcile();
  say(`reconciled: ${reconciled.started.length} admin workflows started, ${reconciled.resumed.length} resumed`);

  const app = createAppFromConfig(config, { db: database.db, sealer, fleet, logger, connection: clientConnection });
  const server = await new Promise<ReturnType<typeof serve>>((resolve, reject) => {
    const s = serve({ fetch: app.fetch, hostname: config.HOST, port: config.PORT }, () => resolve(s));
    s.once('error', (err) => reject(new ConfigError(`The API cannot listen on ${config.HOST}:${config.PORT}: ${err.message}. Set PORT to a free port.`)));
  });
  stops.push(() => new Promise((resolve) => server.close(() => resolve(undefined))));
  const token = await ensureBootstrapToken(database.db, config);

  const base = publicUrl(config);
  const enabled = await database.db
    .select({ id: admins.id, name: admins.displayName, version: admins.feedTokenVersion })
    .from(admins)
    .innerJoin(adminSettings, eq(adminSettings.adminId, admins.id))
    .where(eq(adminSettings.syncEnabled, true))
    .orderBy(admins.id);
  const lines = [
    '',
    'calendar-sync is running.',
    `  API:          ${base}/api`,
    `  API docs:     ${base}/docs   (OpenAPI: ${base}/openapi.json)`,
    `  Temporal UI:  ${uiUrl ?? '(not managed here: TEMPORAL_ADDRESS is set)'}`,
    token
      ? `  Sysadmin token (shown once, keep it): ${token}`
      : `  Sysadmin token: ${config.CALENDAR_SYNC_ADMIN_TOKEN ? 'from CALENDAR_SYNC_ADMIN_TOKEN' : 'printed on the first start (create more with POST /api/tokens)'}`,
    '  Feeds (subscribe in any calendar app):',
    ...enabled.map((a) => `    ${a.name.padEnd(14)} ${feedUrl(base, sealer, a.id, a.version)}`),
    '',
    'Press Ctrl-C to stop.',
  ];
  console.log(lines.join('\n'));
}

// The embedded default keeps the console for its own lines: the SDK logs warnings and errors only.
installTemporalRuntime(['trace', 'debug'].includes(process.env.LOG_LEVEL ?? '') ? process.env.LOG_LEVEL! : 'warn');
main().catch((err) => {
  const message = err instanceof ConfigError ? err.message : ((err as Error).stack ?? String(err));
  console.error(`[calendar-sync] start failed: ${message}`);
  process.exit(1);
});
