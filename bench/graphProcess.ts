// The Graph emulator in a process of its own, so the benchmark measures the worker, not the emulator's TLS
// server on the same thread (a real Microsoft 365 is on other machines). The parent talks to it over the
// IPC channel: each message { id, op, args } is answered with { id, result } or { id, error }.
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { startGraphEmulator, type GraphApp } from '../test/fakes/graph';

export interface GraphProcessOptions {
  tenants: Record<string, Record<string, GraphApp>>;
  mailboxes: string[];
  latencyMs: number;
}

/** Counts of the Graph API requests (token requests excluded) the emulator has answered so far. */
export interface RequestCounts {
  total: number;
  get: number;
  post: number;
  writes: number;
}

export interface RemoteGraph {
  baseUrl: string;
  ca: string;
  pid: number;
  counts(): Promise<RequestCounts>;
  hasSubject(mailbox: string, subject: string): Promise<boolean>;
  eventCount(mailbox: string): Promise<number>;
  close(): Promise<void>;
}

type Request = { id: number; op: 'counts' | 'hasSubject' | 'eventCount' | 'close'; args: unknown[] };
type Reply = { id: number; result?: unknown; error?: string } | { ready: true; baseUrl: string; ca: string } | { failed: string };

export function startGraphProcess(opts: GraphProcessOptions): Promise<RemoteGraph> {
  const child: ChildProcess = fork(fileURLToPath(import.meta.url), ['--serve'], {
    execArgv: ['--import', 'tsx'],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  let nextId = 1;
  const call = <T>(op: Request['op'], ...args: unknown[]): Promise<T> =>
    new Promise((resolve, reject) => {
      const id = nextId++;
      pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
      child.send({ id, op, args } satisfies Request);
    });
  return new Promise((resolve, reject) => {
    child.once('exit', (code) => {
      const err = new Error(`the Graph emulator process exited (code ${code})`);
      for (const p of pending.values()) p.reject(err);
      reject(err);
    });
    child.on('message', (msg: Reply) => {
      if ('failed' in msg) return reject(new Error(`the Graph emulator process failed to start: ${msg.failed}`));
      if ('ready' in msg) {
        return resolve({
          baseUrl: msg.baseUrl,
          ca: msg.ca,
          pid: child.pid!,
          counts: () => call<RequestCounts>('counts'),
          hasSubject: (mailbox, subject) => call<boolean>('hasSubject', mailbox, subject),
          eventCount: (mailbox) => call<number>('eventCount', mailbox),
          close: async () => {
            child.removeAllListeners('exit');
            const exited = new Promise((r) => child.once('exit', r));
            child.send({ id: nextId++, op: 'close', args: [] });
            await exited;
          },
        });
      }
      const p = pending.get(msg.id);
      if (!p) return;
      pending.delete(msg.id);
      if (msg.error) p.reject(new Error(msg.error));
      else p.resolve(msg.result);
    });
    child.send({ id: 0, op: 'start', args: [opts] });
  });
}

async function serve() {
  let graph: Awaited<ReturnType<typeof startGraphEmulator>> | null = null;
  const send = (m: Reply) => process.send!(m);
  process.on('message', async (msg: { id: number; op: string; args: unknown[] }) => {
    try {
      if (msg.op === 'start') {
        const o = msg.args[0] as GraphProcessOptions;
        graph = await startGraphEmulator({ tenants: o.tenants, mailboxes: o.mailboxes });
        graph.setLatency(o.latencyMs);
        return send({ ready: true, baseUrl: graph.baseUrl, ca: graph.ca });
      }
      if (!graph) throw new Error('not started');
      if (msg.op === 'counts') {
        const c: RequestCounts = { total: 0, get: 0, post: 0, writes: 0 };
        for (const r of graph.requests) {
          if (!r.path.startsWith('/v1.0/')) continue;
          c.total++;
          if (r.method === 'GET') c.get++;
          else c.writes++;
          if (r.method === 'POST') c.post++;
        }
        return send({ id: msg.id, result: c });
      }
      if (msg.op === 'hasSubject') {
        const [mailbox, subject] = msg.args as [string, string];
        return send({ id: msg.id, result: graph.events(mailbox).some((e) => e.props.subject === subject) });
      }
      if (msg.op === 'eventCount') return send({ id: msg.id, result: graph.events(msg.args[0] as string).length });
      if (msg.op === 'close') process.exit(0);
      throw new Error(`unknown op ${msg.op}`);
    } catch (err) {
      if (msg.op === 'start') return send({ failed: (err as Error).message });
      send({ id: msg.id, error: (err as Error).message });
    }
  });
  process.on('disconnect', () => process.exit(0));
}

if (process.argv.includes('--serve') && process.send) void serve();
