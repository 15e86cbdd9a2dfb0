// `npm run worker` and `npm run api` as separate processes on PostgreSQL and an existing Temporal server.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { freePort } from '../../worker/devServer';
import { openTestDatabase } from '../helpers/db';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const children: ChildProcess[] = [];
let closeDb: (() => Promise<void>) | null = null;

function run(entry: string, env: Record<string, string>) {
  const child = spawn(process.execPath, ['--import', 'tsx', entry], { cwd: ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  let out = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (out += d));
  const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
  return { child, output: () => out, exited };
}

afterAll(async () => {
  for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
  await closeDb?.();
});

describe.skipIf(!process.env.DATABASE_URL)('separate worker and API processes', () => {
  it('refuse to start without a shared database, with a message that says what to set', async () => {
    const worker = run('worker/main.ts', { DATABASE_URL: '', TEMPORAL_ADDRESS: inject('temporalAddress') });
    expect(await worker.exited).toBe(1);
    expect(worker.output()).toContain('DATABASE_URL is required when the worker and the API run as separate processes');
    const api = run('api/main.ts', { DATABASE_URL: 'postgres://postgres@127.0.0.1:5432/test', CALENDAR_SYNC_SECRET_KEY: '' });
    expect(await api.exited).toBe(1);
    expect(api.output()).toContain('CALENDAR_SYNC_SECRET_KEY is required with a shared database');
  });

  it('sync an admin end to end over HTTP', async () => {
    const database = await openTestDatabase('postgres');
    closeDb = () => database.close();
    const port = await freePort();
    const token = `cs_${randomBytes(24).toString('base64url')}`;
    const env = {
      DATABASE_URL: database.url!,
      CALENDAR_SYNC_SECRET_KEY: randomBytes(32).toString('base64'),
      CALENDAR_SYNC_ADMIN_TOKEN: token,
      TEMPORAL_ADDRESS: inject('temporalAddress'),
      CALENDAR_SYNC_TASK_QUEUE: `separate-${randomBytes(4).toString('hex')}`,
      PORT: String(port),
      LOG_LEVEL: 'warn',
    };
    const worker = run('worker/main.ts', env);
    const api = run('api/main.ts', env);
    const base = `http://127.0.0.1:${port}`;
    const call = async (method: string, path: string, body?: unknown) => {
      const res = await fetch(base + path, { method, headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: body ? JSON.stringify(body) : undefined });
      return { status: res.status, json: (await res.json().catch(() => null)) as any };
    };
    const deadline = Date.now() + 60_000;
    while (Date.now() < deadline) {
      const ready = await fetch(`${base}/readyz`).catch(() => null);
      if (ready?.status === 200) break;
      await new Promise((r) => setTimeout(r, 300));
    }
    expect((await fetch(`${base}/readyz`)).status).toBe(200);
    const adminId = `sep-${randomBytes(3).toString('hex')}`;
    expect((await call('PUT', `/api/admins/${adminId}`, { displayName: 'Sep', email: 'sep@example.test', timeZone: 'UTC' })).status).toBe(200);
    expect((await call('POST', '/api/integration/enable')).status).toBe(200);
    await call('PUT', '/api/calendar-items/sysaid:sr:1:due?sync=later', { adminId, type: 'sr_due', title: 'Separate', timing: { kind: 'deadline', atUtc: new Date(Date.now() + 86_400_000).toISOString() }, statusClass: 'open' });
    expect((await call('PUT', `/api/admins/${adminId}/calendar-settings`, { syncEnabled: true })).status).toBe(200);
    const feedUrl = (await call('GET', `/api/admins/${adminId}`)).json.feedUrl as string;
    let feed = '';
    while (Date.now() < deadline + 60_000 && !feed.includes('SUMMARY:Due: Separate')) {
      feed = await (await fetch(feedUrl)).text();
      await new Promise((r) => setTimeout(r, 300));
    }
    expect(feed).toContain('SUMMARY:Due: Separate');
    const sync = await call('GET', `/api/admins/${adminId}/sync`);
    expect(sync.json).toMatchObject({ running: true, state: 'idle', lastRun: { error: null } });
    api.child.kill('SIGTERM');
    worker.child.kill('SIGTERM');
    expect(await api.exited).toBe(0);
    expect(await worker.exited).toBe(0);
    expect(worker.output()).not.toContain(token);
    expect(api.output()).not.toContain(token);
  }, 180_000);
});
