#!/usr/bin/env node
// Runs before every npm script: installs what is missing (npm dependencies, the Temporal CLI), then hands
// over to the real entry point through tsx. Plain Node with no dependencies: node_modules may not exist yet.
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { accessSync, constants, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const TEMPORAL_VERSION = '1.5.1';
const TEMPORAL_MODULE = `github.com/temporalio/cli/cmd/temporal@v${TEMPORAL_VERSION}`;
const TOOLS_BIN = path.join(ROOT, '.tools', 'bin');
const ENTRY = {
  start: ['scripts/start.ts'],
  worker: ['worker/main.ts'],
  api: ['api/main.ts'],
  bench: ['bench/run.ts'],
};

const say = (msg) => console.error(`[calendar-sync] ${msg}`);
function fail(msg) {
  console.error(`[calendar-sync] ERROR: ${msg}`);
  process.exit(1);
}

function checkNode() {
  const [major, minor] = process.versions.node.split('.').map(Number);
  if (major < 20 || (major === 20 && minor < 3)) fail(`Node.js ${process.versions.node} is too old: calendar-sync needs Node.js 20.3 or later.`);
}

function ensureDependencies() {
  const lock = path.join(ROOT, 'package-lock.json');
  if (!existsSync(lock)) fail('package-lock.json is missing: restore it from git (git checkout package-lock.json).');
  const hash = createHash('sha256').update(readFileSync(lock)).digest('hex');
  const stamp = path.join(ROOT, 'node_modules', '.calendar-sync-lock-hash');
  if (existsSync(stamp) && readFileSync(stamp, 'utf8').trim() === hash) {
    say('npm dependencies are up to date');
    return;
  }
  say(existsSync(path.join(ROOT, 'node_modules')) ? 'package-lock.json changed: reinstalling npm dependencies (npm ci)' : 'installing npm dependencies (npm ci, first run only)');
  const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
  const res = spawnSync(npm, ['ci', '--no-audit', '--no-fund'], { cwd: ROOT, stdio: 'inherit' });
  if (res.status !== 0) fail('npm ci failed (see above). Check that the npm registry is reachable, then run the command again.');
  writeFileSync(stamp, hash + '\n');
}

function runs(bin) {
  try {
    return execFileSync(bin, ['--version'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 20_000 }).trim();
  } catch {
    return null;
  }
}

function onPath(name) {
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
    const candidate = path.join(dir, name);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not here
    }
  }
  return null;
}

function ensureTemporalCli() {
  const candidates = [
    ['TEMPORAL_CLI', process.env.TEMPORAL_CLI],
    ['PATH', onPath('temporal')],
    ['.tools/bin', path.join(TOOLS_BIN, 'temporal')],
  ];
  for (const [where, bin] of candidates) {
    if (!bin) continue;
    const version = runs(bin);
    if (version) {
      say(`Temporal CLI: ${bin} (${version.split('\n')[0]}, from ${where})`);
      return bin;
    }
    if (where === 'TEMPORAL_CLI') fail(`TEMPORAL_CLI=${bin} does not run. Point it at a working temporal binary, or unset it.`);
  }
  const go = onPath('go');
  const howTo = `Install it with \`GOBIN=${TOOLS_BIN} go install ${TEMPORAL_MODULE}\` (needs Go 1.25+), or set TEMPORAL_CLI to a temporal binary, or set TEMPORAL_ADDRESS to an existing Temporal server (npm start only).`;
  if (!go) fail(`The Temporal CLI was not found and Go is not installed to build it. ${howTo}`);
  say(`building the Temporal CLI v${TEMPORAL_VERSION} into .tools/bin with go install (first run only; takes a few minutes)`);
  mkdirSync(TOOLS_BIN, { recursive: true });
  const res = spawnSync(go, ['install', '-ldflags', `-X github.com/temporalio/cli/temporalcli.Version=${TEMPORAL_VERSION}`, TEMPORAL_MODULE], {
    cwd: ROOT,
    stdio: 'inherit',
    env: { ...process.env, GOBIN: TOOLS_BIN, GOFLAGS: `${process.env.GOFLAGS ?? ''} -buildvcs=false`.trim() },
  });
  const bin = path.join(TOOLS_BIN, 'temporal');
  if (res.status !== 0 || !runs(bin)) fail(`Building the Temporal CLI failed (see above). ${howTo}`);
  say(`Temporal CLI built: ${bin}`);
  return bin;
}

