// Every Microsoft Graph and Entra ID failure mapped into the provider error classes, in this one place.
import { GraphError } from '@microsoft/microsoft-graph-client';
import { credentials, itemRejected, mailboxNotFound, ProviderError, throttled, transient } from '../errors';
import { explainTls, networkErrorCode, tlsErrorCode } from '../http';

/** What an AADSTS code means for the sysadmin, in words they can act on. */
export const AADSTS_EXPLANATIONS: Record<string, string> = {
  '7000215': 'The client secret is wrong: paste the secret’s Value (not its Secret ID) from Certificates & secrets.',
  '7000222': 'The client secret has expired: create a new one under Certificates & secrets and save it here.',
  '700016': 'No application with this client ID exists in this tenant: check the Application (client) ID and the tenant ID.',
  '90002': 'The tenant was not found: check the Directory (tenant) ID.',
  '900023': 'The tenant ID is not valid: use the Directory (tenant) ID GUID or a verified domain.',
  '65001': 'Admin consent has not been granted: grant admin consent for Calendars.ReadWrite (Application).',
  '7000112': 'The application is disabled in this tenant.',
};

export function explainAadsts(text: string): string | null {
  const m = /AADSTS(\d+)/.exec(text);
  if (!m) return null;
  return `AADSTS${m[1]}: ${AADSTS_EXPLANATIONS[m[1]!] ?? text.split(/\r?\n/)[0]}`;
}

function retryAfterMs(headers: unknown): number | undefined {
  const h = headers as { get?: (n: string) => string | null } | undefined;
  const v = h?.get?.('retry-after');
  if (!v) return undefined;
  const seconds = Number(v);
  if (Number.isFinite(seconds)) return Math.max(0, seconds * 1000);
  const at = Date.parse(v);
  return Number.isNaN(at) ? undefined : Math.max(0, at - Date.now());
}

export function mapGraphError(err: unknown, context: { host: string; mailbox?: string }): ProviderError {
  if (err instanceof ProviderError) return err;
  const tls = tlsErrorCode(err);
  if (tls) return credentials(explainTls(tls, context.host), { code: tls });
  // MSAL: the token endpoint refused the application.
  const msal = err as { errorCode?: string; errorMessage?: string; name?: string };
  if (msal?.name === 'ServerError' || msal?.name === 'ClientAuthError' || msal?.name === 'ClientConfigurationError') {
    const text = `${msal.errorCode ?? ''} ${msal.errorMessage ?? ''}`;
    if (/network_error|endpoints_resolution_error/.test(msal.errorCode ?? '')) return transient(`Could not reach the sign-in endpoint: ${msal.errorMessage ?? msal.errorCode}`);
    return credentials(explainAadsts(text) ?? `Sign-in failed: ${msal.errorCode}: ${msal.errorMessage}`, { code: msal.errorCode });
  }
  if (err instanceof GraphError) {
    const { statusCode: status, code, message } = err;
    const detail = `${code ?? status}: ${message}`;
    if (status === 429 || status === 503 || status === 504) return throttled(`Microsoft Graph is throttling (${detail})`, retryAfterMs(err.headers), { status, code: code ?? undefined });
    if (status === 401) return credentials(`Microsoft Graph refused the access token (${detail}). Check the tenant, client ID and secret.`, { status, code: code ?? undefined });
    if (status === 403) return credentials(`Access denied by Microsoft Graph (${detail}). Grant admin consent for Calendars.ReadWrite (Application), and check any application access policy that limits which mailboxes the app may open.`, { status, code: code ?? undefined });
    if (status === 404 && (code === 'ErrorInvalidUser' || code === 'Request_ResourceNotFound' || code === 'MailboxNotEnabledForRESTAPI' || code === 'ResourceNotFound')) {
      return mailboxNotFound(`The mailbox ${context.mailbox ?? ''} was not found in Microsoft 365 (${detail}). Check the admin's e-mail address.`, { status, code: code ?? undefined });
    }
    if (status >= 500 || status === 0 || status === -1) return transient(`Microsoft Graph failed (${detail})`, { status, code: code ?? undefined });
    if (status >= 400) return itemRejected(`Microsoft Graph rejected the event: ${detail}`, { status, code: code ?? undefined });
  }
  const net = networkErrorCode(err);
  if (net) return transient(`Could not reach ${context.host} (${net})`, { code: net, cause: err });
  return transient(`Unexpected error talking to Microsoft Graph: ${(err as Error)?.message ?? String(err)}`, { cause: err });
}
