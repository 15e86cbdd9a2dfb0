// HTTPS for provider SDKs: TLS verification always on; a private CA is added to the trusted roots, never bypassed.
import { createSecureContext, rootCertificates } from 'node:tls';
import { Agent, fetch as undiciFetch, type Dispatcher } from 'undici';

/** Keep-alive connections per origin: requests beyond this queue instead of opening ever more TLS sessions. */
const CONNECTIONS_PER_ORIGIN = 64;

/**
 * A dispatcher trusting the public roots plus the given PEM CA, if any, with a bounded connection pool. The
 * trust store is parsed once into a secure context: a `ca` list per connection would parse ~140 roots each time.
 */
export function tlsDispatcher(caPem?: string | null): Dispatcher {
  return new Agent({ connections: CONNECTIONS_PER_ORIGIN, ...(caPem?.trim() ? { connect: { secureContext: createSecureContext({ ca: [...rootCertificates, caPem] }) } } : {}) });
}

export function fetchWith(dispatcher: Dispatcher) {
  return (url: string, init: { method: string; headers?: Record<string, string>; body?: string; signal?: AbortSignal }) => undiciFetch(url, { ...init, dispatcher });
}

const TLS_CODES = new Set([
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'CERT_HAS_EXPIRED',
  'ERR_TLS_CERT_ALTNAME_INVALID',
  'CERT_UNTRUSTED',
]);

/** The TLS verification code somewhere in an error's cause chain, if any. */
export function tlsErrorCode(err: unknown): string | null {
  for (let e = err as { code?: string; cause?: unknown } | undefined, i = 0; e && i < 6; e = e.cause as typeof e, i++) {
    if (e.code && TLS_CODES.has(e.code)) return e.code;
  }
  return null;
}

/** What a TLS failure means; `caSetting` names where the issuing CA's certificate goes (providers: the integration). */
export function explainTls(code: string, host: string, caSetting = 'the integration settings'): string {
  if (code === 'ERR_TLS_CERT_ALTNAME_INVALID') return `The certificate of ${host} is not issued for that name: use the name in its certificate.`;
  if (code === 'CERT_HAS_EXPIRED') return `The certificate of ${host} has expired.`;
  return `The certificate of ${host} is not trusted (${code}): add the issuing CA certificate (PEM) to ${caSetting}.`;
}

/** Network-level failures (refused, reset, timed out, DNS): transient. */
export function networkErrorCode(err: unknown): string | null {
  for (let e = err as { code?: string; cause?: unknown; message?: string } | undefined, i = 0; e && i < 6; e = e.cause as typeof e, i++) {
    if (e.code && /^(ECONNREFUSED|ECONNRESET|ETIMEDOUT|EPIPE|ENOTFOUND|EAI_AGAIN|UND_ERR_\w+)$/.test(e.code)) return e.code;
    if (e.message === 'fetch failed' && !e.cause) return 'FETCH_FAILED';
  }
  return null;
}
