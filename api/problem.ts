// The one error shape of the API: RFC 9457 problem+json, with a message a person can act on.
import type { Context } from 'hono';
import { HTTPException } from 'hono/http-exception';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import type { Logger } from 'pino';
import type { ZodError } from 'zod';
import { FleetUnavailableError, NotRunningError, RequestRejectedError } from '../worker/fleet';

const TITLES: Record<number, string> = {
  400: 'Bad request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not found',
  409: 'Conflict',
  422: 'Unprocessable content',
  500: 'Internal server error',
  503: 'Service unavailable',
};

export interface FieldError {
  path: string;
  message: string;
}

export class ProblemError extends Error {
  constructor(
    readonly status: ContentfulStatusCode,
    readonly detail: string,
    readonly errors?: FieldError[],
  ) {
    super(detail);
    this.name = 'ProblemError';
  }
}

export const badRequest = (detail: string, errors?: FieldError[]) => new ProblemError(400, detail, errors);
export const unprocessable = (detail: string, errors?: FieldError[]) => new ProblemError(422, detail, errors);
export const notFound = (detail: string) => new ProblemError(404, detail);
export const conflict = (detail: string) => new ProblemError(409, detail);
export const forbidden = (detail: string) => new ProblemError(403, detail);

export function problemResponse(c: Context, status: ContentfulStatusCode, detail: string, errors?: FieldError[], headers?: Record<string, string>) {
  const body = { type: 'about:blank', title: TITLES[status] ?? 'Error', status, detail, ...(errors?.length ? { errors } : {}) };
  return c.body(JSON.stringify(body), status, { 'content-type': 'application/problem+json', ...headers });
}

export function zodErrors(error: ZodError, prefix = ''): FieldError[] {
  return error.issues.map((i) => ({ path: [prefix, ...i.path.map(String)].filter(Boolean).join('.') || '(root)', message: i.message }));
}

/** Maps every error to a problem response; unknown errors are logged and answered without details. */
export function handleError(err: Error, c: Context, logger: Logger) {
  if (err instanceof ProblemError) return problemResponse(c, err.status, err.detail, err.errors);
  if (err instanceof NotRunningError) return problemResponse(c, 409, `${err.message} Enable sync for the admin (and the integration) first.`);
  if (err instanceof RequestRejectedError) return problemResponse(c, 409, err.message);
  if (err instanceof FleetUnavailableError) return problemResponse(c, 503, err.message);
  if (err instanceof HTTPException) {
    const detail = /malformed json/i.test(err.message) ? 'The request body is not valid JSON.' : err.message || 'Request rejected.';
    return problemResponse(c, err.status as ContentfulStatusCode, detail);
  }
  logger.error({ err: { name: err.name, message: err.message, stack: err.stack }, path: c.req.path, method: c.req.method }, 'unhandled API error');
  return problemResponse(c, 500, 'Something went wrong on our side; the error was logged. Try again, and report it if it keeps happening.');
}
