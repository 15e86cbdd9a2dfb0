// The source form: built-in items, SysAid, or both; and how to reach SysAid's REST API.
import { z } from 'zod';
import { caCertificateSchema, httpsUrl } from '../../providers/settings';
import { isValidTimeZone } from '../../sync/time';

export const SOURCE_MODES = ['builtin', 'sysaid', 'both'] as const;
export type SourceMode = (typeof SOURCE_MODES)[number];

export const sysaidSettingsSchema = z.strictObject({
  /** The SysAid address users open, cloud (https://acme.sysaidit.com) or on-premises; the API is under /api/v1. */
  baseUrl: httpsUrl('baseUrl'),
  /** The account id, for instances that host several accounts. */
  accountId: z.string().trim().min(1).max(100).optional(),
  userName: z.string().trim().min(1, 'userName is required: a SysAid administrator allowed to use the API (not an SSO-only account)'),
  /** How often SysAid is read (seconds). */
  pollIntervalSeconds: z.number().int().min(30, 'pollIntervalSeconds must be at least 30').max(86_400).default(300),
  /** Where event links point (defaults to baseUrl). */
  linkBaseUrl: httpsUrl('linkBaseUrl').optional(),
  caCertificate: caCertificateSchema.optional(),
  /** The zone of admins whose SysAid profile has none. */
  defaultTimeZone: z.string().refine(isValidTimeZone, 'defaultTimeZone must be an IANA zone such as Europe/Berlin').default('UTC'),
  /** How often the admin list is read again (minutes). */
  adminRefreshMinutes: z.number().int().min(1).max(1440).default(60),
  /** When an admin disappears from SysAid, also delete the events already exported for them. */
  removeEventsOfRemovedAdmins: z.boolean().default(false),
  /** The first read takes SRs changed in this many days (later reads take only changes). */
  firstReadDays: z.number().int().min(1).max(3650).default(365),
  /** Page size of list reads; at most the server's configured maximum (SysAid's default is 500). */
  pageSize: z.number().int().min(10).max(500).default(500),
  /** SysAid's limits per account and window; this app uses at most `budgetShare` of them. */
  maxRequestsPerWindow: z.number().int().min(10).default(1000),
  maxLoginsPerWindow: z.number().int().min(1).default(2),
  windowSeconds: z.number().int().min(1).default(300),
  budgetShare: z.number().min(0.05).max(0.5, 'budgetShare above 0.5 could exceed SysAid’s limit across two windows').default(0.5),
});

export type SysaidSettings = z.output<typeof sysaidSettingsSchema>;
export const SYSAID_SECRETS = ['password'];
