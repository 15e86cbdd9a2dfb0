import type { ExportedEvent, ProviderName, SyncWindow } from '../sync/types';

/** Who an event belongs to and how to make its creation idempotent. */
export interface EventIdentity {
  /** `<installationId>/<adminId>/<itemKey>`: tags every event this app owns. */
  marker: string;
  /** Bumped when a deleted item must be re-created under a fresh provider id. */
  generation: number;
}

export interface Mailbox {
  adminId: string;
  email: string;
  timeZone: string;
}

export interface RemoteRef {
  remoteId: string;
  remoteVersion: string | null;
  /** Set by create when it had to use a later generation than asked (Google: ids of deleted events stay reserved). */
  generation?: number;
}

export interface ManagedEvent extends RemoteRef {
  marker: string;
}

export interface ConnectionCheck {
  name: string;
  ok: boolean;
  detail: string;
}

/**
 * Where events go. Every method is idempotent: create with the same identity yields the same event,
 * update/delete of an event that is already gone is not an error (update answers `gone`).
 * Failures are thrown as the classes in ./errors.ts, never as raw SDK errors.
 */
export interface CalendarProvider {
  readonly name: ProviderName;
  /** How many requests may be in flight for one mailbox at once. */
  readonly mailboxConcurrency: number;
  create(mailbox: Mailbox, identity: EventIdentity, event: ExportedEvent): Promise<RemoteRef>;
  update(mailbox: Mailbox, identity: EventIdentity, ref: RemoteRef, event: ExportedEvent): Promise<RemoteRef | 'gone'>;
  delete(mailbox: Mailbox, identity: EventIdentity, ref: RemoteRef): Promise<void>;
  /** Events carrying this installation's marker in the window (drift checks). */
  listManaged(mailbox: Mailbox, window: SyncWindow): Promise<ManagedEvent[]>;
  /** The sysadmin's "Test" button: each real check with ok/detail. */
  testConnection(syncUser: Mailbox): Promise<ConnectionCheck[]>;
}
