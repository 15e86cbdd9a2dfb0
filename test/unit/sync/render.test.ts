import { describe, expect, it } from 'vitest';
import { canonicalJson, contentHash } from '../../../activities/sync/hash';
import { eventBodyText, renderEvent } from '../../../activities/sync/render';
import type { CalendarItem, ExportedEvent } from '../../../activities/sync/types';

const settings = { timeZone: 'Europe/Berlin', markPrivate: false, busyOnly: false };
const item = (over: Partial<CalendarItem> = {}): CalendarItem => ({
  key: 'k',
  type: 'sr_due',
  adminId: 'alice',
  title: 'VPN',
  body: 'Drops hourly',
  url: 'https://helpdesk.example/sr/1',
  timing: { kind: 'deadline', atUtc: '2026-05-01T15:00:00.000Z' },
  statusClass: 'open',
  parent: null,
  updatedAt: '2026-04-01T00:00:00.000Z',
  ...over,
});

describe('rendering', () => {
  it('renders an SR due date as a free 30-minute block ending at the due time, in the admin’s zone', () => {
    expect(renderEvent(item(), settings)).toEqual({
      title: 'Due: VPN',
      body: 'Drops hourly',
      url: 'https://helpdesk.example/sr/1',
      time: { kind: 'timed', startUtc: '2026-05-01T14:30:00.000Z', endUtc: '2026-05-01T15:00:00.000Z', timeZone: 'Europe/Berlin' },
      showAs: 'free',
      reminderMinutes: 15,
      category: 'Helpdesk',
      sensitivity: 'normal',
    });
  });

  it('prefixes titles by type and marks work busy, deadlines free', () => {
    const timed = { kind: 'timed' as const, startUtc: '2026-05-01T09:00:00.000Z', endUtc: '2026-05-01T10:00:00.000Z' };
    const cases: Array<[CalendarItem['type'], string, 'free' | 'busy']> = [
      ['sr_due', 'Due: VPN', 'free'],
      ['sr_followup', 'Follow-up: VPN', 'free'],
      ['software_expiry', 'Expires: VPN', 'free'],
      ['sr_activity', 'VPN', 'busy'],
      ['event', 'VPN', 'busy'],
      ['task', 'Task: VPN', 'busy'],
      ['project', 'Project: VPN', 'busy'],
    ];
    for (const [type, title, showAs] of cases) {
      const ev = renderEvent(item({ type, timing: timed }), settings);
      expect([type, ev.title, ev.showAs]).toEqual([type, title, showAs]);
    }
  });

  it('renders all-day items as dates with no reminder', () => {
    const ev = renderEvent(item({ type: 'software_expiry', timing: { kind: 'all_day', startDate: '2026-05-01', endDateExclusive: '2026-05-02', sourceTz: 'UTC' } }), settings);
    expect(ev.time).toEqual({ kind: 'all_day', startDate: '2026-05-01', endDateExclusive: '2026-05-02' });
    expect(ev.reminderMinutes).toBeNull();
  });

  it('hides title, body and link for busy-only admins and marks the event private', () => {
    const ev = renderEvent(item(), { ...settings, busyOnly: true });
    expect(ev).toMatchObject({ title: 'Busy', body: '', url: null, sensitivity: 'private' });
    expect(renderEvent(item(), { ...settings, markPrivate: true })).toMatchObject({ title: 'Due: VPN', sensitivity: 'private' });
  });

  it('writes the body with a link back to the helpdesk record', () => {
    const ev = renderEvent(item(), settings);
    expect(eventBodyText(ev)).toBe('Drops hourly\n\nOpen in the helpdesk: https://helpdesk.example/sr/1');
    expect(eventBodyText({ ...ev, body: '', url: null })).toBe('');
  });
});

describe('content hash', () => {
  const ev = renderEvent(item(), settings);

  it('ignores key order and undefined values', () => {
    expect(canonicalJson({ b: 1, a: [2, { d: 3, c: undefined }] })).toBe('{"a":[2,{"d":3}],"b":1}');
    expect(contentHash({ ...ev })).toBe(contentHash(Object.fromEntries(Object.entries(ev).reverse()) as unknown as ExportedEvent));
  });

  it('changes when any displayed field changes', () => {
    const variants: ExportedEvent[] = [
      { ...ev, title: 'x' },
      { ...ev, body: 'x' },
      { ...ev, url: null },
      { ...ev, time: { ...ev.time, timeZone: 'UTC' } as ExportedEvent['time'] },
      { ...ev, showAs: 'busy' },
      { ...ev, reminderMinutes: null },
      { ...ev, category: 'Other' },
      { ...ev, sensitivity: 'private' },
    ];
    const hashes = new Set([contentHash(ev), ...variants.map(contentHash)]);
    expect(hashes.size).toBe(variants.length + 1);
    expect(contentHash(ev)).toMatch(/^[0-9a-f]{64}$/);
  });
});
