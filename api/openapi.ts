// Shared OpenAPI pieces: the problem schema, error responses, JSON bodies.
import { z } from '@hono/zod-openapi';
import type { ZodType } from 'zod';

export const ProblemSchema = z
  .object({
    type: z.string(),
    title: z.string(),
    status: z.number().int(),
    detail: z.string(),
    errors: z.array(z.object({ path: z.string(), message: z.string() })).optional(),
  })
  .openapi('Problem');

const DESCRIPTIONS: Record<number, string> = {
  400: 'Malformed request or invalid fields',
  401: 'Missing, invalid or revoked token',
  403: 'The token may not do this',
  404: 'Not found',
  409: 'Conflicts with the current state',
  422: 'Valid shape, but not acceptable',
  503: 'Temporal or the database is not reachable in time',
};

export function errors(...codes: number[]) {
  return Object.fromEntries(
    [401, 403, ...codes].map((code) => [code, { description: DESCRIPTIONS[code]!, content: { 'application/problem+json': { schema: ProblemSchema } } }]),
  ) as Record<number, { description: string; content: { 'application/problem+json': { schema: typeof ProblemSchema } } }>;
}

export const jsonBody = <T extends ZodType>(schema: T, description?: string) => ({
  body: { required: true, description, content: { 'application/json': { schema } } },
});

export const json = <T extends ZodType>(schema: T, description: string) => ({ description, content: { 'application/json': { schema } } });

export const security = [{ bearer: [] as string[] }];

export const AdminIdParam = z.object({
  adminId: z
    .string()
    .regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/, 'adminId must be 1-64 letters, digits, dots, dashes or underscores')
    .openapi({ param: { name: 'adminId', in: 'path' }, example: 'alice' }),
});

export const Loose = z.record(z.string(), z.unknown());
