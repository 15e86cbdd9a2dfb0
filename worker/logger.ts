// The one logger: structured JSON (pino). Secret-bearing keys are redacted wherever they appear.
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
