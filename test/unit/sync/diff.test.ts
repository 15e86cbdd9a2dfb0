import { describe, expect, it } from 'vitest';
import { deleteGuard, diffItems, isHeldByGuard, keysToLookUp, removeAllChanges } from '../../../activities/sync/diff';
import { contentHash } from '../../../activities/sync/hash';
import { renderEvent } from '../../../activities/sync/render';
import { ITEM_TYPES, type AdminSyncSettings, type CalendarItem, type LinkState, type PlannedChange } from '../../../activities/sync/types';

const window = { startUtc: '2026-04-01T00:00:00.000Z', endUtc: '2026-06-01T00:00:00.000Z' };
const settings: AdminSyncSettings = { adminId: 'alice', timeZone: 'UTC', itemTypes: [...ITEM_TYPES], daysBack: 30, daysForward: 30, includeClosed: false, markPrivate: false, busyOnly: false };

const item = (key: string, over: Partial<CalendarItem> = {}): CalendarItem => ({
  key,
  type: 'sr_due',
  adminId: 'alice',
  title: key,
  body: '',
  url: null,
  timing: { kind: 'deadline', atUtc: '2026-05-01T10:00:00.000Z' },
  statusClass: 'open',
  parent: null,
  updatedAt: '2026-04-01T00:00:00.000Z',
  ...over,
});
const hashOf = (i: CalendarItem, s = settings) => contentHash(renderEvent(i, s));
const link = (i: CalendarItem | string, over: Partial<LinkState> = {}): LinkState => ({
  itemKey: typeof i === 'string' ? i : i.key,
  contentHash: typeof i === 'string' ? 'old' : hashOf(i),
  state: 'synced',
  remoteId: 'remote',
  remoteVersion: 'v1',
  itemStartsAt: '2026-05-01T10:00:00.000Z',
  ...over,
});
const diff = (items: CalendarItem[], links: LinkState[], opts: { retryFailed?: boolean; s?: AdminSyncSettings } = {}) =>
  diffItems({ items, links, settings: opts.s ?? settings, window, retryFailed: opts.retryFailed ?? false });
const ops = (changes: PlannedChange[]) => changes.map((c) => `${c.op}:${c.itemKey}:${c.reason}`);

