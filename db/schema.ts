// One pg-core schema for both drivers: PGlite (embedded default) and node-postgres (production).
import { sql } from 'drizzle-orm';
import {
  boolean,
  index,
  integer,
  jsonb,
  pgTable,
  primaryKey,
  serial,
  text,
  timestamp,
  uniqueIndex,
  uuid,
} from 'drizzle-orm/pg-core';

const ts = (name: string) => timestamp(name, { withTimezone: true, mode: 'date' });

/** The single global integration row (id is always 1). */
export const integration = pgTable('integration', {
  id: integer('id').primaryKey().default(1),
  installationId: uuid('installation_id').notNull(),
  protocol: text('protocol').notNull().default('ics'),
  settings: jsonb('settings').$type<Record<string, unknown>>().notNull().default({}),
  /** AES-256-GCM sealed JSON object of secret fields; never leaves the server unsealed. */
  secrets: text('secrets'),
  secretsUpdatedAt: ts('secrets_updated_at'),
  enabled: boolean('enabled').notNull().default(false),
  version: integer('version').notNull().default(1),
  updatedAt: ts('updated_at').notNull().defaultNow(),
  updatedBy: text('updated_by'),
});

export const admins = pgTable('admins', {
  id: text('id').primaryKey(),
  displayName: text('display_name').notNull(),
  email: text('email').notNull(),
  timeZone: text('time_zone').notNull().default('UTC'),
  /** The SysAid user id when the admin was discovered from SysAid (null: created through the API). */
  sysaidUserId: text('sysaid_user_id'),
  /** When the admin disappeared from SysAid's admin list (their workflow is stopped). */
  removedAt: ts('removed_at'),
  /** Bumped to rotate the admin's ICS feed URL; the token itself is derived, never stored. */
  feedTokenVersion: integer('feed_token_version').notNull().default(1),
  createdAt: ts('created_at').notNull().defaultNow(),
  updatedAt: ts('updated_at').notNull().defaultNow(),
});

export const adminSettings = pgTable('admin_settings', {
  adminId: text('admin_id')
    .primaryKey()
    .references(() => admins.id, { onDelete: 'cascade' }),
  syncEnabled: boolean('sync_enabled').notNull().default(false),
  itemTypes: text('item_types').array().notNull().default(sql`'{}'::text[]`),
  daysBack: integer('days_back').notNull().default(30),
  daysForward: integer('days_forward').notNull().default(365),
  includeClosed: boolean('include_closed').notNull().default(false),
  /** Privacy: mark exported events private in the target calendar. */
  markPrivate: boolean('mark_private').notNull().default(false),
  /** Privacy: export only "busy" blocks, with a neutral title and no body. */
  busyOnly: boolean('busy_only').notNull().default(false),
  version: integer('version').notNull().default(1),
  updatedAt: ts('updated_at').notNull().defaultNow(),
});

/** The built-in source: items pushed through the API (and the embedded default's demo data). */
export const calendarItems = pgTable(
  'calendar_items',
  {
    key: text('key').notNull(),
    adminId: text('admin_id').notNull(),
    type: text('type').notNull(),
    /** CalendarItem timing, JSON (see activities/sync/types.ts). */
    timing: jsonb('timing').$type<Record<string, unknown>>().notNull(),
    /** Instant used for window queries: the start (or due time, or the all-day start at UTC midnight). */
    startsAt: ts('starts_at').notNull(),
    title: text('title').notNull(),
    body: text('body').notNull().default(''),
    url: text('url'),
    statusClass: text('status_class'),
    parent: jsonb('parent').$type<Record<string, unknown> | null>(),
    updatedAt: ts('updated_at').notNull().defaultNow(),
    deletedAt: ts('deleted_at'),
    /** Who wrote it: `builtin` (the items API) or `sysaid` (the SysAid reader, which owns its rows). */
    source: text('source').notNull().default('builtin'),
  },
  (t) => [primaryKey({ columns: [t.adminId, t.key] }), index('calendar_items_admin_starts').on(t.adminId, t.startsAt), index('calendar_items_key').on(t.key)],
);

