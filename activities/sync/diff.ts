// The diff between what the source says and what was exported, and the mass-deletion guard. Pure.
import { contentHash } from './hash';
import { renderEvent } from './render';
import { inWindow, windowInstant } from './time';
import type { AdminSyncSettings, CalendarItem, ChangeReason, LinkState, PlannedChange, SyncWindow } from './types';

const isActive = (l: LinkState) => l.state !== 'removed';

/**
 * Links whose item did not come back from the window read but whose last known instant lies inside the
 * window: the planner asks the source about exactly these, to tell "gone" from "moved out of the window".
 * Links outside the window are not asked about: an item that merely fell out of the window is left alone.
 */
export function keysToLookUp(links: LinkState[], windowItemKeys: Set<string>, window: SyncWindow): string[] {
  return links
    .filter((l) => isActive(l) && !windowItemKeys.has(l.itemKey) && (l.itemStartsAt === null || inWindow(l.itemStartsAt, window)))
    .map((l) => l.itemKey);
}

export interface DiffInput {
  /** Items read in the window, plus items found by looking up `keysToLookUp`. */
  items: CalendarItem[];
  links: LinkState[];
  settings: AdminSyncSettings;
  window: SyncWindow;
  /** Retry links in state `failed` even when their content did not change. */
  retryFailed: boolean;
  /** This admin's events as the calendar has them (remote id → version), when the provider can list them. */
  managed?: Map<string, string | null> | null;
  /** Put back events someone deleted or edited in the calendar (otherwise they are only counted). */
  repairDrift?: boolean;
}

export interface DiffResult {
  changes: PlannedChange[];
  unchanged: number;
  /** Events this app exported that someone deleted or edited in the calendar. */
  drift: { missing: number; edited: number };
  /** Items that stay failed because nothing changed and no retry was asked for. */
  stillFailed: number;
}

function exclusion(item: CalendarItem, settings: AdminSyncSettings): ChangeReason | null {
  if (!settings.itemTypes.includes(item.type)) return 'excluded-type';
  if (!settings.includeClosed && item.statusClass === 'closed') return 'excluded-closed';
  return null;
}

export function diffItems({ items, links, settings, window, retryFailed, managed = null, repairDrift = true }: DiffInput): DiffResult {
  const linkByKey = new Map(links.map((l) => [l.itemKey, l]));
  const seen = new Set<string>();
  const upserts: PlannedChange[] = [];
  const deletes: PlannedChange[] = [];
  let unchanged = 0;
  let stillFailed = 0;
  const drift = { missing: 0, edited: 0 };

  for (const item of items) {
    if (seen.has(item.key)) continue;
    seen.add(item.key);
    const link = linkByKey.get(item.key);
    const active = link && isActive(link);
    const excluded = exclusion(item, settings);
    if (excluded) {
      if (active) deletes.push(deleteChange(item.key, excluded));
      continue;
    }
    const event = renderEvent(item, settings);
    const hash = contentHash(event);
    const base = { itemKey: item.key, event, contentHash: hash, itemStartsAt: windowInstant(item.timing) };
    if (!active) {
      upserts.push({ ...base, op: 'create', reason: link ? 'recreate' : 'new' });
    } else if (link.state === 'failed' && !link.remoteId) {
      if (retryFailed || link.contentHash !== hash) upserts.push({ ...base, op: 'create', reason: 'retry-failed' });
      else stillFailed++;
    } else if (link.state === 'failed') {
      if (retryFailed || link.contentHash !== hash) upserts.push({ ...base, op: 'update', reason: 'retry-failed' });
      else stillFailed++;
    } else if (link.state === 'removing' || link.contentHash !== hash) {
      upserts.push({ ...base, op: 'update', reason: 'changed' });
    } else if (managed && link.remoteId && !managed.has(link.remoteId)) {
      drift.missing++;
      if (repairDrift) upserts.push({ ...base, op: 'update', reason: 'drift-missing' });
      else unchanged++;
    } else if (managed && link.remoteId && link.remoteVersion && managed.get(link.remoteId) !== link.remoteVersion) {
      drift.edited++;
      if (repairDrift) upserts.push({ ...base, op: 'update', reason: 'drift-edited' });
      else unchanged++;
    } else {
      unchanged++;
    }
  }

  for (const link of links) {
    if (!isActive(link) || seen.has(link.itemKey)) continue;
    if (link.itemStartsAt === null || inWindow(link.itemStartsAt, window)) {
      deletes.push(deleteChange(link.itemKey, 'source-missing'));
    }
  }
  return { changes: [...upserts, ...deletes], unchanged, stillFailed, drift };
}

/** Every active link becomes a delete: the admin turned sync off and asked to remove the events. */
export function removeAllChanges(links: LinkState[]): PlannedChange[] {
  return links.filter(isActive).map((l) => deleteChange(l.itemKey, 'remove-all'));
}

const deleteChange = (itemKey: string, reason: ChangeReason): PlannedChange => ({
  itemKey,
  op: 'delete',
  reason,
  event: null,
  contentHash: null,
  itemStartsAt: null,
});

export interface GuardPolicy {
  /** Deletes of vanished items are held only above this many… */
  holdMin: number;
  /** …and above this share of the admin's exported events. */
  holdRatio: number;
}

export interface GuardVerdict {
  hold: boolean;
  reason: 'source-empty' | 'over-budget' | null;
  /** The deletes the guard is about: only items that vanished from the source. */
  vanished: number;
}

/**
 * The mass-deletion guard. Deletes the admin asked for (a type deselected, closed items excluded, sync
 * turned off with removal) always pass; deletes of items that vanished from the source are held when the
 * source read nothing while events exist, or when there are more than the budget allows.
 */
export function deleteGuard(changes: PlannedChange[], activeLinks: number, sourceItems: number, policy: GuardPolicy): GuardVerdict {
  const vanished = changes.filter((c) => c.op === 'delete' && c.reason === 'source-missing').length;
  if (vanished === 0) return { hold: false, reason: null, vanished };
  if (sourceItems === 0) return { hold: true, reason: 'source-empty', vanished };
  if (vanished > policy.holdMin && vanished > policy.holdRatio * activeLinks) return { hold: true, reason: 'over-budget', vanished };
  return { hold: false, reason: null, vanished };
}

export const isHeldByGuard = (change: PlannedChange) => change.op === 'delete' && change.reason === 'source-missing';
