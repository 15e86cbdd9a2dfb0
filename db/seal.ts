// Secrets at rest: AES-256-GCM with a random 96-bit nonce per seal. Format: v1.<nonce>.<tag>.<ciphertext> (base64url).
import { createCipheriv, createDecipheriv, createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';

export class SecretKeyError extends Error {
  override name = 'SecretKeyError';
}

export interface Sealer {
  seal(value: unknown): string;
  unseal<T = unknown>(sealed: string): T;
  /** Short, non-reversible fingerprint for showing that a secret changed. */
  fingerprint(value: string): string;
  /** Keyed digest for capability tokens (feed URLs) derived from the key. */
  mac(purpose: string): string;
}

export function parseSecretKey(raw: string): Buffer {
  const text = raw.trim();
  const key = /^[0-9a-f]{64}$/i.test(text) ? Buffer.from(text, 'hex') : Buffer.from(text, 'base64');
  if (key.length !== 32) {
    throw new SecretKeyError('CALENDAR_SYNC_SECRET_KEY must be 32 bytes, given as 64 hex characters or base64 (openssl rand -base64 32).');
  }
  return key;
}

export function createSealer(key: Buffer): Sealer {
  return {
    seal(value) {
      const nonce = randomBytes(12);
      const cipher = createCipheriv('aes-256-gcm', key, nonce);
      const ct = Buffer.concat([cipher.update(JSON.stringify(value), 'utf8'), cipher.final()]);
      return ['v1', nonce, cipher.getAuthTag(), ct].map((p) => (typeof p === 'string' ? p : p.toString('base64url'))).join('.');
    },
    unseal(sealed) {
      const [version, nonce, tag, ct] = sealed.split('.');
      if (version !== 'v1' || !nonce || !tag || ct === undefined) throw new SecretKeyError('Sealed secret has an unknown format.');
      const decipher = createDecipheriv('aes-256-gcm', key, Buffer.from(nonce, 'base64url'));
      decipher.setAuthTag(Buffer.from(tag, 'base64url'));
      try {
        const pt = Buffer.concat([decipher.update(Buffer.from(ct, 'base64url')), decipher.final()]);
        return JSON.parse(pt.toString('utf8'));
      } catch {
        throw new SecretKeyError('Stored secrets cannot be decrypted: CALENDAR_SYNC_SECRET_KEY is not the key they were sealed with.');
      }
    },
    fingerprint(value) {
      return createHmac('sha256', key).update(`fingerprint:${value}`).digest('hex').slice(0, 12);
    },
    mac(purpose) {
      return createHmac('sha256', key).update(purpose).digest('base64url');
    },
  };
}

export const sha256 = (value: string) => createHash('sha256').update(value).digest('hex');

export function safeEqual(a: string, b: string): boolean {
  const ab = Buffer.from(a);
  const bb = Buffer.from(b);
  return ab.length === bb.length && timingSafeEqual(ab, bb);
}

/** The embedded default keeps its key in the data dir, created once with mode 0600. */
export async function loadOrCreateKeyFile(dataDir: string): Promise<Buffer> {
  const file = path.join(dataDir, 'secret.key');
  try {
    return parseSecretKey(await readFile(file, 'utf8'));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  await mkdir(dataDir, { recursive: true });
  const key = randomBytes(32);
  await writeFile(file, key.toString('base64') + '\n', { mode: 0o600, flag: 'wx' });
  await chmod(file, 0o600);
  return key;
}
