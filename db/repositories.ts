// Queries shared by the API, the activities and the reconciler. Route- or activity-specific queries live beside them.
import { randomUUID } from 'node:crypto';
import { and, eq, sql } from 'drizzle-orm';
import type { AdminSyncSettings, ItemType, ProviderName } from '../activities/sync/types';
import type { Db } from './client';
import type { Sealer } from './seal';
import { admins, adminSettings, auditLog, integration, sourceConfig, type IntegrationRow, type SourceConfigRow } from './schema';

/** The integration row, created on first read with a fresh installation id (the ownership-marker prefix). */
export async function getIntegration(db: Db): Promise<IntegrationRow> {
  const [row] = await db.select().from(integration).where(eq(integration.id, 1));
  if (row) return row;
  await db.insert(integration).values({ id: 1, installationId: randomUUID() }).onConflictDoNothing();
  const [created] = await db.select().from(integration).where(eq(integration.id, 1));
  return created!;
}

/** The source configuration row (created on first use). */
export async function getSourceConfig(db: Db): Promise<SourceConfigRow> {
  const [row] = await db.select().from(sourceConfig).where(eq(sourceConfig.id, 1));
  if (row) return row;
  await db.insert(sourceConfig).values({ id: 1 }).onConflictDoNothing();
  const [created] = await db.select().from(sourceConfig).where(eq(sourceConfig.id, 1));
  return created!;
}

export interface IntegrationView {
  protocol: ProviderName;
  settings: Record<string, unknown>;
  enabled: boolean;
  version: number;
  installationId: string;
}

export function integrationView(row: IntegrationRow): IntegrationView {
  return {
    protocol: row.protocol as ProviderName,
    settings: row.settings,
    enabled: row.enabled,
    version: row.version,
    installationId: row.installationId,
  };
}

/** Unsealed secrets of the integration: only activities and the connection test ever call this. */
export function integrationSecrets(row: IntegrationRow, sealer: Sealer): Record<string, string> {
  return row.secrets ? sealer.unseal<Record<string, string>>(row.secrets) : {};
}

export async function loadAdminSyncSettings(db: Db, adminId: string): Promise<(AdminSyncSettings & { syncEnabled: boolean; email: string }) | null> {
  const [row] = await db
    .select()
    .from(admins)
    .leftJoin(adminSettings, eq(adminSettings.adminId, admins.id))
    .where(eq(admins.id, adminId));
  if (!row) return null;
  const s = row.admin_settings;
  return {
    adminId,
    email: row.admins.email,
    timeZone: row.admins.timeZone,
    syncEnabled: s?.syncEnabled ?? false,
    itemTypes: (s?.itemTypes ?? []) as ItemType[],
    daysBack: s?.daysBack ?? 30,
    daysForward: s?.daysForward ?? 365,
    includeClosed: s?.includeClosed ?? false,
    markPrivate: s?.markPrivate ?? false,
    busyOnly: s?.busyOnly ?? false,
  };
}

/** Admins that should have a running workflow when the integration is enabled. */
export async function listSyncEnabledAdminIds(db: Db): Promise<string[]> {
  const rows = await db
    .select({ id: adminSettings.adminId })
    .from(adminSettings)
    .where(eq(adminSettings.syncEnabled, true))
    .orderBy(adminSettings.adminId);
  return rows.map((r) => r.id);
}

export async function audit(db: Db, actor: string, action: string, target: string | null, detail?: Record<string, unknown>) {
  await db.insert(auditLog).values({ actor, action, target, detail: detail ?? null });
}

export async function bumpIntegrationVersion(db: Db, by: string) {
  await db
    .update(integration)
    .set({ version: sql`${integration.version} + 1`, updatedAt: new Date(), updatedBy: by })
    .where(and(eq(integration.id, 1)));
}
