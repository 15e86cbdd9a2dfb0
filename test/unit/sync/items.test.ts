import { describe, expect, it } from 'vitest';
import { calendarItemInput, ITEM_KEY_RE, normaliseItem, normaliseTiming, ownershipMarker } from '../../../activities/sync/items';

const base = { adminId: 'alice', type: 'sr_due', title: 'SR #1', timing: { kind: 'deadline', atUtc: '2026-05-01T10:00:00Z' } };
const messages = (input: unknown) => {
  const r = calendarItemInput.safeParse(input);
  return r.success ? [] : r.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
};

describe('item input', () => {
  it('accepts a minimal item and fills defaults', () => {
    expect(calendarItemInput.parse(base)).toEqual({ ...base, body: '', url: null, statusClass: null, parent: null });
  });

  it('explains each invalid field', () => {
    expect(messages({ ...base, adminId: 'a b' })).toEqual(['adminId: adminId must be 1-64 letters, digits, dots, dashes or underscores']);
    expect(messages({ ...base, type: 'meeting' })[0]).toMatch(/^type: /);
    expect(messages({ ...base, title: '   ' })).toEqual(['title: title is required']);
    expect(messages({ ...base, timing: { kind: 'deadline', atUtc: '2026-05-01T10:00:00' } })).toEqual(['timing.atUtc: must be an ISO-8601 instant with an offset, e.g. 2026-05-01T10:00:00Z']);
    expect(messages({ ...base, timing: { kind: 'all_day', startDate: '2026-02-30' } })).toEqual(['timing.startDate: must be a calendar date YYYY-MM-DD']);
    expect(messages({ ...base, timing: { kind: 'all_day', startDate: '2026-02-03', sourceTz: 'Nowhere/Land' } })).toEqual(['timing.sourceTz: must be an IANA time zone such as Europe/Berlin']);
    expect(messages({ ...base, timing: { kind: 'all_day' } })).toEqual(['timing: give exactly one of startDate or atUtc']);
    expect(messages({ ...base, timing: { kind: 'all_day', startDate: '2026-02-03', atUtc: '2026-02-03T00:00:00Z' } })).toEqual(['timing: give exactly one of startDate or atUtc']);
    expect(messages({ ...base, url: 'not a url' })[0]).toMatch(/^url: /);
  });

  it('accepts stable keys made of source ids and rejects others', () => {
    expect(ITEM_KEY_RE.test('sysaid:sr:42:activity:7')).toBe(true);
    expect(ITEM_KEY_RE.test('sysaid:software:9:expiration')).toBe(true);
    expect(ITEM_KEY_RE.test('a/b')).toBe(false);
    expect(ITEM_KEY_RE.test('has space')).toBe(false);
    expect(ITEM_KEY_RE.test('')).toBe(false);
  });
});

describe('timing normalisation', () => {
  it('pads a timed item whose end is not after its start to 30 minutes', () => {
    expect(normaliseTiming({ kind: 'timed', startUtc: '2026-05-01T10:00:00Z', endUtc: '2026-05-01T10:00:00Z' })).toEqual({ kind: 'timed', startUtc: '2026-05-01T10:00:00.000Z', endUtc: '2026-05-01T10:30:00.000Z' });
    expect(normaliseTiming({ kind: 'timed', startUtc: '2026-05-01T10:00:00Z', endUtc: '2026-05-01T09:00:00Z' })).toMatchObject({ endUtc: '2026-05-01T10:30:00.000Z' });
  });

  it('converts offsets to UTC', () => {
    expect(normaliseTiming({ kind: 'timed', startUtc: '2026-05-01T12:00:00+02:00', endUtc: '2026-05-01T13:00:00+02:00' })).toEqual({ kind: 'timed', startUtc: '2026-05-01T10:00:00.000Z', endUtc: '2026-05-01T11:00:00.000Z' });
    expect(normaliseTiming({ kind: 'deadline', atUtc: '2026-05-01T08:00:00-05:00' })).toEqual({ kind: 'deadline', atUtc: '2026-05-01T13:00:00.000Z' });
  });

  it('gives all-day items an exclusive end the next day unless a later end is given', () => {
    expect(normaliseTiming({ kind: 'all_day', startDate: '2026-12-31', sourceTz: 'UTC' })).toEqual({ kind: 'all_day', startDate: '2026-12-31', endDateExclusive: '2027-01-01', sourceTz: 'UTC' });
    expect(normaliseTiming({ kind: 'all_day', startDate: '2026-05-01', endDateExclusive: '2026-05-04', sourceTz: 'UTC' })).toMatchObject({ endDateExclusive: '2026-05-04' });
    expect(normaliseTiming({ kind: 'all_day', startDate: '2026-05-01', endDateExclusive: '2026-04-30', sourceTz: 'UTC' })).toMatchObject({ endDateExclusive: '2026-05-02' });
  });

  it('takes the date of an instant in the zone the value was entered in', () => {
    expect(normaliseTiming({ kind: 'all_day', atUtc: '2026-05-01T23:30:00Z', sourceTz: 'Asia/Tokyo' })).toMatchObject({ startDate: '2026-05-02', endDateExclusive: '2026-05-03' });
    expect(normaliseTiming({ kind: 'all_day', atUtc: '2026-05-01T23:30:00Z', sourceTz: 'America/Los_Angeles' })).toMatchObject({ startDate: '2026-05-01', endDateExclusive: '2026-05-02' });
  });

  it('builds the ownership marker and the normalised item', () => {
    expect(ownershipMarker('inst-1', 'alice', 'sysaid:sr:1:due')).toBe('inst-1/alice/sysaid:sr:1:due');
    const item = normaliseItem('sysaid:sr:1:due', calendarItemInput.parse(base), new Date('2026-04-01T00:00:00Z'));
    expect(item).toEqual({ key: 'sysaid:sr:1:due', type: 'sr_due', adminId: 'alice', title: 'SR #1', body: '', url: null, timing: { kind: 'deadline', atUtc: '2026-05-01T10:00:00.000Z' }, statusClass: null, parent: null, updatedAt: '2026-04-01T00:00:00.000Z' });
  });
});