/** One row per exported event: the map between a source item and the provider's event. */
export const eventLinks = pgTable(
  'event_links',
  {
    adminId: text('admin_id').notNull(),
    itemKey: text('item_key').notNull(),
    provider: text('provider').notNull(),
    remoteId: text('remote_id'),
    remoteVersion: text('remote_version'),
    contentHash: text('content_hash'),
    /** Bumped when a deleted item must be re-created (Google keeps deleted ids reserved). */
    generation: integer('generation').notNull().default(1),
    state: text('state').$type<'synced' | 'failed' | 'removing' | 'removed'>().notNull(),
    lastError: text('last_error'),
    /** The item's window instant when last exported: decides whether a missing item "fell out" of the window. */
    itemStartsAt: ts('item_starts_at'),
    /** The sync run that last wrote this link: a retried batch skips the changes it already applied. */
    lastRunId: uuid('last_run_id'),
    syncedAt: ts('synced_at'),
  },
  (t) => [primaryKey({ columns: [t.adminId, t.provider, t.itemKey] })],
);

export const syncRuns = pgTable(
  'sync_runs',
  {
    id: uuid('id').primaryKey(),
    adminId: text('admin_id').notNull(),
    provider: text('provider').notNull(),
    trigger: text('trigger').notNull(),
    mode: text('mode').$type<'sync' | 'remove-all' | 'release-held'>().notNull().default('sync'),
    startedAt: ts('started_at').notNull().defaultNow(),
    finishedAt: ts('finished_at'),
    created: integer('created').notNull().default(0),
    updated: integer('updated').notNull().default(0),
    deleted: integer('deleted').notNull().default(0),
    unchanged: integer('unchanged').notNull().default(0),
    failed: integer('failed').notNull().default(0),
    heldDeletes: integer('held_deletes').notNull().default(0),
    sourceItems: integer('source_items').notNull().default(0),
    /** Exported events found deleted or edited in the calendar by someone else (repaired or left, per policy). */
    driftMissing: integer('drift_missing').notNull().default(0),
    driftEdited: integer('drift_edited').notNull().default(0),
    error: text('error'),
    workflowId: text('workflow_id'),
    workflowRunId: text('workflow_run_id'),
  },
  (t) => [index('sync_runs_admin_started').on(t.adminId, t.startedAt)],
);

/** The diff of one run: ids and ops in the DB, so workflow history carries only ids and counts. */
export const planChanges = pgTable(
  'plan_changes',
  {
    runId: uuid('run_id').notNull(),
    seq: integer('seq').notNull(),
    batchNo: integer('batch_no'),
    itemKey: text('item_key').notNull(),
    op: text('op').$type<'create' | 'update' | 'delete'>().notNull(),
    reason: text('reason').notNull(),
    state: text('state').$type<'pending' | 'held' | 'done' | 'failed' | 'skipped'>().notNull(),
    /** The rendered ExportedEvent (create/update), so apply never re-reads the source. */
    event: jsonb('event').$type<Record<string, unknown> | null>(),
    contentHash: text('content_hash'),
    itemStartsAt: ts('item_starts_at'),
    error: text('error'),
  },
  (t) => [primaryKey({ columns: [t.runId, t.seq] }), index('plan_changes_run_batch').on(t.runId, t.batchNo)],
);

/** Events of the built-in ICS provider: what each admin's feed serves. */
export const feedEvents = pgTable(
  'feed_events',
  {
    adminId: text('admin_id').notNull(),
    uid: text('uid').notNull(),
    marker: text('marker').notNull(),
    event: jsonb('event').$type<Record<string, unknown>>().notNull(),
    sequence: integer('sequence').notNull().default(0),
    createdAt: ts('created_at').notNull().defaultNow(),
    updatedAt: ts('updated_at').notNull().defaultNow(),
  },
  (t) => [primaryKey({ columns: [t.adminId, t.uid] })],
);

export const auditLog = pgTable(
  'audit_log',
  {
    id: serial('id').primaryKey(),
    at: ts('at').notNull().defaultNow(),
    actor: text('actor').notNull(),
    action: text('action').notNull(),
    target: text('target'),
    detail: jsonb('detail').$type<Record<string, unknown>>(),
  },
  (t) => [index('audit_log_at').on(t.at)],
);

