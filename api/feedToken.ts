// Feed URLs are capabilities: <adminId>.<mac>, the MAC keyed by the secret key and the admin's token
// version. Nothing is stored; rotating bumps the version, which invalidates the old URL.
import type { Sealer } from '../db/seal';
import { safeEqual } from '../db/seal';

const MAC_LENGTH = 32;

export const feedToken = (sealer: Sealer, adminId: string, version: number) =>
  `${adminId}.${sealer.mac(`feed:${adminId}:${version}`).slice(0, MAC_LENGTH)}`;

export const feedUrl = (baseUrl: string, sealer: Sealer, adminId: string, version: number) =>
  `${baseUrl}/feeds/${feedToken(sealer, adminId, version)}.ics`;

/** The admin id a token claims (still to be verified with `feedTokenMatches`). */
export function feedTokenAdminId(token: string): string | null {
  const dot = token.lastIndexOf('.');
  return dot > 0 ? token.slice(0, dot) : null;
}

export const feedTokenMatches = (sealer: Sealer, token: string, adminId: string, version: number) =>
  safeEqual(token, feedToken(sealer, adminId, version));
