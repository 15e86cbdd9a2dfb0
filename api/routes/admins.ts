// Admins (the people whose calendars receive events) and their calendar settings.
import { createRoute, OpenAPIHono, z } from '@hono/zod-openapi';
import { eq, sql } from 'drizzle-orm';
import { isValidTimeZone } from '../../activities/sync/time';
import { ITEM_TYPES } from '../../activities/sync/types';
import { audit, getIntegration } from '../../db/repositories';
import { admins, adminSettings, type AdminRow, type AdminSettingsRow } from '../../db/schema';
import { publicUrl } from '../../worker/config';
import { requireAdminAccess, requireSysadmin } from '../auth';
import { feedUrl } from '../feedToken';
import { AdminIdParam, errors, json, jsonBody, security } from '../openapi';
import { notFound } from '../problem';
import type { AppDeps, AppEnv } from '../types';

const Settings = z
  .object({
    syncEnabled: z.boolean(),
    itemTypes: z.array(z.enum(ITEM_TYPES)),
    daysBack: z.number().int(),
    daysForward: z.number().int(),
    includeClosed: z.boolean(),
    markPrivate: z.boolean(),
    busyOnly: z.boolean(),
    version: z.number().int(),
  })
  .openapi('CalendarSettings');

const SettingsInput = z
  .object({
    syncEnabled: z.boolean(),
    itemTypes: z
      .array(z.enum(ITEM_TYPES, { error: `each item type must be one of: ${ITEM_TYPES.join(', ')}` }))
      .refine((a) => new Set(a).size === a.length, 'item types must not repeat'),
    daysBack: z.number().int('daysBack must be a whole number of days').min(0).max(3650),
    daysForward: z.number().int('daysForward must be a whole number of days').min(0).max(3650),
    includeClosed: z.boolean(),
    markPrivate: z.boolean(),
    busyOnly: z.boolean(),
    /** With syncEnabled false: also remove the events this app created. */
    removeEvents: z.boolean(),
  })
  .partial()
  .strict()
  .openapi('CalendarSettingsInput');

const Admin = z
  .object({
    id: z.string(),
    displayName: z.string(),
    email: z.string(),
    timeZone: z.string(),
    feedUrl: z.string(),
    settings: Settings,
    /** Set when the admin was discovered from SysAid. */
    sysaidUserId: z.string().nullable(),
    /** When the admin left SysAid's admin list (sync was turned off then). */
    removedAt: z.string().nullable(),
  })
  .openapi('Admin');

const AdminInput = z
  .object({
    displayName: z.string().trim().min(1, 'displayName is required').max(200),
    email: z.string().email('email must be the address of the admin’s calendar mailbox'),
    timeZone: z.string().refine(isValidTimeZone, 'timeZone must be an IANA zone such as Europe/Berlin'),
  })
  .strict()
  .openapi('AdminInput');

const DEFAULT_SETTINGS = { syncEnabled: false, itemTypes: [...ITEM_TYPES], daysBack: 30, daysForward: 365, includeClosed: false, markPrivate: false, busyOnly: false, version: 0 };

const settingsView = (s: AdminSettingsRow | null) =>
  s
    ? { syncEnabled: s.syncEnabled, itemTypes: s.itemTypes as (typeof ITEM_TYPES)[number][], daysBack: s.daysBack, daysForward: s.daysForward, includeClosed: s.includeClosed, markPrivate: s.markPrivate, busyOnly: s.busyOnly, version: s.version }
    : DEFAULT_SETTINGS;

function adminView(deps: AppDeps, a: AdminRow, s: AdminSettingsRow | null) {
  return {
    id: a.id,
    displayName: a.displayName,
    email: a.email,
    timeZone: a.timeZone,
    feedUrl: feedUrl(publicUrl(deps.config), deps.sealer, a.id, a.feedTokenVersion),
    settings: settingsView(s),
    sysaidUserId: a.sysaidUserId,
    removedAt: a.removedAt?.toISOString() ?? null,
  };
}

async function loadAdmin(deps: AppDeps, adminId: string) {
  const [row] = await deps.db.select().from(admins).leftJoin(adminSettings, eq(adminSettings.adminId, admins.id)).where(eq(admins.id, adminId));
  if (!row) throw notFound(`No admin with id "${adminId}".`);
  return row;
}

