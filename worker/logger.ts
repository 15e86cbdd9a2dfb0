// The one logger: structured JSON (pino). Secret-bearing keys are redacted wherever they appear.
import { DefaultLogger, Runtime } from '@temporalio/worker';
import pino, { type Logger } from 'pino';

export const REDACTED_KEYS = [
  'secret',
  'secrets',
  'password',
  'clientSecret',
  'privateKey',
  'token',
  'accessToken',
  'authorization',
  'apiKey',
];

export function createLogger(level: string = process.env.LOG_LEVEL ?? 'info', destination?: pino.DestinationStream): Logger {
  const paths = REDACTED_KEYS.flatMap((k) => [k, `*.${k}`, `*.*.${k}`]);
  return pino({ level, base: { app: 'calendar-sync' }, redact: { paths, censor: '[redacted]' } }, destination);
}

export type { Logger };

const SDK_LEVELS = { trace: 'TRACE', debug: 'DEBUG', info: 'INFO', warn: 'WARN', error: 'ERROR', fatal: 'ERROR', silent: 'ERROR' } as const;

/** The Temporal SDK's own log (bundling, worker state) at the process's level; call before any connection. */
export function installTemporalRuntime(level: string) {
  Runtime.install({ logger: new DefaultLogger(SDK_LEVELS[level as keyof typeof SDK_LEVELS] ?? 'INFO') });
}
