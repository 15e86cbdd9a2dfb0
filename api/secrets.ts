// Write-only secrets in API forms: a string sets one, null removes it, an omitted one keeps its saved value;
// reads show only that a secret is set, and its fingerprint.
import type { Sealer } from '../db/seal';
import { unprocessable } from './problem';

export function mergeSecrets(owner: string, allowed: string[], saved: Record<string, string>, changes: Record<string, string | null>): Record<string, string> {
  const unknown = Object.keys(changes).filter((k) => !allowed.includes(k));
  if (unknown.length) {
    throw unprocessable(`${owner} has no secret named ${unknown.join(', ')} (its secrets: ${allowed.length ? allowed.join(', ') : 'none'}).`, unknown.map((k) => ({ path: `secrets.${k}`, message: 'unknown secret' })));
  }
  const merged = { ...saved };
  for (const [k, v] of Object.entries(changes)) {
    if (v === null) delete merged[k];
    else merged[k] = v;
  }
  // Secrets saved for another protocol are not this form's (switching protocols starts from a clean form).
  for (const k of Object.keys(merged)) if (!allowed.includes(k)) delete merged[k];
  return merged;
}

export function secretsView(secrets: Record<string, string>, sealer: Sealer, updatedAt: Date | null = null) {
  return Object.fromEntries(Object.entries(secrets).map(([name, value]) => [name, { set: true as const, updatedAt: updatedAt?.toISOString() ?? null, fingerprint: sealer.fingerprint(value) }]));
}