export function adminRoutes() {
  const app = new OpenAPIHono<AppEnv>();

  app.openapi(
    createRoute({ method: 'get', path: '/api/admins', tags: ['admins'], security, summary: 'Admins (an admin token sees only itself)', responses: { 200: json(z.object({ admins: z.array(Admin) }), 'Admins'), ...errors() } }),
    async (c) => {
      const deps = c.get('deps');
      const p = c.get('principal');
      const q = deps.db.select().from(admins).leftJoin(adminSettings, eq(adminSettings.adminId, admins.id));
      const rows = await (p.role === 'sysadmin' ? q : q.where(eq(admins.id, p.adminId ?? ''))).orderBy(admins.id);
      return c.json({ admins: rows.map((r) => adminView(deps, r.admins, r.admin_settings)) }, 200);
    },
  );

  app.openapi(
    createRoute({ method: 'get', path: '/api/admins/{adminId}', tags: ['admins'], security, request: { params: AdminIdParam }, responses: { 200: json(Admin, 'The admin'), ...errors(400, 404) } }),
    async (c) => {
      const { adminId } = c.req.valid('param');
      requireAdminAccess(c, adminId);
      const deps = c.get('deps');
      const row = await loadAdmin(deps, adminId);
      return c.json(adminView(deps, row.admins, row.admin_settings), 200);
    },
  );

  app.openapi(
    createRoute({
      method: 'put',
      path: '/api/admins/{adminId}',
      tags: ['admins'],
      security,
      summary: 'Create or update an admin',
      request: { params: AdminIdParam, ...jsonBody(AdminInput) },
      responses: { 200: json(Admin, 'Saved'), ...errors(400) },
    }),
    async (c) => {
      const p = requireSysadmin(c);
      const { adminId } = c.req.valid('param');
      const input = c.req.valid('json');
      const deps = c.get('deps');
      await deps.db
        .insert(admins)
        .values({ id: adminId, ...input })
        .onConflictDoUpdate({ target: admins.id, set: { ...input, updatedAt: new Date() } });
      await audit(deps.db, p.name, 'admin.save', adminId);
      const row = await loadAdmin(deps, adminId);
      return c.json(adminView(deps, row.admins, row.admin_settings), 200);
    },
  );

  app.openapi(
    createRoute({ method: 'post', path: '/api/admins/{adminId}/feed/rotate', tags: ['admins'], security, summary: 'New feed URL; the old one stops working', request: { params: AdminIdParam }, responses: { 200: json(z.object({ feedUrl: z.string() }), 'The new feed URL'), ...errors(400, 404) } }),
    async (c) => {
      const { adminId } = c.req.valid('param');
      const p = requireAdminAccess(c, adminId);
      const deps = c.get('deps');
      await loadAdmin(deps, adminId);
      const [row] = await deps.db
        .update(admins)
        .set({ feedTokenVersion: sql`${admins.feedTokenVersion} + 1`, updatedAt: new Date() })
        .where(eq(admins.id, adminId))
        .returning({ version: admins.feedTokenVersion });
      await audit(deps.db, p.name, 'admin.feed.rotate', adminId);
      return c.json({ feedUrl: feedUrl(publicUrl(deps.config), deps.sealer, adminId, row!.version) }, 200);
    },
  );

  app.openapi(
    createRoute({ method: 'get', path: '/api/admins/{adminId}/calendar-settings', tags: ['admins'], security, request: { params: AdminIdParam }, responses: { 200: json(Settings, 'Settings'), ...errors(400, 404) } }),
    async (c) => {
      const { adminId } = c.req.valid('param');
      requireAdminAccess(c, adminId);
      const row = await loadAdmin(c.get('deps'), adminId);
      return c.json(settingsView(row.admin_settings), 200);
    },
  );

  app.openapi(
    createRoute({
      method: 'put',
      path: '/api/admins/{adminId}/calendar-settings',
      tags: ['admins'],
      security,
      summary: 'Opt in or out, pick item types and the window; running sync re-plans at once',
      request: { params: AdminIdParam, ...jsonBody(SettingsInput) },
      responses: { 200: json(Settings, 'Saved'), ...errors(400, 404, 503) },
    }),
    async (c) => {
      const { adminId } = c.req.valid('param');
      const p = requireAdminAccess(c, adminId);
      const { removeEvents = false, ...input } = c.req.valid('json');
      const deps = c.get('deps');
      const before = settingsView((await loadAdmin(deps, adminId)).admin_settings);
      const next = { ...before, ...input };
      await deps.db
        .insert(adminSettings)
        .values({ adminId, ...next, version: 1 })
        .onConflictDoUpdate({ target: adminSettings.adminId, set: { ...input, version: sql`${adminSettings.version} + 1`, updatedAt: new Date() } });
      await audit(deps.db, p.name, 'admin.settings.save', adminId, { ...input, removeEvents });
      const integration = await getIntegration(deps.db);
      if (before.syncEnabled && !next.syncEnabled) await deps.fleet.stop(adminId, removeEvents);
      else if (!before.syncEnabled && next.syncEnabled && integration.enabled) await deps.fleet.ensureStarted(adminId);
      else if (next.syncEnabled) await deps.fleet.signal(adminId, 'settingsChanged');
      const row = await loadAdmin(deps, adminId);
      return c.json(settingsView(row.admin_settings), 200);
    },
  );
  return app;
}
