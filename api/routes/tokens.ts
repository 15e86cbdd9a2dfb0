// API tokens: created by sysadmins, shown once, stored only as sha-256.
import { createRoute, OpenAPIHono, z } from '@hono/zod-openapi';
import { and, eq, isNull, ne } from 'drizzle-orm';
import { audit } from '../../db/repositories';
import { admins, apiTokens } from '../../db/schema';
import { createToken, requireSysadmin } from '../auth';
import { errors, json, jsonBody, security } from '../openapi';
import { conflict, notFound, unprocessable } from '../problem';
import type { AppEnv } from '../types';

const TokenInput = z
  .object({
    name: z.string().trim().min(1, 'name is required').max(100),
    role: z.enum(['sysadmin', 'admin'], { error: 'role must be "sysadmin" or "admin"' }),
    adminId: z.string().min(1).optional(),
  })
  .strict()
  .refine((t) => (t.role === 'admin') === (t.adminId !== undefined), { message: 'adminId is required for role admin and not allowed for role sysadmin', path: ['adminId'] })
  .openapi('TokenInput');

const TokenView = z.object({ id: z.string(), name: z.string(), role: z.string(), adminId: z.string().nullable(), createdAt: z.string(), lastUsedAt: z.string().nullable(), revokedAt: z.string().nullable() }).openapi('Token');

const IdParam = z.object({ id: z.string().uuid('id must be a token id (UUID)').openapi({ param: { name: 'id', in: 'path' } }) });

export function tokenRoutes() {
  const app = new OpenAPIHono<AppEnv>();

  app.openapi(
    createRoute({
      method: 'post',
      path: '/api/tokens',
      tags: ['tokens'],
      security,
      summary: 'Create a token (the value is shown only in this answer)',
      request: jsonBody(TokenInput),
      responses: { 201: json(z.object({ id: z.string(), name: z.string(), role: z.string(), adminId: z.string().nullable(), token: z.string() }), 'Created'), ...errors(400, 422) },
    }),
    async (c) => {
      const p = requireSysadmin(c);
      const input = c.req.valid('json');
      const { db } = c.get('deps');
      if (input.adminId) {
        const [a] = await db.select({ id: admins.id }).from(admins).where(eq(admins.id, input.adminId));
        if (!a) throw unprocessable(`No admin with id "${input.adminId}".`, [{ path: 'adminId', message: 'unknown admin' }]);
      }
      const { id, value } = await createToken(db, { name: input.name, role: input.role, adminId: input.adminId ?? null });
      await audit(db, p.name, 'token.create', id, { name: input.name, role: input.role, adminId: input.adminId ?? null });
      return c.json({ id, name: input.name, role: input.role, adminId: input.adminId ?? null, token: value }, 201);
    },
  );

  app.openapi(
    createRoute({ method: 'get', path: '/api/tokens', tags: ['tokens'], security, summary: 'Tokens (never their values)', responses: { 200: json(z.object({ tokens: z.array(TokenView) }), 'Tokens'), ...errors() } }),
    async (c) => {
      requireSysadmin(c);
      const rows = await c.get('deps').db.select().from(apiTokens).orderBy(apiTokens.createdAt);
      return c.json(
        {
          tokens: rows.map((t) => ({ id: t.id, name: t.name, role: t.role, adminId: t.adminId, createdAt: t.createdAt.toISOString(), lastUsedAt: t.lastUsedAt?.toISOString() ?? null, revokedAt: t.revokedAt?.toISOString() ?? null })),
        },
        200,
      );
    },
  );

  app.openapi(
    createRoute({ method: 'delete', path: '/api/tokens/{id}', tags: ['tokens'], security, summary: 'Revoke a token', request: { params: IdParam }, responses: { 204: { description: 'Revoked' }, ...errors(400, 404, 409) } }),
    async (c) => {
      const p = requireSysadmin(c);
      const { id } = c.req.valid('param');
      const { db } = c.get('deps');
      const [token] = await db.select().from(apiTokens).where(eq(apiTokens.id, id));
      if (!token || token.revokedAt) throw notFound(`No active token with id ${id}.`);
      if (token.role === 'sysadmin') {
        const [other] = await db
          .select({ id: apiTokens.id })
          .from(apiTokens)
          .where(and(eq(apiTokens.role, 'sysadmin'), isNull(apiTokens.revokedAt), ne(apiTokens.id, id)))
          .limit(1);
        if (!other) throw conflict('This is the last sysadmin token: create another one before revoking it.');
      }
      await db.update(apiTokens).set({ revokedAt: new Date() }).where(eq(apiTokens.id, id));
      await audit(db, p.name, 'token.revoke', id);
      return c.body(null, 204);
    },
  );
  return app;
}
