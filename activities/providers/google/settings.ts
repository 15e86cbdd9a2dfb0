// The google integration form: a service account with domain-wide delegation. Key problems are found at
// save time, each message naming the part that is wrong (and never echoing key material).
import { createPrivateKey } from 'node:crypto';
import { z } from 'zod';
import { caCertificateSchema, driftPolicySchema, httpsUrl } from '../settings';

export const GOOGLE_SCOPE = 'https://www.googleapis.com/auth/calendar';
export const GOOGLE_TOKEN_URL = 'https://oauth2.googleapis.com/token';

export const googleSettingsSchema = z.strictObject({
  /** The service account's e-mail (client_email); needed when the key is pasted as privateKey instead of the JSON file. */
  clientEmail: z.string().trim().email('clientEmail must be the service account e-mail, e.g. calendar-sync@my-project.iam.gserviceaccount.com').optional(),
  /** The service account's numeric client id (as entered under Domain-wide delegation); informational. */
  clientId: z.string().trim().regex(/^\d{10,30}$/, 'clientId must be the service account’s numeric client ID (Unique ID)').optional(),
  syncUserEmail: z.string().trim().email('syncUserEmail must be the e-mail address of a Workspace user to test with'),
  /** The calendar to write into in each user's account: `primary` or a calendar id the user owns. */
  calendarId: z.string().trim().min(1, 'calendarId cannot be empty; use primary for each user’s main calendar').max(1024).default('primary'),
  apiEndpoint: httpsUrl('apiEndpoint').default('https://www.googleapis.com'),
  tokenEndpoint: httpsUrl('tokenEndpoint').default(GOOGLE_TOKEN_URL),
  caCertificate: caCertificateSchema.optional(),
  driftPolicy: driftPolicySchema,
  /** The Calendar API's per-user quota; the adapter paces each mailbox to stay under it. */
  requestsPerMinutePerUser: z.number().int().min(10, 'requestsPerMinutePerUser must be at least 10').max(100_000).default(600),
});

export type GoogleSettings = z.output<typeof googleSettingsSchema>;
export const GOOGLE_SECRETS = ['serviceAccountKey', 'privateKey'];

export interface ServiceAccountCredentials {
  clientEmail: string;
  privateKey: string;
  privateKeyId: string | null;
  clientId: string | null;
}

export interface FieldProblem {
  path: string;
  message: string;
}

/** The private key's problem in words, or null when it is a usable RSA key. */
function keyProblem(pem: unknown, what: string): string | null {
  if (typeof pem !== 'string' || !pem.trim()) return `${what} is missing`;
  const text = pem.replace(/\\n/g, '\n');
  if (!/-----BEGIN (RSA )?PRIVATE KEY-----/.test(text)) {
    if (/-----BEGIN (CERTIFICATE|PUBLIC KEY)-----/.test(text)) return `${what} is a certificate or public key; the service account's private key is needed`;
    if (/-----BEGIN ENCRYPTED PRIVATE KEY-----/.test(text)) return `${what} is encrypted; paste the unencrypted key from the JSON key file`;
    return `${what} is not a PEM private key (it must start with -----BEGIN PRIVATE KEY-----)`;
  }
  if (!/-----END (RSA )?PRIVATE KEY-----/.test(text)) return `${what} is truncated (no -----END PRIVATE KEY----- line)`;
  try {
    const key = createPrivateKey(text);
    if (key.asymmetricKeyType !== 'rsa') return `${what} is a ${key.asymmetricKeyType} key; Google service account keys are RSA`;
  } catch {
    return `${what} is damaged: the PEM block does not decode to a private key (copied incompletely?)`;
  }
  return null;
}

/** The credentials from either the whole JSON key file or clientEmail + privateKey, or what is wrong with them. */
export function serviceAccountCredentials(settings: Pick<GoogleSettings, 'clientEmail' | 'clientId'>, secrets: Record<string, string | undefined>): ServiceAccountCredentials | FieldProblem[] {
  const problems: FieldProblem[] = [];
  if (secrets.serviceAccountKey) {
    let file: Record<string, unknown>;
    try {
      const parsed = JSON.parse(secrets.serviceAccountKey) as unknown;
      if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) throw new Error('not an object');
      file = parsed as Record<string, unknown>;
    } catch {
      return [{ path: 'secrets.serviceAccountKey', message: 'serviceAccountKey is not valid JSON: paste the whole key file, from { to } (it looks truncated or altered)' }];
    }
    if (file.type !== 'service_account') {
      const kind = typeof file.type === 'string' ? `a "${file.type}" credential` : 'not a key file';
      return [{ path: 'secrets.serviceAccountKey.type', message: `serviceAccountKey is ${kind}; create a key for a service account (type "service_account") in the Google Cloud console` }];
    }
    if (typeof file.client_email !== 'string' || !file.client_email.includes('@')) problems.push({ path: 'secrets.serviceAccountKey.client_email', message: 'the key file has no client_email' });
    const pk = keyProblem(file.private_key, 'the key file’s private_key');
    if (pk) problems.push({ path: 'secrets.serviceAccountKey.private_key', message: pk });
    if (settings.clientEmail && typeof file.client_email === 'string' && settings.clientEmail.toLowerCase() !== file.client_email.toLowerCase()) {
      problems.push({ path: 'settings.clientEmail', message: `clientEmail ${settings.clientEmail} does not match the key file’s client_email; clear it or paste the matching key` });
    }
    if (problems.length) return problems;
    return {
      clientEmail: file.client_email as string,
      privateKey: (file.private_key as string).replace(/\\n/g, '\n'),
      privateKeyId: typeof file.private_key_id === 'string' ? file.private_key_id : null,
      clientId: typeof file.client_id === 'string' ? file.client_id : (settings.clientId ?? null),
    };
  }
  if (!secrets.privateKey) {
    return [{ path: 'secrets.serviceAccountKey', message: 'paste the service account’s JSON key file as serviceAccountKey, or set settings.clientEmail and secrets.privateKey' }];
  }
  if (!settings.clientEmail) problems.push({ path: 'settings.clientEmail', message: 'clientEmail is required with privateKey: the service account e-mail' });
  const pk = keyProblem(secrets.privateKey, 'privateKey');
  if (pk) problems.push({ path: 'secrets.privateKey', message: pk });
  if (problems.length) return problems;
  return { clientEmail: settings.clientEmail!, privateKey: secrets.privateKey.replace(/\\n/g, '\n'), privateKeyId: null, clientId: settings.clientId ?? null };
}
