// Chooses the provider for the configured protocol. Later protocols plug in here.
import { z } from 'zod';
import type { Db } from '../../db/client';
import type { ProviderName } from '../sync/types';
import { createEwsProvider } from './ews';
import { EWS_SECRETS, ewsSecretProblems, ewsSettingsSchema } from './ews/settings';
import { createGoogleProvider } from './google';
import { GOOGLE_SECRETS, googleSettingsSchema, serviceAccountCredentials, type FieldProblem } from './google/settings';
import { createGraphProvider } from './graph';
import { GRAPH_SECRETS, graphSettingsSchema } from './graph/settings';
import { createIcsProvider } from './ics';
import type { CalendarProvider } from './types';

export interface ProviderConfig {
  protocol: ProviderName;
  settings: Record<string, unknown>;
  secrets: Record<string, string>;
}

/** Protocols the integration form accepts today. */
export const AVAILABLE_PROTOCOLS: ProviderName[] = ['ics', 'microsoft365', 'google', 'ews'];

export interface ProtocolForm {
  settings: z.ZodType<Record<string, unknown>>;
  secrets: string[];
  /** Checks the saved-and-new secrets together with the settings (e.g. a key's format), at save time. */
  checkSecrets?: (settings: Record<string, unknown>, secrets: Record<string, string>) => FieldProblem[];
}

/** What each protocol's form holds: non-secret settings (validated) and the names of its secret fields. */
export const PROTOCOL_FORMS: Partial<Record<ProviderName, ProtocolForm>> = {
  ics: {
    settings: z.strictObject({ syncUserEmail: z.string().email('syncUserEmail must be an e-mail address').optional() }),
    secrets: [],
  },
  microsoft365: { settings: graphSettingsSchema as z.ZodType<Record<string, unknown>>, secrets: GRAPH_SECRETS },
  google: {
    settings: googleSettingsSchema as z.ZodType<Record<string, unknown>>,
    secrets: GOOGLE_SECRETS,
    checkSecrets: (settings, secrets) => {
      const creds = serviceAccountCredentials(settings, secrets);
      return Array.isArray(creds) ? creds : [];
    },
  },
  ews: { settings: ewsSettingsSchema as z.ZodType<Record<string, unknown>>, secrets: EWS_SECRETS, checkSecrets: ewsSecretProblems },
};

/** Protocols people ask for that will never be supported, with the way forward. */
export const RETIRED_PROTOCOLS: Record<string, string> = {
  mapi: 'MAPI is not supported: it has no maintained client outside Outlook. Use "ews" for Exchange 2007 SP1 and later on-premises, or "microsoft365" for Exchange Online.',
  webdav: 'Exchange 2003 WebDAV is not supported: Exchange 2003 is long out of support. Use "ews" for Exchange 2007 SP1 and later, or "microsoft365" for Exchange Online.',
  exchange2003: 'Exchange 2003 (WebDAV) is not supported: it is long out of support. Use "ews" for Exchange 2007 SP1 and later, or "microsoft365" for Exchange Online.',
};

export class ProtocolUnavailableError extends Error {
  override name = 'ProtocolUnavailableError';
}

export interface ProviderDeps {
  db: Db;
  /** Tags every event this installation writes, so listing finds only ours. */
  installationId: string;
}

export function createProvider(config: ProviderConfig, deps: ProviderDeps): CalendarProvider {
  switch (config.protocol) {
    case 'ics':
      return createIcsProvider(deps.db);
    case 'microsoft365':
      return createGraphProvider({ settings: graphSettingsSchema.parse(config.settings), secrets: config.secrets });
    case 'google':
      return createGoogleProvider({ settings: googleSettingsSchema.parse(config.settings), secrets: config.secrets, installationId: deps.installationId });
    case 'ews':
      return createEwsProvider({ settings: ewsSettingsSchema.parse(config.settings), secrets: config.secrets, installationId: deps.installationId, db: deps.db });
    default:
      throw new ProtocolUnavailableError(`Protocol "${config.protocol}" is not available in this version; use one of: ${AVAILABLE_PROTOCOLS.join(', ')}.`);
  }
}
