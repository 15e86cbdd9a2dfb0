// The one place where provider and source errors become Temporal failures.
import { ApplicationFailure } from '@temporalio/common';
import { isProviderError, type ProviderError } from './providers/errors';

/** Failure types the workflow reacts to; the retry policy lists the non-retryable ones. */
export const FAILURE = {
  throttled: 'ProviderThrottled',
  transient: 'ProviderTransient',
  credentials: 'ProviderCredentials',
  mailboxNotFound: 'ProviderMailboxNotFound',
  itemRejected: 'ProviderItemRejected',
  adminNotFound: 'AdminNotFound',
  configuration: 'IntegrationConfiguration',
} as const;

export const NON_RETRYABLE_FAILURES: string[] = [
  FAILURE.credentials,
  FAILURE.mailboxNotFound,
  FAILURE.itemRejected,
  FAILURE.adminNotFound,
  FAILURE.configuration,
];

export function toFailure(err: ProviderError): ApplicationFailure {
  const { retryAfterMs } = err.options;
  switch (err.kind) {
    case 'throttled':
      return ApplicationFailure.create({
        type: FAILURE.throttled,
        message: err.message,
        // Retry-After from the provider replaces the policy's backoff for this attempt.
        nextRetryDelay: retryAfterMs !== undefined ? Math.max(1, Math.ceil(retryAfterMs)) : undefined,
      });
    case 'transient':
      return ApplicationFailure.create({ type: FAILURE.transient, message: err.message });
    case 'credentials':
      return ApplicationFailure.create({ type: FAILURE.credentials, message: err.message, nonRetryable: true });
    case 'mailbox-not-found':
      return ApplicationFailure.create({ type: FAILURE.mailboxNotFound, message: err.message, nonRetryable: true });
    case 'item-rejected':
      return ApplicationFailure.create({ type: FAILURE.itemRejected, message: err.message, nonRetryable: true });
  }
}

/** Rethrows anything as a Temporal failure: provider errors by class, everything else as retryable. */
export function rethrowAsFailure(err: unknown): never {
  if (isProviderError(err)) throw toFailure(err);
  throw err;
}

export const configurationFailure = (message: string) =>
  ApplicationFailure.create({ type: FAILURE.configuration, message, nonRetryable: true });
