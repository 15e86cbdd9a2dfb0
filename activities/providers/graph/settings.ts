// The microsoft365 integration form: what the sysadmin enters, validated with messages that say what is wrong.
import { z } from 'zod';
import { caCertificateSchema, driftPolicySchema, httpsUrl } from '../settings';

const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
export const graphSettingsSchema = z.strictObject({
  tenantId: z
    .string()
    .trim()
    .refine((t) => GUID.test(t) || /^[a-z0-9-]+(\.[a-z0-9-]+)+$/i.test(t), 'tenantId must be the directory (tenant) ID, a GUID, or a verified domain such as contoso.onmicrosoft.com'),
  clientId: z.string().trim().regex(GUID, 'clientId must be the application (client) ID, a GUID, from the app registration’s overview page'),
  syncUserEmail: z.string().trim().email('syncUserEmail must be the e-mail address of a mailbox to test with'),
  /** Write into this named calendar of each mailbox instead of the default calendar. */
  calendarName: z.string().trim().min(1).max(255).optional(),
  graphEndpoint: httpsUrl('graphEndpoint').default('https://graph.microsoft.com'),
  authorityHost: httpsUrl('authorityHost').default('https://login.microsoftonline.com'),
  caCertificate: caCertificateSchema.optional(),
  /** What to do with an event someone edited or deleted in Outlook: put it back, or leave it. */
  driftPolicy: driftPolicySchema,
});

export type GraphSettings = z.output<typeof graphSettingsSchema>;
export const GRAPH_SECRETS = ['clientSecret'];
