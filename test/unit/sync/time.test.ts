import { describe, expect, it } from 'vitest';
import { addDays, inWindow, isValidDate, isValidTimeZone, localDate, syncWindow, toUtcIso, windowInstant } from '../../../activities/sync/time';

describe('time rules', () => {
  it('accepts IANA zones and rejects made-up ones', () => {
    expect(isValidTimeZone('Europe/Berlin')).toBe(true);
    expect(isValidTimeZone('Pacific/Kiritimati')).toBe(true);
    expect(isValidTimeZone('Etc/GMT+12')).toBe(true);
    expect(isValidTimeZone('Mars/Olympus')).toBe(false);
    expect(isValidTimeZone('')).toBe(false);
  });

  it('validates calendar dates including leap days', () => {
    expect(isValidDate('2028-02-29')).toBe(true);
    expect(isValidDate('2026-02-29')).toBe(false);
    expect(isValidDate('2026-13-01')).toBe(false);
    expect(isValidDate('2026-1-01')).toBe(false);
    expect(isValidDate('20260101')).toBe(false);
  });

  it('adds days across month and year ends', () => {
    expect(addDays('2026-01-31', 1)).toBe('2026-02-01');
    expect(addDays('2026-12-31', 1)).toBe('2027-01-01');
    expect(addDays('2028-02-28', 1)).toBe('2028-02-29');
    expect(addDays('2026-03-01', -1)).toBe('2026-02-28');
  });

  it('takes the local date of an instant in zones east and west of UTC, including UTC+14 and UTC−12', () => {
    const instant = '2026-05-01T23:30:00Z';
    expect(localDate(instant, 'UTC')).toBe('2026-05-01');
    expect(localDate(instant, 'Asia/Tokyo')).toBe('2026-05-02');
    expect(localDate(instant, 'America/Los_Angeles')).toBe('2026-05-01');
    expect(localDate('2026-05-01T10:30:00Z', 'Pacific/Kiritimati')).toBe('2026-05-02');
    expect(localDate('2026-05-01T11:30:00Z', 'Etc/GMT+12')).toBe('2026-04-30');
  });

  it('keeps local dates right on DST change days in both hemispheres', () => {
    // Europe/Berlin springs forward 2026-03-29 01:00 UTC, falls back 2026-10-25 01:00 UTC.
    expect(localDate('2026-03-28T23:30:00Z', 'Europe/Berlin')).toBe('2026-03-29');
    expect(localDate('2026-10-24T22:30:00Z', 'Europe/Berlin')).toBe('2026-10-25');
    expect(localDate('2026-10-25T22:30:00Z', 'Europe/Berlin')).toBe('2026-10-25');
    // New York: 2026-03-08 and 2026-11-01.
    expect(localDate('2026-03-08T04:30:00Z', 'America/New_York')).toBe('2026-03-07');
    expect(localDate('2026-03-08T05:30:00Z', 'America/New_York')).toBe('2026-03-08');
    expect(localDate('2026-11-02T04:30:00Z', 'America/New_York')).toBe('2026-11-01');
    // Sydney falls back 2026-04-05 and springs forward 2026-10-04 (southern hemisphere).
    expect(localDate('2026-04-04T13:30:00Z', 'Australia/Sydney')).toBe('2026-04-05');
    expect(localDate('2026-10-03T13:30:00Z', 'Australia/Sydney')).toBe('2026-10-03');
    expect(localDate('2026-10-03T14:30:00Z', 'Australia/Sydney')).toBe('2026-10-04');
  });

  it('normalises instants with offsets to UTC and rejects garbage', () => {
    expect(toUtcIso('2026-05-01T12:00:00+02:00')).toBe('2026-05-01T10:00:00.000Z');
    expect(toUtcIso(0)).toBe('1970-01-01T00:00:00.000Z');
    expect(() => toUtcIso('next tuesday')).toThrow(/not an instant/);
  });

  it('computes the window from days back and forward', () => {
    const w = syncWindow(new Date('2026-05-10T12:00:00Z'), 30, 7);
    expect(w).toEqual({ startUtc: '2026-04-10T12:00:00.000Z', endUtc: '2026-05-17T12:00:00.000Z' });
    expect(inWindow(w.startUtc, w)).toBe(true);
    expect(inWindow(w.endUtc, w)).toBe(false);
    expect(inWindow('2026-04-10T11:59:59.999Z', w)).toBe(false);
  });

  it('places each kind of timing in the window by its start', () => {
    expect(windowInstant({ kind: 'timed', startUtc: '2026-05-01T10:00:00.000Z', endUtc: '2026-05-01T11:00:00.000Z' })).toBe('2026-05-01T10:00:00.000Z');
    expect(windowInstant({ kind: 'deadline', atUtc: '2026-05-01T15:00:00.000Z' })).toBe('2026-05-01T15:00:00.000Z');
    expect(windowInstant({ kind: 'all_day', startDate: '2026-05-01', endDateExclusive: '2026-05-02', sourceTz: 'Asia/Tokyo' })).toBe('2026-05-01T00:00:00.000Z');
  });
});
