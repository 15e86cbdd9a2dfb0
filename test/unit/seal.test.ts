import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { createSealer, loadOrCreateKeyFile, parseSecretKey, SecretKeyError } from '../../db/seal';

describe('secret sealing', () => {
  const sealer = createSealer(randomBytes(32));

  it('round-trips a secrets object and never shows the plaintext', () => {
    const sealed = sealer.seal({ clientSecret: 'hunter2-very-secret' });
    expect(sealed).toMatch(/^v1\.[\w-]+\.[\w-]+\.[\w-]+$/);
    expect(sealed).not.toContain('hunter2');
    expect(sealer.unseal(sealed)).toEqual({ clientSecret: 'hunter2-very-secret' });
    expect(sealer.seal({ a: 1 })).not.toBe(sealer.seal({ a: 1 }));
  });

  it('detects tampering and a wrong key with a message that says what to do', () => {
    const sealed = sealer.seal({ a: 'b' });
    const parts = sealed.split('.');
    const flipped = Buffer.from(parts[3]!, 'base64url');
    flipped[0] ^= 1;
    expect(() => sealer.unseal([...parts.slice(0, 3), flipped.toString('base64url')].join('.'))).toThrow(SecretKeyError);
    expect(() => createSealer(randomBytes(32)).unseal(sealed)).toThrow(/CALENDAR_SYNC_SECRET_KEY is not the key/);
    expect(() => sealer.unseal('v2.x.y.z')).toThrow(/unknown format/);
  });

  it('parses 32-byte keys given as hex or base64 and rejects others', () => {
    const key = randomBytes(32);
    expect(parseSecretKey(key.toString('hex')).equals(key)).toBe(true);
    expect(parseSecretKey(` ${key.toString('base64')}\n`).equals(key)).toBe(true);
    expect(() => parseSecretKey(randomBytes(16).toString('base64'))).toThrow(/32 bytes/);
  });

  it('gives stable fingerprints and MACs that reveal nothing of the value', () => {
    expect(sealer.fingerprint('s3cret')).toBe(sealer.fingerprint('s3cret'));
    expect(sealer.fingerprint('s3cret')).not.toBe(sealer.fingerprint('s3cret2'));
    expect(sealer.fingerprint('s3cret')).toMatch(/^[0-9a-f]{12}$/);
    expect(sealer.mac('feed:a:1')).not.toBe(createSealer(randomBytes(32)).mac('feed:a:1'));
  });

  it('creates the embedded key file once with mode 0600 and reuses it', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'cs-key-'));
    try {
      const first = await loadOrCreateKeyFile(path.join(dir, 'data'));
      const file = path.join(dir, 'data', 'secret.key');
      expect((await stat(file)).mode & 0o777).toBe(0o600);
      expect(parseSecretKey(await readFile(file, 'utf8')).equals(first)).toBe(true);
      expect((await loadOrCreateKeyFile(path.join(dir, 'data'))).equals(first)).toBe(true);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
