// Form fields every provider's settings share, with one wording of their messages.
import { z } from 'zod';

/** An https URL without trailing slashes (TLS verification is never turned off, so http is refused). */
export const httpsUrl = (what: string) =>
  z
    .string()
    .url(`${what} must be a URL`)
    .refine((u) => u.startsWith('https://'), `${what} must use https (TLS verification is never turned off)`)
    .transform((u) => u.replace(/\/+$/, ''));

/** PEM of a private CA (internal PKI, TLS-inspecting proxy, test emulator); added to the trusted roots. */
export const caCertificateSchema = z
  .string()
  .refine((p) => /-----BEGIN CERTIFICATE-----[\s\S]+-----END CERTIFICATE-----/.test(p), 'caCertificate must be a PEM certificate (-----BEGIN CERTIFICATE-----)');

/** What to do with an event someone edited or deleted in the calendar: put it back, or leave it. */
export const driftPolicySchema = z.enum(['repair', 'leave']).default('repair');

const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** An Entra ID tenant: the directory (tenant) ID GUID or a verified domain. */
export const tenantIdSchema = z
  .string()
  .trim()
  .refine((t) => GUID.test(t) || /^[a-z0-9-]+(\.[a-z0-9-]+)+$/i.test(t), 'tenantId must be the directory (tenant) ID, a GUID, or a verified domain such as contoso.onmicrosoft.com');

/** An Entra ID app registration's application (client) ID. */
export const entraClientIdSchema = z.string().trim().regex(GUID, 'clientId must be the application (client) ID, a GUID, from the app registration’s overview page');
