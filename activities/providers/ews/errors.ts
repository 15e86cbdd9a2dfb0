// Every EWS failure mapped into the provider error classes, in this one place: per-item response codes
// (ServiceResponseException), SOAP faults and HTTP statuses (SoapFaultDetails), TLS and network failures
// (which the SDK reduces to a message, so the adapter hands over the transport error it saw), and sign-in
// errors of OAuth.
import { ServiceError, ServiceLocalException, ServiceResponseException, SoapFaultDetails } from 'ews-javascript-api';
import { credentials, itemRejected, mailboxNotFound, ProviderError, throttled, transient } from '../errors';
import { explainAadsts } from '../graph/errors';
import { explainTls, networkErrorCode, tlsErrorCode } from '../http';
import type { EwsSettings } from './settings';

export interface EwsErrorContext {
  host: string;
  /** The account as Exchange sees it (CONTOSO\svc-calsync), or the application with oauth. */
  account: string;
  authentication: EwsSettings['authentication'];
  accessMode: EwsSettings['accessMode'];
  exchangeVersion: EwsSettings['exchangeVersion'];
  mailbox?: string;
  /** The failure below the SDK (TLS, refused, reset): the SDK keeps only its message. */
  transport?: unknown;
}

interface DictionaryLike {
  get(key: string): string | undefined;
  containsKey(key: string): boolean;
}
/** A SOAP fault or a failed HTTP exchange, with the getters its type declarations leave out. */
type Fault = SoapFaultDetails & { ResponseCode: ServiceError; ErrorDetails: DictionaryLike };

/** The EWS response code (e.g. `ErrorServerBusy`) of a per-item error or a SOAP fault, if any. */
export function ewsCode(err: unknown): string | null {
  if (err instanceof ServiceResponseException) return ServiceError[err.ErrorCode] ?? null;
  const code = err instanceof SoapFaultDetails ? (err as Fault).ResponseCode : undefined;
  return code !== undefined && code !== ServiceError.ErrorInternalServerError ? (ServiceError[code] ?? null) : null;
}

/** The HTTP status of a failed request (a per-item error arrives in a 200); 0 when none came back. */
export function ewsHttpStatus(err: unknown): number | null {
  if (err instanceof ServiceResponseException) return 200;
  return err instanceof SoapFaultDetails ? (err.HttpStatusCode ?? 0) : null;
}

/** `BackOffMilliseconds` that Exchange puts in ErrorServerBusy, in a fault's detail or an item's MessageXml. */
export function backOffMs(err: unknown): number | undefined {
  const details = err instanceof ServiceResponseException ? (err.Response.ErrorDetails as unknown as DictionaryLike) : err instanceof SoapFaultDetails ? (err as Fault).ErrorDetails : undefined;
  const value = details?.containsKey('BackOffMilliseconds') ? details.get('BackOffMilliseconds') : undefined;
  const ms = Number(value);
  return value !== undefined && Number.isFinite(ms) && ms >= 0 ? ms : undefined;
}

const THROTTLED_CODES = new Set(['ErrorServerBusy', 'ErrorExceededConnectionCount', 'ErrorTooManyObjectsOpened']);
const TRANSIENT_CODES = new Set([
  'ErrorInternalServerTransientError',
  'ErrorMailboxStoreUnavailable',
  'ErrorMailboxMoveInProgress',
  'ErrorTimeoutExpired',
  'ErrorConnectionFailed',
  'ErrorBatchProcessingStopped',
  'ErrorInternalServerError',
  // Changed again between reading its ChangeKey and writing: the next attempt reads it afresh.
  'ErrorIrresolvableConflict',
  'ErrorStaleObject',
]);
const MAILBOX_CODES = new Set(['ErrorNonExistentMailbox', 'ErrorInvalidSmtpAddress', 'ErrorMailRecipientNotFound', 'ErrorFolderNotFound']);

/** What to grant so the account can open other people's mailboxes, per access mode. */
function grantText(ctx: EwsErrorContext): string {
  if (ctx.authentication === 'oauth') {
    return 'grant the app registration the application permission full_access_as_app (Office 365 Exchange Online) with admin consent, and check any application access policy that limits the mailboxes it may open';
  }
  if (ctx.accessMode === 'impersonation') {
    return `grant the ApplicationImpersonation role: New-ManagementRoleAssignment -Name calendar-sync -Role ApplicationImpersonation -User ${ctx.account} (a -CustomRecipientWriteScope, if any, must include the admins’ mailboxes)`;
  }
  return `grant full access to the mailbox: Add-MailboxPermission -Identity ${ctx.mailbox ?? '<mailbox>'} -User ${ctx.account} -AccessRights FullAccess -InheritanceType All -AutoMapping $false`;
}

/** Why Exchange answered 401, in the words of the chosen authentication. */
function unauthorizedText(ctx: EwsErrorContext): string {
  switch (ctx.authentication) {
    case 'ntlm':
      return `Exchange refused the NTLM sign-in of ${ctx.account} (401): check the password and the domain, that the account is not locked or expired, and that Windows (NTLM) authentication is enabled on the EWS virtual directory.`;
    case 'basic':
      return `Exchange refused the basic sign-in of ${ctx.account} (401): check the password, that the account is not locked or expired, and that Basic authentication is enabled on the EWS virtual directory (Set-WebServicesVirtualDirectory -BasicAuthentication $true).`;
    case 'oauth':
      return `Exchange Online refused the access token of ${ctx.account} (401): the app needs the application permission full_access_as_app (Office 365 Exchange Online, not Microsoft Graph) with admin consent.`;
  }
}

