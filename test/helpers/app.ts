// The whole API over a real stack (harness: real DB, real Temporal, real worker), called with app.request().
import { Writable } from 'node:stream';
import { previewSync } from '../../activities/plan';
import { createApp } from '../../api/app';
import { createToken } from '../../api/auth';
import { loadConfig } from '../../worker/config';
import { checkTemporal } from '../../worker/temporal';
import { createLogger } from '../../worker/logger';
import { createHarness, type HarnessOptions } from './harness';

export async function createTestApp(opts: HarnessOptions = {}) {
  const h = await createHarness(opts);
  const logLines: string[] = [];
  const logger = createLogger(
    'debug',
    new Writable({
      write(chunk, _enc, cb) {
        logLines.push(String(chunk));
        cb();
      },
    }),
  );
  const config = loadConfig({ CALENDAR_SYNC_PUBLIC_URL: 'https://calendar.example.test' });
  const app = createApp({
    db: h.db,
    sealer: h.sealer,
    fleet: h.fleet,
    config,
    logger,
    temporalHealth: () => checkTemporal(h.connection),
    preview: (adminId) => previewSync({ db: h.db, source: h.source, policy: h.deps.policy, batchSize: h.deps.batchSize }, adminId),
  });
  const sysadmin = (await createToken(h.db, { name: 'test sysadmin', role: 'sysadmin', adminId: null })).value;

  /** A JSON request; `token` null sends no Authorization header. */
  async function call(method: string, path: string, body?: unknown, token: string | null = sysadmin) {
    const headers: Record<string, string> = {};
    if (token) headers.authorization = `Bearer ${token}`;
    if (body !== undefined) headers['content-type'] = 'application/json';
    const res = await app.request(path, { method, headers, body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body) });
    const text = await res.text();
    let json: any = null;
    try {
      json = text ? JSON.parse(text) : null;
    } catch {
      json = null;
    }
    return { status: res.status, json, text, headers: res.headers };
  }

  return { ...h, app, call, sysadmin, logLines };
}

export type TestApp = Awaited<ReturnType<typeof createTestApp>>;
