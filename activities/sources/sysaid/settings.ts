// The source form: built-in items, SysAid, or both; and how to reach SysAid, through its classic REST API
// (`/api/v1`, user name and password) or its newer API (`/connect/v1`, application keys).
import { z } from 'zod';
import { caCertificateSchema, httpsUrl } from '../../providers/settings';
import { isValidTimeZone } from '../../sync/time';

export const SOURCE_MODES = ['builtin', 'sysaid', 'both'] as const;
export type SourceMode = (typeof SOURCE_MODES)[number];
export const SYSAID_API_VERSIONS = ['classic', 'connect'] as const;

/** A status id as SysAid lists it (GET /filters, `status` values), sent as a number or a string. */
const statusId = z.union([z.number().int().nonnegative(), z.string().trim().regex(/^\d+$/)], { error: 'closedStatusIds must be status ids such as 3 (the connection test lists them)' }).transform(String);

const always = () => true;

export const sysaidSettingsSchema = z
  .strictObject({
    /** `classic`: /api/v1 with a user name and password (the default); `connect`: the newer /connect/v1 API with application keys. */
    apiVersion: z.enum(SYSAID_API_VERSIONS, { error: 'apiVersion must be classic (user name and password) or connect (application keys)' }).default('classic'),
    /** The SysAid address users open, cloud (https://acme.sysaidit.com) or on-premises; the APIs are under it. */
    baseUrl: httpsUrl('baseUrl'),
    /** The account id: for instances that host several accounts (classic), always for connect (x-sysaid-accountid). */
    accountId: z.string().trim().min(1).max(100).optional(),
    /** classic: the API user. */
    userName: z.string().trim().min(1, 'userName cannot be empty: a SysAid administrator allowed to use the API (not an SSO-only account)').optional(),
    /** classic: how the password goes into the login request — as typed (`raw`) or URL-encoded UTF-8 (`url`, SysAid's documented form). */
    passwordEncoding: z.enum(['raw', 'url'], { error: 'passwordEncoding must be raw (the password as typed) or url (URL-encoded, as SysAid’s documentation describes)' }).default('raw'),
    /** connect: the application key's client id (its secret is the secret `clientSecret`). */
    clientId: z.string().trim().min(1, 'clientId cannot be empty: the clientId of the application key').max(200).optional(),
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
    /** Page size of list reads; SysAid may cap pages lower (a short page is never taken for the last one). */
    pageSize: z.number().int().min(10).max(500).default(500),
    /** The status ids that count as closed; without them, the status class SysAid sends with the status decides. */
    closedStatusIds: z.array(statusId).max(500).optional(),
    /** How often every SR with items is checked for having been deleted (minutes), and how many requests one pass may use. */
    existenceCheckMinutes: z.number().int().min(5).max(10_080).default(60),
    existenceCheckMaxRequests: z.number().int().min(2).max(500).default(20),
    /** SysAid's limits per account and window; this app uses at most `budgetShare` of them. */
    maxRequestsPerWindow: z.number().int().min(10).default(1000),
    maxLoginsPerWindow: z.number().int().min(1).default(2),
    windowSeconds: z.number().int().min(1).default(300),
    budgetShare: z.number().min(0.05).max(0.5, 'budgetShare above 0.5 could exceed SysAid’s limit across two windows').default(0.5),
  })
  // Checked even when other fields are wrong, so one answer names every missing field (the value may be partial then).
  .refine((s) => (s.apiVersion ?? 'classic') !== 'classic' || !!s.userName, { path: ['userName'], message: 'userName is required: a SysAid administrator allowed to use the API (not an SSO-only account)', when: always })
  .refine((s) => s.apiVersion !== 'connect' || !!s.clientId, { path: ['clientId'], message: 'clientId is required with apiVersion connect: the clientId of an application key (POST /connect/v1/application-keys, made once)', when: always })
  .refine((s) => s.apiVersion !== 'connect' || !!s.accountId, { path: ['accountId'], message: 'accountId is required with apiVersion connect: the SysAid account id, sent as x-sysaid-accountid', when: always });

export type SysaidSettings = z.output<typeof sysaidSettingsSchema>;
/** Every secret the form knows; the API version in use needs one of them (`sysaidSecretFor`). */
export const SYSAID_SECRETS = ['password', 'clientSecret'];
export const sysaidSecretFor = (apiVersion: SysaidSettings['apiVersion']) => (apiVersion === 'connect' ? 'clientSecret' : 'password');
export type SysaidSecrets = { password?: string; clientSecret?: string };
