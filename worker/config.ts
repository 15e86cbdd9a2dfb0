// The one configuration loader: zod over the environment. Every variable is documented in README.md.
import { z } from 'zod';

const bool = z
  .enum(['1', '0', 'true', 'false', 'yes', 'no', ''])
  .transform((v) => v === '1' || v === 'true' || v === 'yes');

const positiveInt = (fallback: number) => z.coerce.number().int().positive().default(fallback);

const envSchema = z.object({
  /** PostgreSQL URL; unset = PGlite in CALENDAR_SYNC_DATA_DIR. */
  DATABASE_URL: z.string().url().optional(),
  CALENDAR_SYNC_DATA_DIR: z.string().default('.data'),
  /** 32 bytes, base64 or hex. Required with DATABASE_URL; generated into the data dir otherwise. */
  CALENDAR_SYNC_SECRET_KEY: z.string().optional(),
  /** First sysadmin token (≥ 24 chars); otherwise one is generated and printed once. */
  CALENDAR_SYNC_ADMIN_TOKEN: z.string().min(24, 'CALENDAR_SYNC_ADMIN_TOKEN must be at least 24 characters').optional(),
  PORT: positiveInt(3000),
  HOST: z.string().default('127.0.0.1'),
  /** The URL people reach the API at; used for feed links. */
  CALENDAR_SYNC_PUBLIC_URL: z.string().url().optional(),
  TEMPORAL_ADDRESS: z.string().optional(),
  TEMPORAL_NAMESPACE: z.string().default('default'),
  /** Where the Temporal Web UI is, for links in API answers. */
  TEMPORAL_UI_URL: z.string().url().optional(),
  CALENDAR_SYNC_TASK_QUEUE: z.string().default('calendar-sync'),
  /** How often each admin's calendar is re-planned. */
  CALENDAR_SYNC_INTERVAL_SECONDS: positiveInt(300),
  /** How often the reconciler makes Temporal match the DB. */
  CALENDAR_SYNC_RECONCILE_SECONDS: positiveInt(600),
  /** Mass-deletion guard: deletes of vanished items are held when they exceed both of these. */
  CALENDAR_SYNC_DELETE_HOLD_MIN: z.coerce.number().int().min(0).default(25),
  CALENDAR_SYNC_DELETE_HOLD_RATIO: z.coerce.number().min(0).max(1).default(0.5),
  /** An admin workflow continues as new after this many history events (bounds worker memory and replay time). */
  CALENDAR_SYNC_MAX_HISTORY_EVENTS: z.coerce.number().int().min(100).max(50_000).default(200),
  /** Changes per applyBatch activity. */
  CALENDAR_SYNC_BATCH_SIZE: positiveInt(200),
  LOG_LEVEL: z.enum(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent']).default('info'),
  /** Embedded default: seed demo admins and items on first start. */
  CALENDAR_SYNC_DEMO: bool.default(true),
  TEMPORAL_CLI: z.string().optional(),
  TEMPORAL_UI_PORT: positiveInt(8233),
  TEMPORAL_PORT: positiveInt(7233),
});

export type Config = z.infer<typeof envSchema>;

export class ConfigError extends Error {
  override name = 'ConfigError';
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  // An empty variable means unset (e.g. `TEMPORAL_ADDRESS= npm start`).
  const present = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== ''));
  const parsed = envSchema.safeParse(present);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => `  ${i.path.join('.')}: ${i.message}`);
    throw new ConfigError(`Invalid configuration:\n${lines.join('\n')}`);
  }
  return parsed.data;
}

export function publicUrl(config: Config): string {
  return (config.CALENDAR_SYNC_PUBLIC_URL ?? `http://${config.HOST}:${config.PORT}`).replace(/\/$/, '');
}
