// Microsoft Entra ID client credentials (msal-node) over our own HTTP stack, shared by the Graph and the
// EWS-with-OAuth providers: the configured trust settings for msal's requests, and no instance discovery
// for an authority host that is not Microsoft's (a sovereign proxy or an emulator).
import { ConfidentialClientApplication, type INetworkModule, type NetworkRequestOptions } from '@azure/msal-node';
import type { fetchWith } from './http';

const MICROSOFT_AUTHORITY = /(^|\.)login\.(microsoftonline\.(com|us)|partner\.microsoftonline\.cn|chinacloudapi\.cn)$/;

export interface EntraApp {
  authorityHost: string;
  tenantId: string;
  clientId: string;
  clientSecret: string;
  fetcher: ReturnType<typeof fetchWith>;
  /**
   * Sees every network failure and error answer. msal hides both behind its own codes (e.g. a TLS failure or
   * an unknown tenant during discovery), so a caller that wants to explain them keeps the last one.
   */
  observe?: (failure: unknown) => void;
}

export function entraClient(app: EntraApp): ConfidentialClientApplication {
  const send = async <T>(url: string, init: { method: string; headers?: Record<string, string>; body?: string }) => {
    try {
      const res = await app.fetcher(url, init);
      const body = (await res.json()) as T & { error?: string; error_description?: string };
      if (res.status >= 400 && body?.error_description) app.observe?.({ name: 'ServerError', errorCode: body.error, errorMessage: body.error_description });
      return { status: res.status, headers: Object.fromEntries(res.headers.entries()), body };
    } catch (err) {
      app.observe?.(err);
      throw err;
    }
  };
  const networkClient: INetworkModule = {
    sendGetRequestAsync: <T>(url: string, options?: NetworkRequestOptions) => send<T>(url, { method: 'GET', headers: options?.headers }),
    sendPostRequestAsync: <T>(url: string, options?: NetworkRequestOptions) => send<T>(url, { method: 'POST', headers: options?.headers, body: options?.body }),
  };
  const authority = new URL(app.authorityHost);
  return new ConfidentialClientApplication({
    auth: {
      clientId: app.clientId,
      clientSecret: app.clientSecret,
      authority: `${app.authorityHost}/${app.tenantId}`,
      ...(MICROSOFT_AUTHORITY.test(authority.hostname) ? {} : { knownAuthorities: [authority.host] }),
    },
    system: { networkClient },
  });
}
