// `npm run bench`: what one worker does against the Graph emulator (30 ms per request, 4 in flight per
// mailbox), printed as a table and written as JSON to bench/results/. The emulator runs in a process of its
// own (bench/graphProcess.ts), as a real mailbox would be elsewhere; the worker, the plain-loop baseline and
// the bench driver share this process. Besides, our own bookkeeping per admin-run (planSync + applyBatch called
// directly, the provider answering at once) is measured apart. The database is DATABASE_URL (`npm run bench` sets PostgreSQL when one
// answers on 127.0.0.1:5432) or embedded PGlite. Options:
//   --admins N --items N      initial-sync fleet (default 100 × 200)
//   --repeat N                rounds of initial sync + plain-loop baseline, interleaved; the ratio reported is
//                             the median (default 3: one run cannot decide it on a noisy machine)
//   --large                   1,000 idle admin workflows (instead of 100) for the memory-per-cycle check;
//                             pass --admins 1000 for the larger initial sync
//   --latency MS              emulator latency per request (default 30)
//   --single N                items for the single-mailbox ceiling run (default 5,000)
//   --idle N --cycles N       idle admin workflows and cycles for the memory check (default 100 × 6;
//                             use ≥ 20 cycles so several continue-as-new periods are seen)
//   --max-history N           admin workflows continue as new after N history events (default: the product default)
//   --out FILE                write the JSON there instead of bench/results/<time>.json
import { readFileSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { randomBytes } from 'node:crypto';
import { parseArgs } from 'node:util';
import { Client, Connection } from '@temporalio/client';
import { bundleWorkflowCode, NativeConnection } from '@temporalio/worker';
import { and, isNotNull, sql } from 'drizzle-orm';
import { createProvider } from '../activities/providers';
import { graphSettingsSchema } from '../activities/providers/graph/settings';
import { saveItem, saveItems } from '../activities/sources/builtin';
import { renderEvent } from '../activities/sync/render';
import type { CalendarItem } from '../activities/sync/types';
import { applyBatch, runPool } from '../activities/apply';
import { planSync } from '../activities/plan';
import type { CalendarProvider } from '../activities/providers/types';
import { createBuiltinSource } from '../activities/sources/builtin';
import { getIntegration } from '../db/repositories';
import { admins, adminSettings, integration, syncRuns } from '../db/schema';
import { createSealer } from '../db/seal';
import { startGraphProcess, type RemoteGraph } from './graphProcess';
import { openTestDatabase } from '../test/helpers/db';
import { createWorker, WORKFLOWS_PATH } from '../worker/createWorker';
import { startDevServer } from '../worker/devServer';
import { createFleet } from '../worker/fleet';
import { loadConfig } from '../worker/config';
import { installTemporalRuntime } from '../worker/logger';
import { adminWorkflowId } from '../workflows/ids';

const { values: args } = parseArgs({
  options: {
    admins: { type: 'string', default: '100' },
    repeat: { type: 'string', default: '3' },
    items: { type: 'string', default: '200' },
    latency: { type: 'string', default: '30' },
    single: { type: 'string', default: '5000' },
    idle: { type: 'string' },
    cycles: { type: 'string', default: '6' },
    out: { type: 'string' },
    large: { type: 'boolean', default: false },
    'max-history': { type: 'string' },
  },
});
const TENANT = '72f988bf-86f1-41af-91ab-2d7cd011db47';
const CLIENT = '5e3ce6c0-2b1f-4285-8d4b-75ee78787346';
const SECRET = 'bench-secret-value';
const say = (m: string) => console.error(`[bench] ${m}`);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const pct = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))] ?? NaN;

interface Row {
  scenario: string;
  metric: string;
  value: number | string;
  target?: string;
}
const rows: Row[] = [];
const record = (scenario: string, metric: string, value: number | string, target?: string) => rows.push({ scenario, metric, value: typeof value === 'number' ? Math.round(value * 100) / 100 : value, target });

/** CPU seconds the whole machine spent (all processes: worker, emulator, Temporal, PostgreSQL), from /proc/stat. */
function machineCpuS(): number {
  try {
    const [cpu] = readFileSync('/proc/stat', 'utf8').split('\n');
    const [user, nice, system, , , irq, softirq, steal] = cpu!.trim().split(/\s+/).slice(1).map(Number);
    return (user! + nice! + system! + irq! + softirq! + steal!) / 100;
  } catch {
    return NaN;
  }
}
const cores = availableParallelism();

