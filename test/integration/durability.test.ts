// Durability: a worker killed between a provider write and its link write, continue-as-new, replay.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { Worker } from '@temporalio/worker';
import { historyFromJSON, historyToJSON } from '@temporalio/common/lib/proto-utils';
import { afterEach, describe, expect, inject, it } from 'vitest';
import { adminWorkflowId } from '../../workflows/ids';
import { createHarness, type Harness } from '../helpers/harness';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const inDays = (days: number) => new Date(Date.now() + days * 86_400_000).toISOString();

let h: Harness;
const children: ChildProcess[] = [];
afterEach(async () => {
  for (const c of children.splice(0)) if (c.exitCode === null) c.kill('SIGKILL');
  await h?.close();
});

function spawnWorker(env: Record<string, string>): Promise<ChildProcess> {
  // node --import tsx: one process (the tsx CLI would wrap it in a second), so SIGKILL hits the worker itself.
  const child = spawn(process.execPath, ['--import', 'tsx', 'test/helpers/childWorker.ts'], {
    cwd: ROOT,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(child);
  let stderr = '';
  child.stderr!.on('data', (d) => (stderr += d));
  return new Promise((resolve, reject) => {
    child.stdout!.on('data', (d) => String(d).includes('worker ready') && resolve(child));
    child.on('exit', (code) => reject(new Error(`child worker exited (${code}) before it was ready: ${stderr}`)));
  });
}

describe('durability', () => {
  it.skipIf(!process.env.DATABASE_URL)(
    'a worker killed between an event write and its link write leaves one event per item, none lost',
    async () => {
      h = await createHarness({ dbKind: 'postgres', noWorker: true });
      const gus = await h.addAdmin('gus');
      const items = 40;
      for (let i = 0; i < items; i++) {
        await h.putItem(`sysaid:sr:${i}:due`, { adminId: gus, type: 'sr_due', title: `SR ${String(i).padStart(2, '0')}`, timing: { kind: 'deadline', atUtc: inDays(1 + i / 10) }, statusClass: 'open' });
      }
      const secretKey = randomBytes(32).toString('base64');
      const env = {
        DATABASE_URL: h.database.url!,
        TEMPORAL_ADDRESS: inject('temporalAddress'),
        TASK_QUEUE: h.taskQueue,
        WORKFLOW_BUNDLE: inject('workflowBundlePath'),
        SECRET_KEY: secretKey,
        BATCH_SIZE: '10',
      };
      const doomed = await spawnWorker({ ...env, CRASH_AFTER_CREATES: '17', PROVIDER_DELAY_MS: '20' });
      const died = new Promise<NodeJS.Signals | null>((r) => doomed.on('exit', (_c, sig) => r(sig)));
      await h.fleet.ensureStarted(gus);
      expect(await died).toBe('SIGKILL');
      // The 17th event (and maybe others in flight beside it) was written but its link was not:
      // the crash window for duplicates.
      const written = (await h.feed(gus)).length;
      const linked = (await h.links(gus)).filter((l) => l.state === 'synced').length;
      expect(written).toBeGreaterThanOrEqual(17);
      expect(written).toBeLessThan(items);
      expect(linked).toBeLessThan(written);

      await spawnWorker(env);
      const run = await h.eventually(async () => (await h.fleet.status(gus))?.lastRun, 90_000, 'run completed after restart');
      expect(run.error).toBeNull();
      expect(run.counts).toMatchObject({ created: items, failed: 0 });
      const feed = await h.feed(gus);
      expect(feed).toHaveLength(items);
      expect(new Set(feed.map((e) => e.marker)).size).toBe(items);
      expect(feed.map((e) => e.event.title)).toEqual(Array.from({ length: items }, (_, i) => `Due: SR ${String(i).padStart(2, '0')}`));
      const links = await h.links(gus);
      expect(links.filter((l) => l.state === 'synced')).toHaveLength(items);
    },
    150_000,
  );

  it('continues as new without losing state or a signal that arrived before it', async () => {
    h = await createHarness();
    const hal = await h.addAdmin('hal');
    await h.putItem('sysaid:sr:1:due', { adminId: hal, type: 'sr_due', title: 'One', timing: { kind: 'deadline', atUtc: inDays(1) }, statusClass: 'open' });
    await h.fleet.ensureStarted(hal);
    const first = await h.eventually(async () => (await h.fleet.status(hal))?.lastRun, 30_000, 'first run');
    const handle = h.client.workflow.getHandle(adminWorkflowId(hal));
    const firstRunId = (await handle.describe()).runId;

    await h.fleet.pause(hal, 'manual', 'testing continue-as-new');
    await h.putItem('sysaid:sr:2:due', { adminId: hal, type: 'sr_due', title: 'Two', timing: { kind: 'deadline', atUtc: inDays(2) }, statusClass: 'open' });
    // Signals grow the history past the (lowered) suggestion threshold while the entity is paused.
    const d = await h.eventually(async () => {
      for (let i = 0; i < 10; i++) await h.fleet.signal(hal, 'syncNow');
      const desc = await handle.describe();
      return desc.runId !== firstRunId ? desc : null;
    }, 90_000, 'continue-as-new');
    expect(d.status.name).toBe('RUNNING');

    const carried = await h.fleet.status(hal);
    expect(carried).toMatchObject({ state: 'paused', pausedReason: 'manual', pausedMessage: 'testing continue-as-new', totals: { runs: 1 } });
    expect(carried?.lastRun?.runId).toBe(first.runId);
    expect(await h.feed(hal)).toHaveLength(1);
    // The pending syncNow crossed over: resuming syncs at once, without another request.
    await h.fleet.resume(hal);
    await h.eventually(async () => (await h.feed(hal)).length === 2, 30_000, 'sync after resume');
    await h.eventually(async () => ((await h.fleet.status(hal))?.totals.runs ?? 0) >= 2, 30_000, 'the run counted in the carried totals');
  });

  it('replays recorded histories against the current workflow code', async () => {
    h = await createHarness();
    const ivy = await h.addAdmin('ivy');
    await h.putItem('sysaid:sr:1:due', { adminId: ivy, type: 'sr_due', title: 'One', timing: { kind: 'deadline', atUtc: inDays(1) }, statusClass: 'open' });
    await h.fleet.ensureStarted(ivy);
    await h.eventually(async () => (await h.fleet.status(ivy))?.lastRun, 30_000, 'first run');
    await h.putItem('sysaid:sr:2:due', { adminId: ivy, type: 'sr_due', title: 'Two', timing: { kind: 'deadline', atUtc: inDays(2) }, statusClass: 'open' });
    await h.fleet.runNow(ivy, 30_000);
    await h.fleet.pause(ivy, 'manual');
    await h.fleet.resume(ivy);
    const history = await h.client.workflow.getHandle(adminWorkflowId(ivy)).fetchHistory();
    // Through JSON, as operators export histories from the CLI or UI.
    const roundTripped = historyFromJSON(JSON.parse(historyToJSON(history)));
    const workflowBundle = { codePath: inject('workflowBundlePath') };
    await Worker.runReplayHistory({ workflowBundle }, roundTripped, adminWorkflowId(ivy));
    // RECORD_GOLDEN=<name> records this history as a new golden file (do it before changing the workflow).
    if (process.env.RECORD_GOLDEN) await writeFile(fileURLToPath(new URL(`../histories/${process.env.RECORD_GOLDEN}.json`, import.meta.url)), historyToJSON(history));

    // Golden histories committed under test/histories must keep replaying: a change that breaks them needs a patch().
    const dir = fileURLToPath(new URL('../histories', import.meta.url));
    const golden = (await readdir(dir)).filter((f) => f.endsWith('.json'));
    expect(golden.length).toBeGreaterThan(0);
    for (const file of golden) {
      const recorded = historyFromJSON(JSON.parse(await readFile(`${dir}/${file}`, 'utf8')));
      await Worker.runReplayHistory({ workflowBundle }, recorded, file);
    }
  });
});
