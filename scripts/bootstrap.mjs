#!/usr/bin/env node
// Runs before every npm script: installs what is missing (npm dependencies, the Temporal CLI) for start, test and
// bench, checks it for worker and api, then hands over to the real entry point through tsx. Plain Node with no
// dependencies: node_modules may not exist yet.
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { accessSync, constants, existsSync, mkdirSync, readFileSync } from 'node:fs';
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

/** Commands that install what is missing. The production processes (worker, api) only check: several of them
 *  started together on one checkout would otherwise run npm ci in the same folder at once. */
const INSTALLS = new Set(['start', 'test', 'bench']);

/**
 * What is wrong with the installed packages, or null when node_modules holds what package-lock.json asks for.
 * npm records the tree it installed in node_modules/.package-lock.json (its hidden lockfile), so a plain
 * `npm ci` counts as much as one run from here; dev and optional packages may be left out (npm ci --omit=dev).
 */
function dependencyProblem() {
  const lock = path.join(ROOT, 'package-lock.json');
  if (!existsSync(lock)) fail('package-lock.json is missing: restore it from git (git checkout package-lock.json).');
  const installed = path.join(ROOT, 'node_modules', '.package-lock.json');
  if (!existsSync(installed)) return 'node_modules is missing';
  const wanted = JSON.parse(readFileSync(lock, 'utf8')).packages ?? {};
  const have = JSON.parse(readFileSync(installed, 'utf8')).packages ?? {};
  for (const [where, pkg] of Object.entries(wanted)) {
    if (!where || pkg.link) continue;
    const got = have[where];
    if (got ? got.version !== pkg.version : !(pkg.dev || pkg.optional || pkg.devOptional)) return `${where.replace(/^.*node_modules\//, '')} ${pkg.version} is not installed${got ? ` (found ${got.version})` : ''}`;
  }
  return null;
}

function ensureDependencies(command) {
  const problem = dependencyProblem();
  if (!problem) {
    say('npm dependencies are up to date');
    return;
  }
  if (!INSTALLS.has(command)) fail(`dependencies are missing or out of date (${problem}): run npm ci (or npm start / npm test, which install), then npm run ${command} again.`);
  say(`${problem}: installing npm dependencies (npm ci)`);
  const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
  const res = spawnSync(npm, ['ci', '--no-audit', '--no-fund'], { cwd: ROOT, stdio: 'inherit' });
  if (res.status !== 0) fail('npm ci failed (see above). Check that the npm registry is reachable, then run the command again.');
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
  ensureDependencies(command);
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
