// Content hash of a rendered event: drives "update needed?". Canonical JSON, so key order never matters.
import { createHash } from 'node:crypto';
import type { ExportedEvent } from './types';

/**
 * Bump when rendering changes in a way that must rewrite every exported event. 2: the zone rule for the
 * times providers write (activities/sync/time.ts `wallTimes`) — events written before it could be hours off.
 */
export const RENDER_VERSION = 2;

export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value);
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  const entries = Object.entries(value as Record<string, unknown>)
    .filter(([, v]) => v !== undefined)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
}

export function contentHash(event: ExportedEvent): string {
  return createHash('sha256').update(`v${RENDER_VERSION}:${canonicalJson(event)}`).digest('hex');
}
