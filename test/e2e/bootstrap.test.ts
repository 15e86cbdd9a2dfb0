// scripts/bootstrap.mjs on a checkout whose packages are missing or out of date: the production processes
// (npm run worker, npm run api) refuse with what to do and never install; npm start / test / bench install.
// Each case runs the real bootstrap in a temporary copy of the project's manifest and lock, with an `npm` first
// on PATH that only records how it was called (and, for an install, writes what npm ci leaves behind).
import { spawn } from 'node:child_process';
import { chmod, cp, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const REFUSAL = /dependencies are missing or out of date \((.+)\): run npm ci \(or npm start \/ npm test, which install\), then npm run (worker|api) again\./;

let dir = '';
afterEach(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
  dir = '';
});

/** A checkout: package.json, package-lock.json and the bootstrap; `installed` is what npm recorded in node_modules, if anything. */
async function checkout(installed: 'nothing' | 'current' | 'stale') {
  dir = await mkdtemp(path.join(tmpdir(), 'calendar-sync-bootstrap-'));
  await mkdir(path.join(dir, 'scripts'));
  await cp(path.join(ROOT, 'scripts', 'bootstrap.mjs'), path.join(dir, 'scripts', 'bootstrap.mjs'));
  await cp(path.join(ROOT, 'package.json'), path.join(dir, 'package.json'));
  const lock = JSON.parse(await readFile(path.join(ROOT, 'package-lock.json'), 'utf8'));
  await writeFile(path.join(dir, 'package-lock.json'), JSON.stringify(lock, null, 2));
  if (installed !== 'nothing') {
    // What npm ci records: the tree it installed. Stale: the lock moved on to a newer hono since.
    const packages = { ...lock.packages };
    delete packages[''];
    if (installed === 'stale') packages['node_modules/hono'] = { ...packages['node_modules/hono'], version: '4.0.0' };
    await mkdir(path.join(dir, 'node_modules'));
    await writeFile(path.join(dir, 'node_modules', '.package-lock.json'), JSON.stringify({ name: lock.name, lockfileVersion: 3, packages }));
  }
  const bin = path.join(dir, 'bin');
  await mkdir(bin);
  const hidden = JSON.stringify({ name: lock.name, lockfileVersion: 3, packages: Object.fromEntries(Object.entries(lock.packages).filter(([k]) => k)) });
  await writeFile(path.join(dir, 'installed.json'), hidden);
  await writeFile(
    path.join(bin, 'npm'),
    `#!/bin/sh\necho "npm $*" >> "${path.join(dir, 'npm-calls.log')}"\nsleep 1\nmkdir -p "${path.join(dir, 'node_modules')}" && cp "${path.join(dir, 'installed.json')}" "${path.join(dir, 'node_modules', '.package-lock.json')}"\n`,
  );
  await chmod(path.join(bin, 'npm'), 0o755);
}

const npmCalls = async () => (existsSync(path.join(dir, 'npm-calls.log')) ? (await readFile(path.join(dir, 'npm-calls.log'), 'utf8')).trim().split('\n') : []);

/** Runs `node scripts/bootstrap.mjs <command>` in the checkout; resolves with its exit code and output. */
function bootstrap(command: string): Promise<{ code: number | null; output: string }> {
  const child = spawn(process.execPath, ['scripts/bootstrap.mjs', command], {
    cwd: dir,
    // An address keeps npm start from looking for the Temporal CLI: only the packages are under test.
    env: { ...process.env, PATH: `${path.join(dir, 'bin')}${path.delimiter}${process.env.PATH}`, TEMPORAL_ADDRESS: '127.0.0.1:1' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (d) => (output += d));
  child.stderr.on('data', (d) => (output += d));
  return new Promise((resolve) => child.on('exit', (code) => resolve({ code, output })));
}

describe('scripts/bootstrap.mjs', () => {
  it('npm run worker and npm run api, started together on a checkout without packages, refuse with what to do and install nothing', async () => {
    await checkout('nothing');
    const [worker, api] = await Promise.all([bootstrap('worker'), bootstrap('api')]);
    for (const [name, run] of [['worker', worker], ['api', api]] as const) {
      expect(run.code, run.output).toBe(1);
      expect(run.output).toMatch(REFUSAL);
      expect(REFUSAL.exec(run.output)!.slice(1)).toEqual(['node_modules is missing', name]);
    }
    expect(await npmCalls()).toEqual([]);
    expect(existsSync(path.join(dir, 'node_modules'))).toBe(false);
  });

  it('refuses packages older than the lock and names the one that differs', async () => {
    await checkout('stale');
    const run = await bootstrap('api');
    expect(run.code).toBe(1);
    expect(REFUSAL.exec(run.output)?.[1]).toBe('hono 4.13.19 is not installed (found 4.0.0)');
    expect(await npmCalls()).toEqual([]);
  });

  it('accepts packages a plain npm ci installed, and goes on to start the process', async () => {
    await checkout('current');
    const run = await bootstrap('worker');
    expect(run.output).toContain('npm dependencies are up to date');
    expect(run.output).toContain('starting worker/main.ts');
    expect(await npmCalls()).toEqual([]);
  });

  it('npm start installs what is missing with npm ci, once', async () => {
    await checkout('stale');
    const run = await bootstrap('start');
    expect(run.output).toContain('hono 4.13.19 is not installed (found 4.0.0): installing npm dependencies (npm ci)');
    expect(run.output).toContain('starting scripts/start.ts');
    expect(await npmCalls()).toEqual(['npm ci --no-audit --no-fund']);
  });
});
