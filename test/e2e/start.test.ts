// `npm start`'s embedded default as a user runs it: a child process with its own Temporal dev server,
// demo data, feeds that fill within the minute, a clean Ctrl-C, and data that survives a restart.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { freePort } from '../../worker/devServer';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

interface Started {
  child: ChildProcess;
  output: () => string;
  exited: Promise<number | null>;
}

function startApp(env: Record<string, string>): Promise<Started> {
  // As scripts/bootstrap.mjs runs it: node with the tsx loader, no wrapper process relaying signals.
  const child = spawn(process.execPath, ['--import', 'tsx', 'scripts/start.ts'], {
    cwd: ROOT,
    env: { ...process.env, DATABASE_URL: '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (out += d));
  const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`not running after 90 s:\n${out}`)), 90_000);
    child.stdout!.on('data', () => {
      if (out.includes('Press Ctrl-C to stop.')) {
        clearTimeout(timer);
        resolve({ child, output: () => out, exited });
      }
    });
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`exited with ${code} before it was running:\n${out}`));
    });
  });
}

const portOpen = (port: number) =>
  new Promise<boolean>((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    socket.once('connect', () => (socket.destroy(), resolve(true)));
    socket.once('error', () => resolve(false));
  });

const feedUrls = (out: string) => [...out.matchAll(/(http:\/\/\S+\/feeds\/\S+\.ics)/g)].map((m) => m[1]!);

let dataDir: string;
afterAll(async () => {
  if (dataDir) await rm(dataDir, { recursive: true, force: true });
});

describe('npm start (embedded default)', () => {
  it('serves demo feeds within a minute, stops cleanly on Ctrl-C and keeps its data across restarts', async () => {
    dataDir = await mkdtemp(path.join(tmpdir(), 'cs-start-'));
    const [port, temporalPort, uiPort] = [await freePort(), await freePort(), await freePort()];
    const env = {
      CALENDAR_SYNC_DATA_DIR: dataDir,
      PORT: String(port),
      TEMPORAL_PORT: String(temporalPort),
      TEMPORAL_UI_PORT: String(uiPort),
      TEMPORAL_CLI: inject('temporalCli'),
      TEMPORAL_ADDRESS: '',
      LOG_LEVEL: 'warn',
    };
    const first = await startApp(env);
    const out = first.output();
    expect(out).toContain('seeded demo admins and items');
    expect(out).toMatch(/Sysadmin token \(shown once, keep it\): cs_\S+/);
    expect(out).toContain(`Temporal UI:  http://127.0.0.1:${uiPort}`);
    const urls = feedUrls(out);
    expect(urls).toHaveLength(3);

    const deadline = Date.now() + 60_000;
    let bodies: string[] = [];
    while (Date.now() < deadline) {
      bodies = await Promise.all(urls.map(async (u) => (await fetch(u)).text()));
      if (bodies.every((b) => b.includes('BEGIN:VEVENT'))) break;
      await new Promise((r) => setTimeout(r, 500));
    }
    expect(bodies.every((b) => b.startsWith('BEGIN:VCALENDAR'))).toBe(true);
    const alice = bodies.find((b) => b.includes('X-WR-CALNAME:Alice Novak'))!;
    expect(alice).toContain('SUMMARY:Due: SR #1001 VPN drops every hour');
    expect(alice).toContain('DTSTART;VALUE=DATE:');
    // The closed SR is not exported (includeClosed is off for the demo admins).
    expect(alice).not.toContain('SR #1003');
    expect((await fetch(urls[0]!.replace(/\.ics$/, 'x.ics'))).status).toBe(404);
    expect((await fetch(`http://127.0.0.1:${uiPort}/`)).status).toBe(200);

    first.child.kill('SIGINT');
    expect(await first.exited).toBe(0);
    expect(first.output()).toContain('[calendar-sync] stopped.');
    expect(first.output()).not.toContain('while stopping');
    expect(await portOpen(temporalPort)).toBe(false);
    expect(await portOpen(port)).toBe(false);

    const second = await startApp(env);
    const out2 = second.output();
    expect(out2).not.toContain('seeded demo admins');
    expect(out2).not.toMatch(/shown once/);
    expect(feedUrls(out2)).toEqual(urls);
    const again = await (await fetch(urls[0]!)).text();
    expect(again).toContain('BEGIN:VEVENT');
    second.child.kill('SIGINT');
    expect(await second.exited).toBe(0);
  }, 240_000);
});