describe('diff', () => {
  it('creates new items, leaves unchanged ones, updates changed ones', () => {
    const a = item('a');
    const b = item('b');
    const r = diff([a, b, item('c', { title: 'new title' })], [link(b), link('c')]);
    expect(ops(r.changes)).toEqual(['create:a:new', 'update:c:changed']);
    expect(r.unchanged).toBe(1);
    expect(r.changes[0]).toMatchObject({ contentHash: hashOf(a), itemStartsAt: '2026-05-01T10:00:00.000Z', event: { title: 'Due: a' } });
  });

  it('re-creates an item whose event was removed before', () => {
    expect(ops(diff([item('a')], [link('a', { state: 'removed', remoteId: null })]).changes)).toEqual(['create:a:recreate']);
  });

  it('retries failed items only on change or when asked', () => {
    const a = item('a');
    const failedCreate = link(a, { state: 'failed', remoteId: null });
    expect(diff([a], [failedCreate]).changes).toEqual([]);
    expect(diff([a], [failedCreate]).stillFailed).toBe(1);
    expect(ops(diff([a], [failedCreate], { retryFailed: true }).changes)).toEqual(['create:a:retry-failed']);
    expect(ops(diff([item('a', { title: 'fixed' })], [failedCreate]).changes)).toEqual(['create:a:retry-failed']);
    expect(ops(diff([a], [link(a, { state: 'failed' })], { retryFailed: true }).changes)).toEqual(['update:a:retry-failed']);
  });

  it('updates an item whose delete was interrupted', () => {
    const a = item('a');
    expect(ops(diff([a], [link(a, { state: 'removing' })]).changes)).toEqual(['update:a:changed']);
  });

  it('deletes items of deselected types, but only when they were exported', () => {
    const task = item('t', { type: 'task', timing: { kind: 'timed', startUtc: '2026-05-01T09:00:00.000Z', endUtc: '2026-05-01T10:00:00.000Z' } });
    const s = { ...settings, itemTypes: ['sr_due' as const] };
    expect(ops(diff([task], [link(task)], { s }).changes)).toEqual(['delete:t:excluded-type']);
    expect(diff([task], [], { s }).changes).toEqual([]);
  });

  it('deletes closed items unless closed items are included', () => {
    const closed = item('c', { statusClass: 'closed' });
    expect(ops(diff([closed], [link(closed)]).changes)).toEqual(['delete:c:excluded-closed']);
    expect(diff([closed], [link(closed)], { s: { ...settings, includeClosed: true } }).unchanged).toBe(1);
  });

  it('deletes items gone from the source when their event lies in the window', () => {
    expect(ops(diff([], [link('gone'), link('nulltime', { itemStartsAt: null })]).changes)).toEqual(['delete:gone:source-missing', 'delete:nulltime:source-missing']);
  });

  it('leaves an item that fell out of the look-back window alone', () => {
    expect(diff([], [link('old', { itemStartsAt: '2026-03-01T00:00:00.000Z' })]).changes).toEqual([]);
  });

  it('processes a key once and puts creates and updates before deletes', () => {
    const r = diff([item('a'), item('a'), item('b', { title: 'x' })], [link('gone'), link('b')]);
    expect(ops(r.changes)).toEqual(['create:a:new', 'update:b:changed', 'delete:gone:source-missing']);
  });

  it('repairs events deleted or edited in the calendar, or only counts them when asked to leave them', () => {
    const [a, b, c] = [item('a'), item('b'), item('c')];
    const links = [link(a, { remoteId: 'ra' }), link(b, { remoteId: 'rb' }), link(c, { remoteId: 'rc' })];
    const managed = new Map<string, string | null>([['rb', 'v2'], ['rc', 'v1']]);
    const repaired = diffItems({ items: [a, b, c], links, settings, window, retryFailed: false, managed });
    expect(ops(repaired.changes)).toEqual(['update:a:drift-missing', 'update:b:drift-edited']);
    expect(repaired.drift).toEqual({ missing: 1, edited: 1 });
    expect(repaired.unchanged).toBe(1);
    const left = diffItems({ items: [a, b, c], links, settings, window, retryFailed: false, managed, repairDrift: false });
    expect(left.changes).toEqual([]);
    expect(left.drift).toEqual({ missing: 1, edited: 1 });
    expect(left.unchanged).toBe(3);
    expect(diff([a, b, c], links).drift).toEqual({ missing: 0, edited: 0 });
  });

  it('asks the source about exactly the active in-window links it did not see', () => {
    const links = [link('seen'), link('missing'), link('outside', { itemStartsAt: '2026-01-01T00:00:00.000Z' }), link('removed', { state: 'removed' }), link('unknown', { itemStartsAt: null })];
    expect(keysToLookUp(links, new Set(['seen']), window)).toEqual(['missing', 'unknown']);
  });

  it('removes every active link when sync is turned off with removal', () => {
    expect(ops(removeAllChanges([link('a'), link('b', { state: 'removed' }), link('c', { state: 'failed' })]))).toEqual(['delete:a:remove-all', 'delete:c:remove-all']);
  });
});

describe('mass-deletion guard', () => {
  const vanished = (n: number) => Array.from({ length: n }, (_, i): PlannedChange => ({ itemKey: `k${i}`, op: 'delete', reason: 'source-missing', event: null, contentHash: null, itemStartsAt: null }));
  const excluded = (n: number) => vanished(n).map((c) => ({ ...c, reason: 'excluded-type' as const }));
  const policy = { holdMin: 25, holdRatio: 0.5 };

  it('does not hold when nothing vanished', () => {
    expect(deleteGuard(excluded(500), 500, 0, policy)).toEqual({ hold: false, reason: null, vanished: 0 });
  });

  it('holds deletes when the source reads empty while events exist', () => {
    expect(deleteGuard(vanished(1), 3, 0, policy)).toEqual({ hold: true, reason: 'source-empty', vanished: 1 });
  });

  it('holds when vanished deletes exceed both the absolute and the ratio budget', () => {
    expect(deleteGuard(vanished(60), 100, 40, policy)).toEqual({ hold: true, reason: 'over-budget', vanished: 60 });
    expect(deleteGuard(vanished(30), 100, 70, policy).hold).toBe(false);
    expect(deleteGuard(vanished(20), 30, 10, policy).hold).toBe(false);
  });

  it('never counts deletes the admin asked for', () => {
    expect(deleteGuard([...vanished(5), ...excluded(400)], 410, 5, policy)).toEqual({ hold: false, reason: null, vanished: 5 });
    expect(isHeldByGuard(vanished(1)[0]!)).toBe(true);
    expect(isHeldByGuard(excluded(1)[0]!)).toBe(false);
  });
});
