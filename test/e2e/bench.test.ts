// A smoke-sized run of `npm run bench`, so the benchmark keeps working; its numbers are not judged here.
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, inject, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

describe('benchmark (smoke size)', () => {
  it('runs every scenario and prints the table, with no provider writes in the steady state', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'cs-bench-'));
    const out = path.join(dir, 'bench.json');
    try {
      const child = spawn(process.execPath, ['--expose-gc', '--import', 'tsx', 'bench/run.ts', '--admins', '2', '--items', '5', '--repeat', '2', '--single', '20', '--idle', '3', '--cycles', '2', '--latency', '5', '--out', out], {
        cwd: ROOT,
        env: { ...process.env, TEMPORAL_CLI: inject('temporalCli') },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d) => (stdout += d));
      child.stderr.on('data', (d) => (stderr += d));
      const code = await new Promise<number | null>((r) => child.on('exit', r));
      expect(code, stderr).toBe(0);
      expect(stdout).toMatch(/^\| scenario\s+\| metric/m);
      const { rows } = JSON.parse(await readFile(out, 'utf8')) as { rows: Array<{ scenario: string; metric: string; value: number | string }> };
      const value = (scenario: string, metric: string) => rows.find((r) => r.scenario === scenario && r.metric === metric)?.value;
      expect(value('steady', 'provider writes')).toBe(0);
      expect(value('steady', 'provider reads per admin')).toBe(1);
      expect(value('initial', 'provider requests per event')).toBeLessThan(1.5);
      // Our own bookkeeping without the provider: plan + apply of 5 items each, in a few queries.
      expect(value('own cost', 'DB queries per admin-run')).toBeGreaterThanOrEqual(10);
      expect(value('own cost', 'DB queries per admin-run')).toBeLessThanOrEqual(20);
      // Two rounds of initial sync + plain loop, each a ratio; the median is the one judged.
      const perRound = String(value('baseline', 'ours ÷ baseline per round')).split(' ').map(Number);
      expect(perRound).toHaveLength(2);
      expect(perRound.every((r) => r > 0)).toBe(true);
      expect(value('baseline', 'ours ÷ baseline, median of 2 rounds')).toBeCloseTo((perRound[0]! + perRound[1]!) / 2, 1);
      expect(new Set(rows.map((r) => r.scenario))).toEqual(new Set(['initial', 'steady', 'incremental', 'baseline', 'own cost', 'single mailbox', 'idle fleet']));
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }, 240_000);
});
