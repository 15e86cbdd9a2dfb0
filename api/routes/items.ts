// The built-in source: items pushed by other systems (and the demo data).
import { createRoute, OpenAPIHono, z } from '@hono/zod-openapi';
import { and, eq, isNull } from 'drizzle-orm';
import { deleteItem, rowToItem, saveItem } from '../../activities/sources/builtin';
import { isReaderKey } from '../../activities/sources/sysaid/mapping';
import { calendarItemInput, ITEM_KEY_RE, normaliseItem } from '../../activities/sync/items';
import { audit, getSourceConfig } from '../../db/repositories';
import { admins, calendarItems } from '../../db/schema';
import { requireAdminAccess, requireSysadmin } from '../auth';
import { errors, json, jsonBody, Loose, security } from '../openapi';
import { conflict, notFound } from '../problem';
import type { AppDeps, AppEnv } from '../types';

const KeyParam = z.object({
  itemKey: z
    .string()
    .regex(ITEM_KEY_RE, 'itemKey must be 1-200 letters, digits, colons, dots, dashes or underscores, e.g. sysaid:sr:42:due')
    .openapi({ param: { name: 'itemKey', in: 'path' }, example: 'sysaid:sr:42:due' }),
});
const SyncQuery = z.object({
  sync: z.enum(['now', 'later'], { error: 'sync must be "now" (default) or "later"' }).default('now'),
});

async function requireAdmin(deps: AppDeps, adminId: string) {
  const [row] = await deps.db.select({ id: admins.id }).from(admins).where(eq(admins.id, adminId));
  if (!row) throw notFound(`No admin with id "${adminId}": create the admin first (PUT /api/admins/${adminId}).`);
}

/** The items API writes the built-in store; with SysAid as the source, SysAid's items are not the API's to change. */
async function requireBuiltinWrites(deps: AppDeps, itemKey: string) {
  const { mode } = await getSourceConfig(deps.db);
  if (mode === 'sysaid') throw conflict('Items come from SysAid (source mode sysaid): change them in SysAid, or set the source mode to both to push items through this API as well.');
  if (mode === 'both' && isReaderKey(itemKey)) throw conflict(`"${itemKey}" is an SR due date or follow-up, read from SysAid by the reader: push other item types (activities are sysaid:sr:<id>:activity:<activityId>).`);
}

export function itemRoutes() {
  const app = new OpenAPIHono<AppEnv>();

  app.openapi(
    createRoute({
      method: 'put',
      path: '/api/calendar-items/{itemKey}',
      tags: ['calendar items'],
      security,
      summary: 'Create or replace an item in the built-in source; the admin syncs at once unless ?sync=later',
      request: { params: KeyParam, query: SyncQuery, ...jsonBody(calendarItemInput) },
      responses: { 200: json(Loose, 'The normalised item'), ...errors(400, 404, 409, 503) },
    }),
    async (c) => {
      const p = requireSysadmin(c);
      const { itemKey } = c.req.valid('param');
      const { sync } = c.req.valid('query');
      const deps = c.get('deps');
      const input = c.req.valid('json');
      await requireBuiltinWrites(deps, itemKey);
      await requireAdmin(deps, input.adminId);
      const item = normaliseItem(itemKey, input, new Date());
      await saveItem(deps.db, item);
      await audit(deps.db, p.name, 'item.save', itemKey, { adminId: item.adminId });
      if (sync === 'now') await deps.fleet.signal(item.adminId, 'syncNow');
      return c.json({ ...item }, 200);
    },
  );

  app.openapi(
    createRoute({
      method: 'delete',
      path: '/api/calendar-items/{itemKey}',
      tags: ['calendar items'],
      security,
      summary: 'Delete an item; its event is removed on the next sync',
      request: { params: KeyParam, query: SyncQuery.extend({ adminId: z.string({ error: 'adminId is required' }).min(1, 'adminId is required') }) },
      responses: { 204: { description: 'Deleted' }, ...errors(400, 404, 409, 503) },
    }),
    async (c) => {
      const p = requireSysadmin(c);
      const { itemKey } = c.req.valid('param');
      const { adminId, sync } = c.req.valid('query');
      const deps = c.get('deps');
      await requireBuiltinWrites(deps, itemKey);
      if (!(await deleteItem(deps.db, adminId, itemKey))) throw notFound(`No item "${itemKey}" for admin "${adminId}".`);
      await audit(deps.db, p.name, 'item.delete', itemKey, { adminId });
      if (sync === 'now') await deps.fleet.signal(adminId, 'syncNow');
      return c.body(null, 204);
    },
  );

  app.openapi(
    createRoute({
      method: 'get',
      path: '/api/calendar-items',
      tags: ['calendar items'],
      security,
      summary: 'Items of one admin in the built-in source',
      request: {
        query: z.object({
          adminId: z.string({ error: 'adminId is required' }).min(1, 'adminId is required'),
          limit: z.coerce.number().int().min(1).max(1000).default(100),
          offset: z.coerce.number().int().min(0).default(0),
        }),
      },
      responses: { 200: json(z.object({ items: z.array(Loose) }), 'Items'), ...errors(400) },
    }),
    async (c) => {
      const { adminId, limit, offset } = c.req.valid('query');
      requireAdminAccess(c, adminId);
      const rows = await c
        .get('deps')
        .db.select()
        .from(calendarItems)
        .where(and(eq(calendarItems.adminId, adminId), isNull(calendarItems.deletedAt)))
        .orderBy(calendarItems.startsAt, calendarItems.key)
        .limit(limit)
        .offset(offset);
      return c.json({ items: rows.map((r) => ({ ...rowToItem(r) })) }, 200);
    },
  );
  return app;
}
