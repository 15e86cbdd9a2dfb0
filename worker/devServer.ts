// Runs `temporal server start-dev` as a child process: the embedded default and the test suite use it.
import { spawn } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import net from 'node:net';
import { Connection } from '@temporalio/client';
import { SEARCH_ATTRIBUTE_FLAGS } from '../workflows/searchAttributes';

export interface DevServerOptions {
  cliPath: string;
  port?: number;
  /** null → headless (no Web UI). */
  uiPort?: number | null;
  /** Persistent SQLite file; omitted → in memory. */
  dbFile?: string;
  namespace?: string;
  dynamicConfig?: Record<string, unknown>;
  logFile?: string;
}

export interface DevServer {
  address: string;
  uiUrl: string | null;
  pid: number;
  stop(): Promise<void>;
}

const canListen = (port: number) =>
  new Promise<boolean>((resolve) => {
    const server = net.createServer();
    server.unref();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });

/**
 * A port that is free now, picked below Linux's ephemeral range (32768+) so that outgoing connections
 * made in the meantime cannot take it before the caller binds it.
 */
export async function freePort(): Promise<number> {
  for (let attempt = 0; attempt < 200; attempt++) {
    const port = 20_000 + Math.floor(Math.random() * 12_000);
    if (await canListen(port)) return port;
  }
  throw new Error('No free port found between 20000 and 32000.');
}

const portInUse = (port: number) =>
  new Promise<boolean>((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    socket.once('connect', () => (socket.destroy(), resolve(true)));
    socket.once('error', () => resolve(false));
  });

export async function startDevServer(opts: DevServerOptions): Promise<DevServer> {
  const port = opts.port ?? (await freePort());
  if (await portInUse(port)) {
    throw new Error(`Port ${port} on 127.0.0.1 is already in use (another Temporal dev server?). Stop it, choose another TEMPORAL_PORT, or point TEMPORAL_ADDRESS at it.`);
  }
  if (opts.uiPort && (await portInUse(opts.uiPort))) {
    throw new Error(`Port ${opts.uiPort} for the Temporal Web UI is already in use; choose another TEMPORAL_UI_PORT.`);
  }
  const args = ['server', 'start-dev', '--ip', '127.0.0.1', '--port', String(port), '--log-level', 'error'];
  if (opts.uiPort) args.push('--ui-port', String(opts.uiPort));
  else args.push('--headless');
  if (opts.dbFile) args.push('--db-filename', opts.dbFile);
  if (opts.namespace && opts.namespace !== 'default') args.push('--namespace', opts.namespace);
  for (const flag of SEARCH_ATTRIBUTE_FLAGS) args.push('--search-attribute', flag);
  for (const [key, value] of Object.entries(opts.dynamicConfig ?? {})) args.push('--dynamic-config-value', `${key}=${JSON.stringify(value)}`);

  const child = spawn(opts.cliPath, args, { stdio: ['ignore', 'pipe', 'pipe'], detached: false });
  let tail = '';
  const log = opts.logFile ? createWriteStream(opts.logFile, { flags: 'a' }) : null;
  const collect = (d: Buffer) => {
    tail = (tail + d.toString()).slice(-4000);
    log?.write(d);
  };
  child.stdout!.on('data', collect);
  child.stderr!.on('data', collect);
  let exitCode: number | null | undefined;
  const exited = new Promise<void>((resolve) => child.once('exit', (code) => ((exitCode = code), resolve())));
  const killOnExit = () => child.kill('SIGKILL');
  process.once('exit', killOnExit);

  const address = `127.0.0.1:${port}`;
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (exitCode !== undefined) throw new Error(`The Temporal dev server exited (code ${exitCode}) while starting:\n${tail}`);
    try {
      const connection = await Connection.connect({ address, connectTimeout: 1000 });
      try {
        await connection.workflowService.getSystemInfo({});
        break;
      } finally {
        await connection.close();
      }
    } catch (err) {
      if (Date.now() > deadline) {
        child.kill('SIGKILL');
        throw new Error(`The Temporal dev server did not answer on ${address} within 60 s: ${(err as Error).message}\n${tail}`);
      }
      await new Promise((r) => setTimeout(r, 250));
    }
  }

  return {
    address,
    uiUrl: opts.uiPort ? `http://127.0.0.1:${opts.uiPort}` : null,
    pid: child.pid!,
    async stop() {
      process.removeListener('exit', killOnExit);
      if (exitCode === undefined) {
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
        await exited;
        clearTimeout(timer);
      }
      log?.end();
    },
  };
}
