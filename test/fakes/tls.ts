// A private test CA and a certificate for localhost/127.0.0.1, made with openssl once per process, so the
// emulators serve real HTTPS and the SDKs verify it against a configured CA (verification stays on).
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

export interface TestTls {
  ca: string;
  cert: string;
  key: string;
  /** A second, unrelated CA: configuring it must make verification fail. */
  otherCa: string;
}

let cached: TestTls | null = null;

function makeCa(dir: string, name: string) {
  const key = path.join(dir, `${name}.key`);
  const cert = path.join(dir, `${name}.pem`);
  execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', cert, '-days', '2', '-subj', `/CN=calendar-sync ${name}`, '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign'], { stdio: 'ignore' });
  return { key, cert };
}

export function testTls(): TestTls {
  if (cached) return cached;
  const dir = mkdtempSync(path.join(tmpdir(), 'cs-tls-'));
  const ca = makeCa(dir, 'test-ca');
  const other = makeCa(dir, 'other-ca');
  const key = path.join(dir, 'server.key');
  const csr = path.join(dir, 'server.csr');
  const cert = path.join(dir, 'server.pem');
  const ext = path.join(dir, 'server.ext');
  writeFileSync(ext, 'subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n');
  execFileSync('openssl', ['req', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', csr, '-subj', '/CN=localhost'], { stdio: 'ignore' });
  execFileSync('openssl', ['x509', '-req', '-in', csr, '-CA', ca.cert, '-CAkey', ca.key, '-CAcreateserial', '-out', cert, '-days', '2', '-extfile', ext], { stdio: 'ignore' });
  cached = { ca: readFileSync(ca.cert, 'utf8'), cert: readFileSync(cert, 'utf8'), key: readFileSync(key, 'utf8'), otherCa: readFileSync(other.cert, 'utf8') };
  return cached;
}