export const apiTokens = pgTable(
  'api_tokens',
  {
    id: uuid('id').primaryKey(),
    name: text('name').notNull(),
    /** sha-256 of the token; the token itself is shown once and never stored. */
    tokenHash: text('token_hash').notNull(),
    role: text('role').$type<'sysadmin' | 'admin'>().notNull(),
    adminId: text('admin_id'),
    createdAt: ts('created_at').notNull().defaultNow(),
    lastUsedAt: ts('last_used_at'),
    revokedAt: ts('revoked_at'),
  },
  (t) => [uniqueIndex('api_tokens_hash').on(t.tokenHash)],
);

export type IntegrationRow = typeof integration.$inferSelect;
export type AdminRow = typeof admins.$inferSelect;
export type AdminSettingsRow = typeof adminSettings.$inferSelect;
export type CalendarItemRow = typeof calendarItems.$inferSelect;
export type EventLinkRow = typeof eventLinks.$inferSelect;
export type SyncRunRow = typeof syncRuns.$inferSelect;
export type PlanChangeRow = typeof planChanges.$inferSelect;
export type ApiTokenRow = typeof apiTokens.$inferSelect;

/**
 * Where items come from (single row, id 1): the built-in store, SysAid, or both; SysAid's settings and sealed
 * password; the shared session and request budget (in the DB, so every worker process shares them); and
 * where the change-driven read stands.
 */
export const sourceConfig = pgTable('source_config', {
  id: integer('id').primaryKey().default(1),
  mode: text('mode').$type<'builtin' | 'sysaid' | 'both'>().notNull().default('builtin'),
  settings: jsonb('settings').$type<Record<string, unknown>>().notNull().default({}),
  /** Sealed JSON of the secret fields (the API password). */
  secrets: text('secrets'),
  version: integer('version').notNull().default(1),
  updatedAt: ts('updated_at').notNull().defaultNow(),
  updatedBy: text('updated_by'),
  /** Sealed session: every cookie the classic login set, or the newer API's access token and its expiry; reused by every process until SysAid answers 401 (or the token expires). */
  session: text('session'),
  sessionVersion: integer('session_version').notNull().default(0),
  /** Request budget: requests (and logins) counted in the current fixed window. */
  budgetWindowStart: ts('budget_window_start'),
  budgetUsed: integer('budget_used').notNull().default(0),
  loginWindowStart: ts('login_window_start'),
  loginsUsed: integer('logins_used').notNull().default(0),
  /** The account's own count from the newer API's X-RateLimit-* headers (all integrations together). */
  serverLimit: integer('server_limit'),
  serverRemaining: integer('server_remaining'),
  serverResetAt: ts('server_reset_at'),
  /** Fingerprint of credentials SysAid refused: not tried again until the source is saved. */
  loginRefused: text('login_refused'),
  loginRefusedAt: ts('login_refused_at'),
  /** SR update_time (epoch ms) the next change-driven read starts from (inclusive); null = first (full) read. */
  srHighWater: text('sr_high_water'),
  /** SR insert_time (epoch ms) the next read of new SRs starts from, when update_time is no filter. */
  srInsertHighWater: text('sr_insert_high_water'),
  /** Whether update_time works as an SR list filter here: `filter`, `absent` (not in GET /filters) or `ignored` (SysAid returned older SRs). */
  updateTimeFilter: text('update_time_filter').$type<'filter' | 'absent' | 'ignored'>(),
  filtersCheckedAt: ts('filters_checked_at'),
  /** The periodic check for deleted SRs: when it last went through every SR with items, and where a budget-bounded pass stopped. */
  existenceCheckedAt: ts('existence_checked_at'),
  existenceCursor: text('existence_cursor'),
  /** SysAid user name (lower case) → user id of the listed admins, for follow-up users stored by name. */
  adminUserNames: jsonb('admin_user_names').$type<Record<string, string>>(),
  adminsRefreshedAt: ts('admins_refreshed_at'),
  lastReadAt: ts('last_read_at'),
  lastReadError: text('last_read_error'),
  lastReadStats: jsonb('last_read_stats').$type<Record<string, unknown>>(),
});

export type SourceConfigRow = typeof sourceConfig.$inferSelect;
