import type { Logger } from 'pino';
import type { PreviewResult } from '../activities/plan';
import type { Db } from '../db/client';
import type { Sealer } from '../db/seal';
import type { Config } from '../worker/config';
import type { SyncFleet } from '../worker/fleet';

export interface AppDeps {
  db: Db;
  sealer: Sealer;
  fleet: SyncFleet;
  config: Config;
  logger: Logger;
  /** Resolves when Temporal answers; rejects otherwise (for /readyz). */
  temporalHealth: () => Promise<void>;
  /** The diff a sync would apply now; null when the admin does not exist. */
  preview: (adminId: string) => Promise<PreviewResult | null>;
}

export interface Principal {
  tokenId: string;
  name: string;
  role: 'sysadmin' | 'admin';
  adminId: string | null;
}

export interface AppEnv {
  Variables: { principal: Principal; deps: AppDeps };
}

export type { PreviewResult };
