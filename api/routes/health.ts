import { createRoute, OpenAPIHono, z } from '@hono/zod-openapi';
import { sql } from 'drizzle-orm';
import { json } from '../openapi';
import type { AppEnv } from '../types';

const withTimeout = <T>(p: Promise<T>, ms: number) =>
  Promise.race([p, new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms).unref())]);

const Health = z.object({ status: z.literal('ok') });
const Ready = z.object({ db: z.string(), temporal: z.string() });

export function healthRoutes() {
  const app = new OpenAPIHono<AppEnv>();
  app.openapi(createRoute({ method: 'get', path: '/healthz', tags: ['health'], summary: 'The process is up', responses: { 200: json(Health, 'Up') } }), (c) =>
    c.json({ status: 'ok' as const }, 200),
  );
  app.openapi(
    createRoute({
      method: 'get',
      path: '/readyz',
      tags: ['health'],
      summary: 'The database and Temporal answer',
      responses: { 200: json(Ready, 'Ready'), 503: json(Ready, 'Something is down') },
    }),
    async (c) => {
      const { db, temporalHealth } = c.get('deps');
      const check = async (fn: () => Promise<unknown>) => {
        try {
          await withTimeout(fn(), 3000);
          return 'ok';
        } catch (err) {
          return `down: ${(err as Error).message}`;
        }
      };
      const [dbState, temporalState] = await Promise.all([check(() => db.execute(sql`select 1`)), check(temporalHealth)]);
      const body = { db: dbState, temporal: temporalState };
      return dbState === 'ok' && temporalState === 'ok' ? c.json(body, 200) : c.json(body, 503);
    },
  );
  return app;
}