function fromCode(code: string, err: unknown, ctx: EwsErrorContext, said: string): ProviderError {
  const status = ewsHttpStatus(err) ?? undefined;
  const extra = { status, code };
  if (THROTTLED_CODES.has(code)) return throttled(`Exchange is busy and asks to back off (${code}${said})`, code === 'ErrorServerBusy' ? backOffMs(err) : undefined, extra);
  if (TRANSIENT_CODES.has(code)) return transient(`Exchange failed for now (${code}${said})`, extra);
  if (code === 'ErrorImpersonateUserDenied' || code === 'ErrorImpersonationDenied' || code === 'ErrorImpersonationFailed') {
    return credentials(`${ctx.account} may not act as ${ctx.mailbox ?? 'this mailbox'} (${code}): ${grantText({ ...ctx, accessMode: 'impersonation' })}.`, extra);
  }
  if (code === 'ErrorAccessDenied' || code === 'ErrorDelegateNoUser' || code === 'ErrorNotDelegate') {
    return credentials(`Access to ${ctx.mailbox ?? 'the mailbox'} was denied to ${ctx.account} (${code}): ${grantText(ctx)}.`, extra);
  }
  if (MAILBOX_CODES.has(code)) {
    return mailboxNotFound(`The mailbox ${ctx.mailbox ?? ''} was not found on the Exchange server (${code}${said}). Check the admin’s e-mail address.`, extra);
  }
  if (code === 'ErrorInvalidServerVersion' || code === 'ErrorIncorrectSchemaVersion') {
    return credentials(`Exchange does not accept exchangeVersion ${ctx.exchangeVersion} (${code}): choose the version of the oldest Exchange server in the organisation.`, extra);
  }
  // Per-item answers are about this one event (schema, ids, sizes): the other events go on.
  return itemRejected(`Exchange rejected the event: ${code}${said}`, extra);
}

export function mapEwsError(err: unknown, ctx: EwsErrorContext): ProviderError {
  if (err instanceof ProviderError) return err;
  const tls = tlsErrorCode(ctx.transport) ?? tlsErrorCode(err);
  if (tls) return credentials(explainTls(tls, ctx.host), { code: tls });
  const e = err as { name?: string; message?: string; errorCode?: string; errorMessage?: string } | undefined;
  // MSAL (oauth): the token endpoint refused the application.
  if (e?.name === 'ServerError' || e?.name === 'ClientAuthError' || e?.name === 'ClientConfigurationError') {
    const text = `${e.errorCode ?? ''} ${e.errorMessage ?? ''}`;
    if (/network_error|endpoints_resolution_error/.test(e.errorCode ?? '')) return transient(`Could not reach the sign-in endpoint: ${e.errorMessage ?? e.errorCode}`);
    return credentials(explainAadsts(text) ?? `Sign-in failed: ${e.errorCode}: ${e.errorMessage}`, { code: e.errorCode });
  }
  const code = ewsCode(err);
  const said = e?.message ? `: ${e.message}` : '';
  if (code) return fromCode(code, err, ctx, said);
  const status = ewsHttpStatus(err);
  if (status) {
    if (status === 401) return credentials(unauthorizedText(ctx), { status });
    if (status === 403) return credentials(`Exchange denied EWS to ${ctx.account} (403): check that EWS is enabled for the account (Set-CASMailbox -EwsEnabled $true) and that no EWS application policy blocks it.`, { status });
    if (status >= 300 && status < 400) return credentials(`${ctx.host} redirects the EWS request (${status}): enter the EWS URL itself, e.g. https://mail.contoso.com/EWS/Exchange.asmx.`, { status });
    if (status === 404) return credentials(`There is no EWS endpoint at ${ctx.host} (404): check the server name or EWS URL (usually https://<server>/EWS/Exchange.asmx).`, { status });
    if (status === 503 || status === 429) return throttled(`Exchange is too busy (${status}${said})`, undefined, { status });
    if (status >= 500) return transient(`Exchange failed (${status}${said})`, { status });
    if (status >= 400) return itemRejected(`Exchange rejected the request (${status}${said})`, { status });
  }
  const net = networkErrorCode(ctx.transport) ?? networkErrorCode(err) ?? axiosNetworkCode(ctx.transport);
  if (net) return transient(`Could not reach ${ctx.host} (${net})`, { code: net, cause: err });
  // The SDK refused to build the request (a property or zone it cannot write): retrying cannot help.
  if (err instanceof ServiceLocalException) return itemRejected(`The event could not be written as an EWS request: ${err.Message}`);
  return transient(`Unexpected error talking to Exchange at ${ctx.host}: ${e?.message ?? String(err)}`, { cause: err });
}

/** axios names its own failures: a timeout or an aborted connection. */
function axiosNetworkCode(err: unknown): string | null {
  const code = (err as { code?: string } | undefined)?.code;
  return code && /^(ECONNABORTED|ETIMEDOUT|ERR_NETWORK|ERR_SOCKET_CONNECTION_TIMEOUT)$/.test(code) ? code : null;
}
