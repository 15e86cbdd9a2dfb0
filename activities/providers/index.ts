// Chooses the provider for the configured protocol. Later protocols plug in here.
import type { Db } from '../../db/client';
import type { ProviderName } from '../sync/types';
import { createIcsProvider } from './ics';
import type { CalendarProvider } from './types';

export interface ProviderConfig {
  protocol: ProviderName;
  settings: Record<string, unknown>;
  secrets: Record<string, string>;
}

/** Protocols the integration form accepts today. */
export const AVAILABLE_PROTOCOLS: ProviderName[] = ['ics'];

export class ProtocolUnavailableError extends Error {
  override name = 'ProtocolUnavailableError';
}

export function createProvider(config: ProviderConfig, deps: { db: Db }): CalendarProvider {
  switch (config.protocol) {
    case 'ics':
      return createIcsProvider(deps.db);
    default:
      throw new ProtocolUnavailableError(`Protocol "${config.protocol}" is not available in this version; use one of: ${AVAILABLE_PROTOCOLS.join(', ')}.`);
  }
}
