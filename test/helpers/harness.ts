// A whole sync stack for integration tests: real DB, real Temporal dev server (from globalSetup), a real
// worker on a unique task queue, the real fleet control, and the built-in source + ICS provider.
import { randomBytes } from 'node:crypto';
import { Client, Connection } from '@temporalio/client';
import { NativeConnection, Runtime, type Worker } from '@temporalio/worker';
import { eq } from 'drizzle-orm';
import { inject } from 'vitest';
import type { ActivityDeps } from '../../activities';
import { createBuiltinSource, deleteItem as removeItem, saveItem } from '../../activities/sources/builtin';
import { calendarItemInput, normaliseItem, type CalendarItemInput } from '../../activities/sync/items';
import { ITEM_TYPES, type ItemType } from '../../activities/sync/types';
import { getIntegration } from '../../db/repositories';
import { admins, adminSettings, eventLinks, feedEvents, integration, syncRuns } from '../../db/schema';
import { createSealer } from '../../db/seal';
import { createWorker } from '../../worker/createWorker';
import { createFleet } from '../../worker/fleet';
import { openTestDatabase } from './db';

let runtimeInstalled = false;

export interface HarnessOptions {
  dbKind?: 'pglite' | 'postgres';
  intervalMs?: number;
  holdMin?: number;
  holdRatio?: number;
  batchSize?: number;
  maxHistoryEvents?: number;
  /** Sees every SQL statement the harness's database runs. */
  onQuery?: (query: string) => void;
  providerFactory?: ActivityDeps['providerFactory'];
  /** Start no worker (e.g. the test runs workers in child processes). */
  noWorker?: boolean;
}

export type Harness = Awaited<ReturnType<typeof createHarness>>;

export async function createHarness(opts: HarnessOptions = {}) {
  if (!runtimeInstalled) {
    Runtime.install({ logger: { log() {}, trace() {}, debug() {}, info() {}, warn() {}, error() {} } as never });
    runtimeInstalled = true;
  }
  const address = inject('temporalAddress');
  const workflowBundlePath = inject('workflowBundlePath');
  const database = await openTestDatabase(opts.dbKind, opts.onQuery);
  const db = database.db;
  const sealer = createSealer(randomBytes(32));
  const suffix = randomBytes(4).toString('hex');
  const taskQueue = `test-${suffix}`;
  const connection = await Connection.connect({ address });
  const client = new Client({ connection, namespace: 'default' });
  const intervalMs = opts.intervalMs ?? 60 * 60_000;
  const fleet = createFleet({ client, db, taskQueue, intervalMs, maxHistoryEvents: opts.maxHistoryEvents, namespace: 'default', callTimeoutMs: 20_000 });
  const deps: ActivityDeps = {
    db,
    sealer,
    policy: { holdMin: opts.holdMin ?? 25, holdRatio: opts.holdRatio ?? 0.5 },
    batchSize: opts.batchSize ?? 50,
    providerFactory: opts.providerFactory,
    fleet,
  };
  let worker: Worker | null = null;
  let workerRun: Promise<void> | null = null;
  let nativeConnection: NativeConnection | null = null;

  async function startWorker(overrides: Partial<ActivityDeps> = {}) {
    nativeConnection ??= await NativeConnection.connect({ address });
    worker = await createWorker({
      connection: nativeConnection,
      namespace: 'default',
      taskQueue,
      workflowBundlePath,
      deps: { ...deps, ...overrides },
      overrides: { shutdownGraceTime: '1s' },
    });
    workerRun = worker.run();
  }

  async function stopWorker() {
    if (!worker) return;
    worker.shutdown();
    await workerRun;
    worker = null;
  }

  if (!opts.noWorker) await startWorker();
  await getIntegration(db);
  await db.update(integration).set({ protocol: 'ics', enabled: true });

  /** Admin ids are unique per harness: workflow ids are global in the shared dev server. */
  const adminId = (name: string) => `${name}-${suffix}`;

  async function addAdmin(name: string, settings: Partial<{ syncEnabled: boolean; itemTypes: ItemType[]; daysBack: number; daysForward: number; includeClosed: boolean; timeZone: string }> = {}) {
    const id = adminId(name);
    await db.insert(admins).values({ id, displayName: name, email: `${name}@example.test`, timeZone: settings.timeZone ?? 'Europe/Berlin' });
    await db.insert(adminSettings).values({
      adminId: id,
      syncEnabled: settings.syncEnabled ?? true,
      itemTypes: settings.itemTypes ?? [...ITEM_TYPES],
      daysBack: settings.daysBack ?? 30,
      daysForward: settings.daysForward ?? 365,
      includeClosed: settings.includeClosed ?? false,
    });
    return id;
  }

  const putItem = (key: string, input: CalendarItemInput) => saveItem(db, normaliseItem(key, calendarItemInput.parse(input), new Date()));
  const deleteItem = (admin: string, key: string) => removeItem(db, admin, key);

  /** What the admin's calendar (the ICS feed store) holds, by title. */
  async function feed(admin: string) {
    const rows = await db.select().from(feedEvents).where(eq(feedEvents.adminId, admin));
    return rows.map((r) => ({ uid: r.uid, marker: r.marker, sequence: r.sequence, event: r.event as Record<string, any> })).sort((a, b) => a.event.title.localeCompare(b.event.title));
  }

  const links = (admin: string) => db.select().from(eventLinks).where(eq(eventLinks.adminId, admin));
  const runs = (admin: string) => db.select().from(syncRuns).where(eq(syncRuns.adminId, admin)).orderBy(syncRuns.startedAt);

  /** Polls until `check` returns a truthy value (or throws the last error after the timeout). */
  async function eventually<T>(check: () => Promise<T | false | null | undefined>, timeoutMs = 30_000, label = 'condition'): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    let lastError: unknown = null;
    while (Date.now() < deadline) {
      try {
        const v = await check();
        if (v) return v;
      } catch (err) {
        lastError = err;
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`timed out waiting for ${label}${lastError ? `: ${(lastError as Error).message}` : ''}`);
  }

  async function close() {
    const running = await fleet.runningAdminIds().catch(() => [] as string[]);
    for (const id of running) await client.workflow.getHandle(`calendar-sync/admin/${id}`).terminate('test finished').catch(() => undefined);
    await stopWorker();
    await nativeConnection?.close();
    await connection.close();
    await database.close();
  }

  return {
    db,
    database,
    sealer,
    client,
    connection,
    fleet,
    taskQueue,
    deps,
    source: createBuiltinSource(db),
    adminId,
    addAdmin,
    putItem,
    deleteItem,
    feed,
    links,
    runs,
    eventually,
    startWorker,
    stopWorker,
    close,
  };
}
