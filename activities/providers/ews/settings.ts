// The ews integration form (Exchange 2007 SP1 to SE on-premises, or Exchange Online over EWS with OAuth):
// what the sysadmin enters, validated with messages that name the field and say what to do.
import { z } from 'zod';
import { caCertificateSchema, driftPolicySchema, entraClientIdSchema, httpsUrl, tenantIdSchema } from '../settings';
import type { FieldProblem } from '../google/settings';

/** The EWS schema versions the form offers, oldest first; the newest is the default (2016, 2019 and SE speak it too). */
export const EXCHANGE_VERSIONS = ['Exchange2007_SP1', 'Exchange2010', 'Exchange2010_SP1', 'Exchange2010_SP2', 'Exchange2013', 'Exchange2013_SP1'] as const;
const EWS_PATH = '/EWS/Exchange.asmx';

/** `mail.contoso.com` (optionally with a port) or an https URL; a URL without a path gets the standard EWS path. */
export function ewsUrl(server: string): string | null {
  const text = server.trim();
  if (/^[a-z0-9.-]+(:\d{1,5})?$/i.test(text)) return `https://${text.toLowerCase()}${EWS_PATH}`;
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return null;
  }
  if (url.protocol !== 'https:' || url.username || url.password || url.search || url.hash) return null;
  return url.pathname === '/' ? `${url.origin}${EWS_PATH}` : `${url.origin}${url.pathname.replace(/\/+$/, '')}`;
}

export const ewsSettingsSchema = z
  .strictObject({
    server: z
      .string()
      .trim()
      .refine((s) => !/^http:\/\//i.test(s), 'server must use https (TLS verification is never turned off): enter the host name, e.g. mail.contoso.com')
      .refine((s) => /^http:\/\//i.test(s) || ewsUrl(s) !== null, 'server must be the Exchange server’s host name (mail.contoso.com) or its EWS URL (https://mail.contoso.com/EWS/Exchange.asmx)')
      .transform((s) => ewsUrl(s) ?? s),
    /** NetBIOS domain of the service account (NTLM); with basic it is sent as DOMAIN\user when set. */
    domain: z
      .string()
      .trim()
      .regex(/^[^\\/:*?"<>|.\s@]{1,15}$/, 'domain must be the NetBIOS domain name (up to 15 characters, no dots), e.g. CONTOSO — not contoso.com')
      .optional(),
    username: z
      .string()
      .trim()
      .min(1, 'username cannot be empty: the service account’s logon name, e.g. svc-calsync')
      .refine((u) => !u.includes('\\'), 'username must not contain the domain: enter CONTOSO as domain and svc-calsync as username')
      .optional(),
    syncUserEmail: z.string().trim().email('syncUserEmail must be the e-mail address of a mailbox to test with'),
    exchangeVersion: z.enum(EXCHANGE_VERSIONS, { message: `exchangeVersion must be one of ${EXCHANGE_VERSIONS.join(', ')} (use Exchange2013_SP1 for Exchange 2013, 2016, 2019, SE and Exchange Online)` }).default('Exchange2013_SP1'),
    authentication: z.enum(['ntlm', 'basic', 'oauth'], { message: 'authentication must be ntlm, basic, or oauth (Exchange Online only)' }).default('ntlm'),
    /** impersonation: the ApplicationImpersonation role; delegate: full access to each mailbox. */
    accessMode: z.enum(['impersonation', 'delegate'], { message: 'accessMode must be impersonation (the ApplicationImpersonation role) or delegate (full access to each mailbox)' }).default('impersonation'),
    /** OAuth (Exchange Online): the app registration, as for microsoft365. */
    tenantId: tenantIdSchema.optional(),
    clientId: entraClientIdSchema.optional(),
    authorityHost: httpsUrl('authorityHost').default('https://login.microsoftonline.com'),
    caCertificate: caCertificateSchema.optional(),
    driftPolicy: driftPolicySchema,
  })
  .superRefine((s, ctx) => {
    const need = (field: 'domain' | 'username' | 'tenantId' | 'clientId', message: string) => {
      if (!s[field]) ctx.addIssue({ code: 'custom', path: [field], message });
    };
    if (s.authentication === 'ntlm') need('domain', 'domain is required with ntlm: the NetBIOS domain of the service account, e.g. CONTOSO');
    if (s.authentication !== 'oauth') need('username', `username is required with ${s.authentication}: the service account’s logon name, e.g. svc-calsync`);
    if (s.authentication === 'oauth') {
      need('tenantId', 'tenantId is required with oauth: the Directory (tenant) ID of the Exchange Online tenant');
      need('clientId', 'clientId is required with oauth: the Application (client) ID of the app registration');
      if (s.accessMode !== 'impersonation') {
        ctx.addIssue({ code: 'custom', path: ['accessMode'], message: 'accessMode must be impersonation with oauth: Exchange Online app-only access (full_access_as_app) acts through the impersonation header' });
      }
    }
  });

export type EwsSettings = z.output<typeof ewsSettingsSchema>;
export const EWS_SECRETS = ['password', 'clientSecret'];

/** The secret the chosen authentication needs, checked at save time. */
export function ewsSecretProblems(settings: Record<string, unknown>, secrets: Record<string, string | undefined>): FieldProblem[] {
  if (settings.authentication === 'oauth') {
    return secrets.clientSecret ? [] : [{ path: 'secrets.clientSecret', message: 'clientSecret is required with oauth: the client secret’s Value from the app registration' }];
  }
  return secrets.password ? [] : [{ path: 'secrets.password', message: `password is required with ${String(settings.authentication ?? 'ntlm')}: the service account’s password` }];
}

/** The account as Exchange sees it: DOMAIN\user (NTLM always, basic when a domain is set) or the bare name. */
export function accountName(settings: Pick<EwsSettings, 'domain' | 'username'>): string {
  return settings.domain ? `${settings.domain}\\${settings.username ?? ''}` : (settings.username ?? '');
}
