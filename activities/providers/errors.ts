// The error classes every provider maps its failures into (one mapping function per provider).
// activities/failures.ts turns them into Temporal failures in exactly one place.

export type ProviderErrorKind = 'throttled' | 'transient' | 'item-rejected' | 'credentials' | 'mailbox-not-found';

export class ProviderError extends Error {
  constructor(
    readonly kind: ProviderErrorKind,
    message: string,
    readonly options: { retryAfterMs?: number; status?: number; code?: string; cause?: unknown } = {},
  ) {
    super(message, { cause: options.cause });
    this.name = 'ProviderError';
  }
}

export const throttled = (message: string, retryAfterMs?: number, extra: { status?: number; code?: string } = {}) =>
  new ProviderError('throttled', message, { retryAfterMs, ...extra });
export const transient = (message: string, extra: { status?: number; code?: string; cause?: unknown } = {}) =>
  new ProviderError('transient', message, extra);
export const itemRejected = (message: string, extra: { status?: number; code?: string } = {}) =>
  new ProviderError('item-rejected', message, extra);
export const credentials = (message: string, extra: { status?: number; code?: string } = {}) =>
  new ProviderError('credentials', message, extra);
export const mailboxNotFound = (message: string, extra: { status?: number; code?: string } = {}) =>
  new ProviderError('mailbox-not-found', message, extra);

export const isProviderError = (err: unknown): err is ProviderError => err instanceof ProviderError;
