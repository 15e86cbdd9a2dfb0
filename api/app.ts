// createApp(deps): the whole HTTP API as one Hono app, callable in tests with app.request() (no socket).
import { OpenAPIHono } from '@hono/zod-openapi';
import type { Connection } from '@temporalio/client';
import { previewSync } from '../activities/plan';
import { createBuiltinSource } from '../activities/sources/builtin';
import type { Config } from '../worker/config';
import { guardPolicy } from '../worker/runtime';
import { checkTemporal } from '../worker/temporal';
import { bearerAuth } from './auth';
import { DOCS_HTML } from './docs';
import { handleError, problemResponse, zodErrors } from './problem';
import { adminRoutes } from './routes/admins';
import { feedRoutes } from './routes/feeds';
import { healthRoutes } from './routes/health';
import { integrationRoutes } from './routes/integration';
import { itemRoutes } from './routes/items';
import { sourceRoutes } from './routes/source';
import { syncRoutes } from './routes/sync';
import { tokenRoutes } from './routes/tokens';
import type { AppDeps, AppEnv } from './types';

export function createApp(deps: AppDeps) {
  const app = new OpenAPIHono<AppEnv>({
    // Every validation failure, whichever route: 400 with each field's path and message.
    defaultHook: (result, c) => {
      if (!result.success) {
        const where = result.target === 'json' ? 'request body' : result.target === 'query' ? 'query string' : result.target === 'param' ? 'URL' : result.target;
        return problemResponse(c, 400, `The ${where} is not valid.`, zodErrors(result.error as never, result.target === 'query' ? 'query' : ''));
      }
    },
  });
  app.use('*', async (c, next) => {
    c.set('deps', deps);
    await next();
  });
  app.use('/api/*', bearerAuth(deps.db));
  app.openAPIRegistry.registerComponent('securitySchemes', 'bearer', { type: 'http', scheme: 'bearer' });

  for (const routes of [healthRoutes(), integrationRoutes(), adminRoutes(), syncRoutes(), itemRoutes(), sourceRoutes(), tokenRoutes()]) app.route('/', routes);
  app.route('/', feedRoutes());

  app.doc31('/openapi.json', {
    openapi: '3.1.0',
    info: { title: 'calendar-sync', version: '0.1.0', description: 'One-way export of a helpdesk calendar into admins’ calendars.' },
  });
  app.get('/docs', (c) => c.html(DOCS_HTML));
  app.notFound((c) => problemResponse(c, 404, `No route ${c.req.method} ${c.req.path}. See /docs for the API.`));
  app.onError((err, c) => handleError(err, c, deps.logger));
  return app;
}

export type App = ReturnType<typeof createApp>;

/** The app of a running process: preview over the built-in source, readiness from the Temporal connection. */
export function createAppFromConfig(config: Config, parts: Pick<AppDeps, 'db' | 'sealer' | 'fleet' | 'logger'> & { connection: Connection }) {
  const planDeps = { db: parts.db, source: createBuiltinSource(parts.db), policy: guardPolicy(config), batchSize: config.CALENDAR_SYNC_BATCH_SIZE };
  return createApp({
    ...parts,
    config,
    temporalHealth: () => checkTemporal(parts.connection),
    preview: (adminId) => previewSync(planDeps, adminId),
  });
}