/** Debian packages the tests drive as real servers and clients (chromium, radicale, vdirsyncer, prometheus). */
function ensureDebianPackages() {
  const res = spawnSync('bash', [path.join(ROOT, 'scripts', 'debian-packages.sh')], { cwd: ROOT, stdio: 'inherit' });
  if (res.status !== 0) fail('the Debian packages the tests need are missing (see above).');
}

function reachable(port, host = '127.0.0.1') {
  return new Promise((resolve) => {
    const socket = net.connect({ port, host, timeout: 1000 });
    socket.once('connect', () => (socket.destroy(), resolve(true)));
    socket.once('timeout', () => (socket.destroy(), resolve(false)));
    socket.once('error', () => resolve(false));
  });
}

function run(bin, args, env) {
  return new Promise((resolve) => {
    const child = spawn(bin, args, { cwd: ROOT, stdio: 'inherit', env });
    const forward = (sig) => child.kill(sig);
    process.on('SIGINT', forward);
    process.on('SIGTERM', forward);
    child.on('exit', (code, signal) => {
      process.off('SIGINT', forward);
      process.off('SIGTERM', forward);
      resolve(code ?? (signal ? 1 : 0));
    });
  });
}

async function main() {
  const [command, ...rest] = process.argv.slice(2);
  if (!['start', 'test', 'worker', 'api', 'bench'].includes(command)) fail(`unknown command "${command}": use start, test, worker, api or bench.`);
  checkNode();
  ensureDependencies();
  const env = { ...process.env };
  const needsCli = command === 'test' || command === 'bench' || (command === 'start' && !process.env.TEMPORAL_ADDRESS);
  if (needsCli) env.TEMPORAL_CLI = ensureTemporalCli();
  if (command === 'test' || command === 'bench') ensureDebianPackages();
  const bin = (name) => path.join(ROOT, 'node_modules', '.bin', name);

  // Tests run on PGlite and, when a server answers, PostgreSQL too; the benchmark measures on PostgreSQL
  // (production's database) when it can, PGlite otherwise (it runs on the worker's own thread: slower).
  if ((command === 'test' || command === 'bench') && !env.DATABASE_URL) {
    if (await reachable(5432)) {
      env.DATABASE_URL = 'postgres://postgres@127.0.0.1:5432/test';
      say(`PostgreSQL answers on 127.0.0.1:5432: ${command === 'test' ? 'database tests run on PGlite and PostgreSQL' : 'the benchmark uses it'} (${env.DATABASE_URL})`);
    } else {
      say(`no PostgreSQL on 127.0.0.1:5432 (set DATABASE_URL to use one): ${command === 'test' ? 'database tests run on PGlite only' : 'the benchmark uses embedded PGlite'}`);
    }
  }
  if (command === 'test') {
    say('type-checking (tsc --noEmit)');
    const tsc = await run(bin('tsc'), ['--noEmit', '-p', '.'], env);
    if (tsc !== 0) fail('type-checking failed (see above).');
    say('running the test suite (vitest run)');
    const summary = path.join(ROOT, '.test-tmp', 'vitest-summary.json');
    mkdirSync(path.dirname(summary), { recursive: true });
    const code = await run(bin('vitest'), ['run', '--reporter=default', '--reporter=json', `--outputFile.json=${summary}`, ...rest], env);
    // One plain closing line with the counts, whatever reporter the terminal shows.
    try {
      const r = JSON.parse(readFileSync(summary, 'utf8'));
      const skipped = r.numPendingTests + r.numTodoTests;
      console.log(`tests: ${r.numPassedTests} passed, ${r.numFailedTests} failed${skipped ? `, ${skipped} skipped` : ''}`);
    } catch {
      say('no test summary was written (see the output above).');
    }
    process.exit(code);
  }
  say(`starting ${ENTRY[command][0]}`);
  // The benchmark samples memory after a forced collection, so per-cycle growth is not hidden by garbage.
  const nodeFlags = command === 'bench' ? ['--expose-gc'] : [];
  process.exit(await run(process.execPath, [...nodeFlags, '--import', 'tsx', ...ENTRY[command], ...rest], env));
}

main().catch((err) => fail(err?.stack ?? String(err)));
