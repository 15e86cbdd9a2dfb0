// The provider-neutral model: what sources emit (CalendarItem) and what providers receive (ExportedEvent).
// Pure types only; imported by workflows (as types), activities, api and tests.

export const ITEM_TYPES = [
  'sr_due',
  'sr_activity',
  'sr_followup',
  'software_expiry',
  'event',
  'task',
  'project',
] as const;
export type ItemType = (typeof ITEM_TYPES)[number];

export const PROVIDERS = ['ics', 'microsoft365', 'google', 'ews', 'caldav'] as const;
export type ProviderName = (typeof PROVIDERS)[number];

/** When an item happens. Instants are ISO-8601 UTC strings; dates are YYYY-MM-DD. */
export type ItemTiming =
  | { kind: 'timed'; startUtc: string; endUtc: string }
  | { kind: 'deadline'; atUtc: string }
  | { kind: 'all_day'; startDate: string; endDateExclusive: string; sourceTz: string };

export type StatusClass = 'open' | 'closed' | null;

/** What every source adapter emits. */
export interface CalendarItem {
  /** Immutable stable key from source ids only, e.g. `sysaid:sr:42:due`. */
  key: string;
  type: ItemType;
  adminId: string;
  title: string;
  body: string;
  url: string | null;
  timing: ItemTiming;
  statusClass: StatusClass;
  parent: { type: string; id: string; display: string } | null;
  /** Source revision (e.g. SR update_time); informational, the content hash drives updates. */
  updatedAt: string;
}

/** What a provider writes: already rendered in the admin's zone, with no source specifics left. */
export interface ExportedEvent {
  title: string;
  body: string;
  url: string | null;
  /** Timed: instants in UTC plus the zone to show them in; all-day: local dates, end exclusive. */
  time:
    | { kind: 'timed'; startUtc: string; endUtc: string; timeZone: string }
    | { kind: 'all_day'; startDate: string; endDateExclusive: string };
  showAs: 'free' | 'busy';
  /** Minutes before start; null = no reminder. */
  reminderMinutes: number | null;
  category: string;
  sensitivity: 'normal' | 'private';
}

export interface AdminSyncSettings {
  adminId: string;
  timeZone: string;
  itemTypes: ItemType[];
  daysBack: number;
  daysForward: number;
  includeClosed: boolean;
  markPrivate: boolean;
  busyOnly: boolean;
}

export interface SyncWindow {
  startUtc: string;
  endUtc: string;
}

export type ChangeOp = 'create' | 'update' | 'delete';

/** Why a change is planned; deletes for `source-missing` are subject to the mass-deletion guard. */
export type ChangeReason =
  | 'new'
  | 'changed'
  | 'retry-failed'
  | 'recreate'
  | 'source-missing'
  | 'excluded-type'
  | 'excluded-closed'
  | 'remove-all'
  | 'drift-missing'
  | 'drift-edited';

export interface PlannedChange {
  itemKey: string;
  op: ChangeOp;
  reason: ChangeReason;
  event: ExportedEvent | null;
  contentHash: string | null;
  itemStartsAt: string | null;
}

/** The subset of an event link the pure diff needs. */
export interface LinkState {
  itemKey: string;
  contentHash: string | null;
  state: 'synced' | 'failed' | 'removing' | 'removed';
  remoteId: string | null;
  remoteVersion: string | null;
  itemStartsAt: string | null;
}

export interface RunCounts {
  created: number;
  updated: number;
  deleted: number;
  unchanged: number;
  failed: number;
  heldDeletes: number;
}

export const zeroCounts = (): RunCounts => ({
  created: 0,
  updated: 0,
  deleted: 0,
  unchanged: 0,
  failed: 0,
  heldDeletes: 0,
});