/** CPU seconds of this process's main thread alone (where activities, SDK clients and the plain loop run). */
function mainThreadCpuS(): number {
  try {
    const stat = readFileSync(`/proc/self/task/${process.pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return NaN;
  }
}
const cpuS = (since: NodeJS.CpuUsage) => {
  const d = process.cpuUsage(since);
  return (d.user + d.system) / 1e6;
};

let peakRss = 0;
const rssTimer = setInterval(() => (peakRss = Math.max(peakRss, process.memoryUsage().rss)), 200);

async function main() {
  const cli = process.env.TEMPORAL_CLI;
  if (!cli) throw new Error('TEMPORAL_CLI is not set: run through `npm run bench`.');
  installTemporalRuntime('warn');
  let queries = 0;
  const database = await openTestDatabase(process.env.DATABASE_URL ? 'postgres' : 'pglite', () => queries++);
  const { db } = database;
  say(`database: ${database.driver}; starting a Temporal dev server`);
  const server = await startDevServer({ cliPath: cli, uiPort: null });
  const { code } = await bundleWorkflowCode({ workflowsPath: WORKFLOWS_PATH, logger: { log() {}, trace() {}, debug() {}, info() {}, warn() {}, error() {} } as never });
  await mkdir(new URL('../.test-tmp/', import.meta.url), { recursive: true });
  const bundlePath = new URL('../.test-tmp/bench-bundle.js', import.meta.url).pathname;
  await writeFile(bundlePath, code);
  const connection = await Connection.connect({ address: server.address });
  const client = new Client({ connection, namespace: 'default' });
  const native = await NativeConnection.connect({ address: server.address });
  const sealer = createSealer(randomBytes(32));
  const latency = Number(args.latency);
  const defaults = loadConfig({});
  // The worker's batch size and delete guard, shared by the fleets and the own-cost scenario.
  const batchSize = Number(process.env.BENCH_BATCH ?? defaults.CALENDAR_SYNC_BATCH_SIZE);
  const policy = { holdMin: 25, holdRatio: 0.5 };

  async function fleetRun(name: string, nAdmins: number, nItems: number, intervalMs = 60 * 60_000) {
    const taskQueue = `bench-${name}-${randomBytes(3).toString('hex')}`;
    const ids = Array.from({ length: nAdmins }, (_, i) => `${name}-${i}`);
    const graph = await startGraphProcess({ tenants: { [TENANT]: { [CLIENT]: { secret: SECRET } } }, mailboxes: ids.map((id) => `${id}@bench.test`), latencyMs: latency });
    const settings = graphSettingsSchema.parse({ tenantId: TENANT, clientId: CLIENT, syncUserEmail: `${ids[0]}@bench.test`, graphEndpoint: graph.baseUrl, authorityHost: graph.baseUrl, caCertificate: graph.ca });
    await getIntegration(db);
    await db.update(integration).set({ protocol: 'microsoft365', settings, secrets: sealer.seal({ clientSecret: SECRET }), enabled: true, version: sql`${integration.version} + 1` });
    await db.insert(admins).values(ids.map((id) => ({ id, displayName: id, email: `${id}@bench.test`, timeZone: 'Europe/Berlin' })));
    await db.insert(adminSettings).values(ids.map((id) => ({ adminId: id, syncEnabled: true, itemTypes: ['sr_due'], daysBack: 30, daysForward: 400 })));
    await saveItems(db, ids.flatMap((id) => Array.from({ length: nItems }, (_, j) => benchItem(id, j, 'v1'))));
    const maxHistoryEvents = Number(args['max-history'] ?? defaults.CALENDAR_SYNC_MAX_HISTORY_EVENTS);
    const fleet = createFleet({ client, db, taskQueue, intervalMs, maxHistoryEvents, namespace: 'default', callTimeoutMs: 60_000 });
    const worker = await createWorker({ connection: native, namespace: 'default', taskQueue, workflowBundlePath: bundlePath, deps: { db, sealer, policy, batchSize, fleet } });
    const running = worker.run();
    const finishedRuns = async () => Number((await db.select({ n: sql<number>`count(*)::int` }).from(syncRuns).where(and(isNotNull(syncRuns.finishedAt), sql`${syncRuns.adminId} like ${name + '-%'}`)))[0]!.n);
    const waitRuns = async (n: number, timeoutMs: number) => {
      const deadline = Date.now() + timeoutMs;
      while ((await finishedRuns()) < n) {
        if (Date.now() > deadline) throw new Error(`${name}: only ${await finishedRuns()} of ${n} runs finished in time`);
        await sleep(100);
      }
    };
    return { ids, graph, fleet, worker, running, waitRuns, finishedRuns };
  }

  // 1. Initial sync, then (first round) 2. steady state and 3. incremental on the same fleet, then 4. the plain
  // loop doing the same provider work; repeated in rounds, each on a fresh fleet and emulator.
  const nAdmins = Number(args.admins);
  const nItems = Number(args.items);
  const rounds = Math.max(1, Number(args.repeat));
  const events = nAdmins * nItems;
  const hist = async (id: string) => (await client.workflow.getHandle(adminWorkflowId(id)).fetchHistory()).events?.length ?? 0;
  const ratios: number[] = [];
  const graphs: RemoteGraph[] = [];
  for (let round = 1; round <= rounds; round++) {
    say(`round ${round} of ${rounds}: seeding ${nAdmins} admins × ${nItems} items`);
    const f = await fleetRun(round === 1 ? 'fleet' : `fleet${round}`, nAdmins, nItems);
    graphs.push(f.graph);
    const cpu0 = process.cpuUsage();
    const main0 = mainThreadCpuS();
    const m0 = machineCpuS();
    const t0 = Date.now();
    peakRss = 0;
    await Promise.all(f.ids.map((id) => f.fleet.ensureStarted(id)));
    await f.waitRuns(nAdmins, 20 * 60_000);
    const initialMs = Date.now() - t0;
    say(`round ${round}: initial sync ${(initialMs / 1000).toFixed(1)} s`);
    if (round === 1) {
      const initialMachine = machineCpuS() - m0;
      const initialCpu = cpuS(cpu0);
      const initialMain = mainThreadCpuS() - main0;
      const initialRequests = (await f.graph.counts()).total;
      const histories = await Promise.all(f.ids.slice(0, 5).map(hist));
      record('initial', 'admins × items', `${nAdmins} × ${nItems}`);
      record('initial', 'wall time s', initialMs / 1000);
      record('initial', 'events/s', events / (initialMs / 1000));
      record('initial', 'provider requests per event', initialRequests / events);
      record('initial', 'history events per admin', Math.max(...histories));
      record('initial', 'worker peak RSS MiB', peakRss / 2 ** 20);
      record('initial', 'worker CPU s (all threads / main thread)', `${initialCpu.toFixed(1)} / ${initialMain.toFixed(1)}`);
      record('initial', `machine CPU s (all processes, ${cores} cores)`, `${initialMachine.toFixed(1)} = ${Math.round((initialMachine / (initialMs / 1000) / cores) * 100)} % busy`);
      await steadyAndIncremental(f);
    }
    f.worker.shutdown();
    await f.running;
    const baselineMs = await baseline(f.ids, round === 1);
    say(`round ${round}: plain loop ${(baselineMs / 1000).toFixed(1)} s, ratio ${(initialMs / baselineMs).toFixed(2)}`);
    ratios.push(initialMs / baselineMs);
  }
  const sortedRatios = [...ratios].sort((a, b) => a - b);
  const median = sortedRatios.length % 2 ? sortedRatios[(sortedRatios.length - 1) / 2]! : (sortedRatios[sortedRatios.length / 2 - 1]! + sortedRatios[sortedRatios.length / 2]!) / 2;
  record('baseline', `ours ÷ baseline, median of ${rounds} round${rounds > 1 ? 's' : ''}`, median, '≤ 1.5');
  if (rounds > 1) record('baseline', 'ours ÷ baseline per round', ratios.map((r) => r.toFixed(2)).join(' '));

  async function steadyAndIncremental(f: Awaited<ReturnType<typeof fleetRun>>) {
    // 2. Steady state: every admin syncs once more with nothing changed.
    const before = await f.graph.counts();
    const q0 = queries;
    const h0 = await Promise.all(f.ids.slice(0, 5).map(hist));
    const cpu1 = process.cpuUsage();
    await Promise.all(f.ids.map((id) => f.fleet.signal(id, 'syncNow')));
    await f.waitRuns(nAdmins * 2, 10 * 60_000);
    const after = await f.graph.counts();
    const h1 = await Promise.all(f.ids.slice(0, 5).map(hist));
    const cpuSteady = process.cpuUsage(cpu1);
    record('steady', 'provider writes', after.writes - before.writes, '0');
    record('steady', 'provider reads per admin', (after.get - before.get) / nAdmins, '≤ 1 batch');
    record('steady', 'DB queries per admin per cycle', (queries - q0) / nAdmins);
    record('steady', 'history events per admin per cycle', Math.max(...h1.map((h, i) => h - h0[i]!)));
    record('steady', 'CPU ms per admin per cycle', (cpuSteady.user + cpuSteady.system) / 1000 / nAdmins);

    // 3. Incremental: 1 % of the items change; latency from the push to the event being updated in the mailbox.
    // 1 % of the items, one at a time (each latency uncontended); at most 200 samples for large fleets.
    const changes = Math.min(200, Math.max(1, Math.round(events / 100)));
    const latencies: number[] = [];
    for (let c = 0; c < changes; c++) {
      const id = f.ids[c % nAdmins]!;
      const j = Math.floor(c / nAdmins) % nItems;
      const pushedAt = Date.now();
      await saveItem(db, benchItem(id, j, `v2-${c}`));
      await f.fleet.signal(id, 'syncNow');
      const want = `Due: SR ${j} v2-${c}`;
      while (!(await f.graph.hasSubject(`${id}@bench.test`, want))) await sleep(5);
      latencies.push(Date.now() - pushedAt);
    }
    record('incremental', 'changes (1 %, at most 200)', changes);
    record('incremental', 'latency p50 ms (sync now)', pct(latencies, 50));
    record('incremental', 'latency p95 ms (sync now)', pct(latencies, 95));
  }

  // 3b. The periodic interval: the same change picked up by the timer alone.
  const intervalMs = 5_000;
  const p = await fleetRun('periodic', 4, 20, intervalMs);
  await Promise.all(p.ids.map((id) => p.fleet.ensureStarted(id)));
  await p.waitRuns(4, 120_000);
  const periodic: number[] = [];
  for (let c = 0; c < 8; c++) {
    const id = p.ids[c % 4]!;
    const pushedAt = Date.now();
    await saveItem(db, benchItem(id, c, `p-${c}`));
    while (!(await p.graph.hasSubject(`${id}@bench.test`, `Due: SR ${c} p-${c}`))) await sleep(20);
    periodic.push(Date.now() - pushedAt);
  }
  record('incremental', `latency p50 ms (interval ${intervalMs / 1000} s)`, pct(periodic, 50));
  record('incremental', `latency p95 ms (interval ${intervalMs / 1000} s)`, pct(periodic, 95));
  p.worker.shutdown();
  await p.running;

  // 4. Baseline: the same provider work as an initial sync, in a plain loop with no Temporal (same process, same
  // concurrency, a fresh emulator).
  async function baseline(ids: string[], report: boolean): Promise<number> {
    const baseGraph = await startGraphProcess({ tenants: { [TENANT]: { [CLIENT]: { secret: SECRET } } }, mailboxes: ids.map((id) => `${id}@bench.test`), latencyMs: latency });
    const provider = createProvider({ protocol: 'microsoft365', settings: graphSettingsSchema.parse({ tenantId: TENANT, clientId: CLIENT, syncUserEmail: `${ids[0]}@bench.test`, graphEndpoint: baseGraph.baseUrl, authorityHost: baseGraph.baseUrl, caCertificate: baseGraph.ca }), secrets: { clientSecret: SECRET } }, { db, installationId: 'bench' });
    const bm0 = machineCpuS();
    const bc0 = process.cpuUsage();
    const bmain0 = mainThreadCpuS();
    const b0 = Date.now();
    await Promise.all(
      ids.map((id) => {
        const mailbox = { adminId: id, email: `${id}@bench.test`, timeZone: 'Europe/Berlin' };
        return runPool(Array.from({ length: nItems }, (_, j) => j), 4, async (j) => {
          await provider.create(mailbox, { marker: `bench/${id}/${j}`, generation: 1 }, renderEvent(benchItem(id, j, 'v1'), { timeZone: 'Europe/Berlin', markPrivate: false, busyOnly: false }));
        });
      }),
    );
    const baselineMs = Date.now() - b0;
    if (report) {
      const baselineMachine = machineCpuS() - bm0;
      record('baseline', 'plain loop wall time s', baselineMs / 1000);
      record('baseline', 'plain loop CPU s (all threads / main thread)', `${cpuS(bc0).toFixed(1)} / ${(mainThreadCpuS() - bmain0).toFixed(1)}`);
      record('baseline', `machine CPU s (all processes, ${cores} cores)`, `${baselineMachine.toFixed(1)} = ${Math.round((baselineMachine / (baselineMs / 1000) / cores) * 100)} % busy`);
    }
    await baseGraph.close();
    return baselineMs;
  }

  // 4b. Our own bookkeeping per admin-run, without Temporal and without the provider: planSync and applyBatch
  // called directly, the provider answering at once. CPU of this thread, median over the admins.
  {
    const n = Math.min(50, nAdmins);
    const ids = Array.from({ length: n }, (_, i) => `cost-${i}`);
    await db.insert(admins).values(ids.map((id) => ({ id, displayName: id, email: `${id}@bench.test`, timeZone: 'Europe/Berlin' })));
    await db.insert(adminSettings).values(ids.map((id) => ({ adminId: id, syncEnabled: true, itemTypes: ['sr_due'], daysBack: 30, daysForward: 400 })));
    await saveItems(db, ids.flatMap((id) => Array.from({ length: nItems }, (_, j) => benchItem(id, j, 'v1'))));
    let nextId = 0;
    const instant: CalendarProvider = {
      name: 'microsoft365',
      mailboxConcurrency: 4,
      create: async () => ({ remoteId: `r${nextId++}`, remoteVersion: 'v1' }),
      update: async (_m, _i, ref) => ref,
      delete: async () => undefined,
      listManaged: async () => [],
      testConnection: async () => [],
    };
    const planDeps = { db, source: createBuiltinSource(db), policy, batchSize, listManaged: async () => [] };
    const planMs: number[] = [];
    const applyMs: number[] = [];
    let costQueries = 0;
    for (const id of ids) {
      const q0 = queries;
      let c0 = process.cpuUsage();
      const plan = await planSync(planDeps, { adminId: id, trigger: 'bench', mode: 'sync', retryFailed: false, workflowId: 'bench', workflowRunId: 'bench' });
      planMs.push(cpuS(c0) * 1000);
      if (plan.status !== 'planned') throw new Error(`own cost: plan for ${id} is ${plan.status}`);
      c0 = process.cpuUsage();
      for (let b = 0; b < plan.batches; b++) await applyBatch({ db, provider: async () => instant, heartbeat() {} }, { runId: plan.runId, batchNo: b });
      applyMs.push(cpuS(c0) * 1000);
      costQueries += queries - q0;
    }
    record('own cost', `admins × items (provider answering at once)`, `${n} × ${nItems}`);
    record('own cost', 'plan CPU ms per admin-run, median', pct(planMs, 50));
    record('own cost', 'apply CPU ms per admin-run, median', pct(applyMs, 50));
    record('own cost', 'µs per event (plan + apply)', ((pct(planMs, 50) + pct(applyMs, 50)) * 1000) / nItems);
    record('own cost', 'DB queries per admin-run', costQueries / n);
  }

  // 5. The ceiling: one mailbox, 4 in flight, `latency` ms each.
  const nSingle = Number(args.single);
  const s = await fleetRun('single', 1, nSingle);
  const s0 = Date.now();
  await s.fleet.ensureStarted(s.ids[0]!);
  await s.waitRuns(1, 20 * 60_000);
  const singleMs = Date.now() - s0;
  const ceiling = 4 * (1000 / latency);
  const rate = (await s.graph.counts()).post / (singleMs / 1000);
  record('single mailbox', 'items', nSingle);
  record('single mailbox', 'requests/s', rate);
  record('single mailbox', 'share of the 4-in-flight ceiling', `${Math.round((rate / ceiling) * 100)} % of ${Math.round(ceiling)}/s`, '≥ 70 %');
  // The same mailbox work in a plain loop: what this machine and emulator allow at all.
  const sg = await startGraphProcess({ tenants: { [TENANT]: { [CLIENT]: { secret: SECRET } } }, mailboxes: ['plain@bench.test'], latencyMs: latency });
  const plain = createProvider({ protocol: 'microsoft365', settings: graphSettingsSchema.parse({ tenantId: TENANT, clientId: CLIENT, syncUserEmail: 'plain@bench.test', graphEndpoint: sg.baseUrl, authorityHost: sg.baseUrl, caCertificate: sg.ca }), secrets: { clientSecret: SECRET } }, { db, installationId: 'bench' });
  const mailbox = { adminId: 'plain', email: 'plain@bench.test', timeZone: 'Europe/Berlin' };
  const sp0 = Date.now();
  await runPool(Array.from({ length: nSingle }, (_, j) => j), 4, async (j) => {
    await plain.create(mailbox, { marker: `bench/plain/${j}`, generation: 1 }, renderEvent(benchItem('plain', j, 'v1'), { timeZone: 'Europe/Berlin', markPrivate: false, busyOnly: false }));
  });
  record('single mailbox', 'plain-loop requests/s (same machine)', nSingle / ((Date.now() - sp0) / 1000));
  await sg.close();
  s.worker.shutdown();
  await s.running;

  // 6. Idle fleet over many cycles: worker memory must not grow per cycle.
  const nIdle = Number(args.idle ?? (args.large ? 1000 : 100));
  const cycles = Math.max(3, Number(args.cycles));
  const idleIntervalMs = args.large ? 20_000 : 4_000;
  const idle = await fleetRun('idle', nIdle, 1, idleIntervalMs);
  await Promise.all(idle.ids.map((id) => idle.fleet.ensureStarted(id)));
  const rss: number[] = [];
  for (let c = 1; c <= cycles; c++) {
    await idle.waitRuns(nIdle * c, 10 * 60_000);
    (globalThis as { gc?: () => void }).gc?.();
    rss.push(process.memoryUsage().rss / 2 ** 20);
    say(`idle fleet: cycle ${c} of ${cycles}, RSS ${Math.round(rss.at(-1)!)} MiB`);
  }
  record('idle fleet', 'admins × cycles', `${nIdle} × ${cycles} (every ${idleIntervalMs / 1000} s)`);
  record('idle fleet', 'RSS after cycle 1 / last, MiB', `${Math.round(rss[0]!)} / ${Math.round(rss.at(-1)!)}`);
  record('idle fleet', 'RSS per cycle, MiB', rss.map((x) => Math.round(x)).join(' '));
  // Workflows continue as new every few cycles, so memory is a sawtooth that levels off once every workflow
  // has continued at least once: the trend is the least-squares slope over the second half of the cycles.
  const tail = rss.slice(Math.floor(rss.length / 2));
  const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
  const mx = (tail.length - 1) / 2;
  const my = mean(tail);
  const slope = tail.reduce((acc, y, i) => acc + (i - mx) * (y - my), 0) / Math.max(1e-9, tail.reduce((acc, _y, i) => acc + (i - mx) ** 2, 0));
  record('idle fleet', 'RSS peak / second-half range, MiB', `${Math.round(Math.max(...rss))} / ${Math.round(Math.min(...tail))}–${Math.round(Math.max(...tail))}`);
  record('idle fleet', 'RSS trend over the second half, MiB per cycle', slope, '≈ 0');
  idle.worker.shutdown();
  await idle.running;

  console.log(table(rows));
  await mkdir(new URL('./results/', import.meta.url), { recursive: true });
  const file = args.out ?? new URL(`./results/${new Date().toISOString().replace(/[:.]/g, '-')}.json`, import.meta.url).pathname;
  await writeFile(file, JSON.stringify({ at: new Date().toISOString(), db: database.driver, latencyMs: latency, rows }, null, 2));
  say(`results written to ${file}`);
  for (const g of [...graphs, p.graph, s.graph, idle.graph]) await g.close();
  await native.close();
  await connection.close();
  await server.stop();
  await database.close();
  clearInterval(rssTimer);
}

function benchItem(adminId: string, j: number, version: string): CalendarItem {
  return {
    key: `sysaid:sr:${j}:due`,
    type: 'sr_due',
    adminId,
    title: version === 'v1' ? `SR ${j}` : `SR ${j} ${version}`,
    body: `Service record ${j}`,
    url: `https://helpdesk.example/sr/${j}`,
    timing: { kind: 'deadline', atUtc: new Date(Date.UTC(2027, 0, 1) + j * 3_600_000).toISOString() },
    statusClass: 'open',
    parent: null,
    updatedAt: new Date().toISOString(),
  };
}

function table(rowsInOrder: Row[]): string {
  // Grouped by scenario in order of first appearance (rounds and later phases add rows out of order).
  const scenarios = [...new Set(rowsInOrder.map((r) => r.scenario))];
  const data = scenarios.flatMap((sc) => rowsInOrder.filter((r) => r.scenario === sc));
  const head = ['scenario', 'metric', 'value', 'target'];
  const cells = data.map((r) => [r.scenario, r.metric, String(r.value), r.target ?? '']);
  const widths = head.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i]!.length)));
  const line = (c: string[]) => `| ${c.map((x, i) => x.padEnd(widths[i]!)).join(' | ')} |`;
  return [line(head), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...cells.map(line)].join('\n');
}

main().catch((err) => {
  console.error(`[bench] failed: ${(err as Error).stack ?? err}`);
  process.exit(1);
});
