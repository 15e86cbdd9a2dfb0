// The microsoft365 integration form: what the sysadmin enters, validated with messages that say what is wrong.
import { z } from 'zod';
import { caCertificateSchema, driftPolicySchema, entraClientIdSchema, httpsUrl, tenantIdSchema } from '../settings';

export const graphSettingsSchema = z.strictObject({
  tenantId: tenantIdSchema,
  clientId: entraClientIdSchema,
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
