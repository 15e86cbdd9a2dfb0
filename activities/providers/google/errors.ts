// Every Google OAuth and Calendar API failure mapped into the provider error classes, in this one place.
import { credentials, itemRejected, mailboxNotFound, ProviderError, throttled, transient } from '../errors';
import { explainTls, networkErrorCode, tlsErrorCode } from '../http';

/** The token endpoint's `error` codes in words a Workspace admin can act on. */
export const TOKEN_ERROR_EXPLANATIONS: Record<string, string> = {
  unauthorized_client:
    'Domain-wide delegation is not set up for this service account: in the Google Admin console (Security > Access and data control > API controls > Domain-wide delegation) add its client ID with the scope https://www.googleapis.com/auth/calendar. A new or changed delegation can take up to 24 hours to apply.',
  invalid_grant:
    'Google refused the signed assertion: the key may have been deleted or disabled in the Google Cloud console (create a new key and paste it here), the user may not exist in the Workspace domain, or this server’s clock is off by more than a few minutes.',
  invalid_client: 'The service account was not found or is disabled: check the key file, or re-enable the service account in the Google Cloud console.',
  access_denied: 'The request was denied: check that the Calendar API is enabled in the Google Cloud project.',
};

interface GaxiosLike {
  name?: string;
  message?: string;
  status?: number;
  code?: string | number;
  response?: { status?: number; data?: unknown; headers?: unknown };
  config?: { url?: string | URL };
}

interface GoogleErrorBody {
  error?: string | { code?: number; message?: string; errors?: Array<{ domain?: string; reason?: string; message?: string }> };
  error_description?: string;
}

function retryAfterMs(headers: unknown): number | undefined {
  const h = headers as { get?: (n: string) => string | null } & Record<string, string> | undefined;
  const v = typeof h?.get === 'function' ? h.get('retry-after') : h?.['retry-after'];
  if (!v) return undefined;
  const seconds = Number(v);
  if (Number.isFinite(seconds)) return Math.max(0, seconds * 1000);
  const at = Date.parse(v);
  return Number.isNaN(at) ? undefined : Math.max(0, at - Date.now());
}

/** The `reason` Google put in the error body, e.g. `rateLimitExceeded`, `duplicate`, `deleted`. */
export function googleReason(err: unknown): string | null {
  const body = (err as GaxiosLike)?.response?.data as GoogleErrorBody | undefined;
  return typeof body?.error === 'object' ? (body.error.errors?.[0]?.reason ?? null) : null;
}

export function googleStatus(err: unknown): number | null {
  const e = err as GaxiosLike;
  return e?.response?.status ?? (typeof e?.status === 'number' ? e.status : null);
}

const RATE_REASONS = new Set(['rateLimitExceeded', 'userRateLimitExceeded', 'quotaExceeded', 'dailyLimitExceeded']);

export function mapGoogleError(err: unknown, context: { host: string; tokenHost: string; mailbox?: string; calendarId?: string }): ProviderError {
  if (err instanceof ProviderError) return err;
  const tls = tlsErrorCode(err);
  if (tls) {
    const url = String((err as GaxiosLike)?.config?.url ?? '');
    return credentials(explainTls(tls, url.includes(context.tokenHost) ? context.tokenHost : context.host), { code: tls });
  }
  const e = err as GaxiosLike;
  const status = googleStatus(err);
  const body = e?.response?.data as GoogleErrorBody | undefined;
  // OAuth token endpoint: {"error":"unauthorized_client","error_description":"…"}
  if (typeof body?.error === 'string') {
    const code = body.error;
    const explained = TOKEN_ERROR_EXPLANATIONS[code];
    const said = body.error_description ? ` (Google: ${body.error_description})` : '';
    if (status && status >= 500) return transient(`The Google token endpoint failed: ${code}${said}`, { status, code });
    if (code === 'invalid_grant' && /email|user id/i.test(body.error_description ?? '')) {
      return mailboxNotFound(`The user ${context.mailbox ?? ''} does not exist in the Workspace domain (invalid_grant${said}). Check the admin’s e-mail address.`, { status: status ?? undefined, code });
    }
    return credentials(`${code}: ${explained ?? body.error_description ?? 'the token request was refused'}${explained ? said : ''}`, { status: status ?? undefined, code });
  }
  if (status) {
    const reason = googleReason(err) ?? undefined;
    const message = typeof body?.error === 'object' ? (body.error.message ?? e.message) : e.message;
    const detail = `${status}${reason ? ` ${reason}` : ''}: ${message}`;
    if (status === 429 || (status === 403 && reason && RATE_REASONS.has(reason))) {
      return throttled(`Google Calendar is limiting requests (${detail})`, retryAfterMs(e.response?.headers), { status, code: reason });
    }
    if (status === 401) return credentials(`Google refused the access token (${detail}). Check the service account key and domain-wide delegation.`, { status, code: reason });
    if (status === 403 && reason === 'accessNotConfigured') return credentials(`The Google Calendar API is not enabled in the service account’s Cloud project (${detail}): enable it under APIs & Services.`, { status, code: reason });
    if (status === 403 && (reason === 'forbidden' || reason === 'insufficientPermissions' || reason === 'forbiddenForServiceAccounts')) {
      return credentials(`Google Calendar denied access (${detail}). Delegate the scope https://www.googleapis.com/auth/calendar to the service account, and check that the calendar belongs to ${context.mailbox ?? 'the user'}.`, { status, code: reason });
    }
    // Gone events are handled by update/delete before mapping: a 404 here is the calendar itself.
    if (status === 404) return mailboxNotFound(`The calendar ${context.calendarId ?? ''} of ${context.mailbox ?? 'the user'} was not found (${detail}). Check the calendar ID and the admin’s e-mail address.`, { status, code: reason });
    if (status >= 500 || status === 408) return transient(`Google Calendar failed (${detail})`, { status, code: reason });
    if (status >= 400) return itemRejected(`Google Calendar rejected the event: ${detail}`, { status, code: reason });
  }
  const net = networkErrorCode(err) ?? (typeof e?.code === 'string' && /^(ECONNREFUSED|ECONNRESET|ETIMEDOUT|ENOTFOUND|EAI_AGAIN)$/.test(e.code) ? e.code : null);
  if (net) return transient(`Could not reach ${context.host} (${net})`, { code: net, cause: err });
  if (e?.name === 'AbortError' || /timeout/i.test(e?.message ?? '')) return transient(`Google Calendar did not answer in time (${e?.message})`, { cause: err });
  return transient(`Unexpected error talking to Google Calendar: ${e?.message ?? String(err)}`, { cause: err });
}
