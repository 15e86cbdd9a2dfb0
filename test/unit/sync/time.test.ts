import { describe, expect, it } from 'vitest';
import { addDays, canonicalZone, instantsShowing, inWindow, isValidDate, isValidTimeZone, localDate, syncWindow, toUtcIso, wallTimes, windowInstant } from '../../../activities/sync/time';
import type { ExportedEvent } from '../../../activities/sync/types';

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

  it('names zones by their canonical spelling', () => {
    expect(['Europe/Kyiv', 'Asia/Kolkata', 'US/Eastern', 'Etc/UTC', 'Europe/Berlin'].map(canonicalZone)).toEqual(['Europe/Kiev', 'Asia/Calcutta', 'America/New_York', 'UTC', 'Europe/Berlin']);
  });

  it('finds every instant a wall-clock time names: one, two in a repeated hour, none in a skipped one', () => {
    const iso = (local: string, zone: string) => instantsShowing(local, zone).map((t) => new Date(t).toISOString());
    expect(iso('2027-07-01T00:00:00', 'America/New_York')).toEqual(['2027-07-01T04:00:00.000Z']);
    expect(iso('2027-01-01T00:00:00', 'Asia/Kolkata')).toEqual(['2026-12-31T18:30:00.000Z']);
    expect(iso('2027-11-07T01:30:00', 'America/New_York')).toEqual(['2027-11-07T05:30:00.000Z', '2027-11-07T06:30:00.000Z']);
    expect(iso('2027-03-14T02:30:00', 'America/New_York')).toEqual([]);
    // Lord Howe moves half an hour; Santiago skips midnight.
    expect(iso('2027-04-04T01:45:00', 'Australia/Lord_Howe')).toEqual(['2027-04-03T14:45:00.000Z', '2027-04-03T15:15:00.000Z']);
    expect(iso('2027-10-03T02:15:00', 'Australia/Lord_Howe')).toEqual([]);
    expect(iso('2027-09-05T00:00:00', 'America/Santiago')).toEqual([]);
  });

  describe('the wall-clock times a provider writes', () => {
    const timed = (startUtc: string, endUtc: string): ExportedEvent['time'] => ({ kind: 'timed', startUtc, endUtc, timeZone: 'ignored' });
    it('are the zone’s when each names its instant alone, across a skipped hour too', () => {
      expect(wallTimes(timed('2027-03-14T06:30:00Z', '2027-03-14T07:30:00.250Z'), 'America/New_York')).toEqual({
        zone: 'America/New_York', start: '2027-03-14T01:30:00', end: '2027-03-14T03:30:00', startUtc: '2027-03-14T06:30:00.000Z', endUtc: '2027-03-14T07:30:00.250Z',
      });
      expect(wallTimes({ kind: 'all_day', startDate: '2027-02-10', endDateExclusive: '2027-02-10' }, 'Asia/Tokyo')).toEqual({
        zone: 'Asia/Tokyo', start: '2027-02-10T00:00:00', end: '2027-02-11T00:00:00', startUtc: '2027-02-09T15:00:00.000Z', endUtc: '2027-02-10T15:00:00.000Z',
      });
    });
    it('are UTC’s for the whole event when a time is in a repeated hour, when the service’s rules read it otherwise, or when there is no zone', () => {
      const utc = { zone: 'UTC', start: '2027-11-07T05:30:00', end: '2027-11-07T06:00:00', startUtc: '2027-11-07T05:30:00.000Z', endUtc: '2027-11-07T06:00:00.000Z' };
      expect(wallTimes(timed('2027-11-07T05:30:00Z', '2027-11-07T06:00:00Z'), 'America/New_York')).toEqual(utc);
      expect(wallTimes(timed('2027-11-07T05:30:00Z', '2027-11-07T06:00:00Z'), null)).toEqual(utc);
      // Almaty has kept +05 since March 2024; Bishkek (+06) reads its wall-clock times an hour early.
      expect(wallTimes(timed('2027-01-15T12:00:00Z', '2027-01-15T13:00:00Z'), 'Asia/Almaty', ['Asia/Bishkek']).zone).toBe('UTC');
      expect(wallTimes(timed('2027-01-15T12:00:00Z', '2027-01-15T13:00:00Z'), 'Asia/Almaty', ['Asia/Qostanay']).zone).toBe('Asia/Almaty');
      expect(wallTimes({ kind: 'all_day', startDate: '2027-09-05', endDateExclusive: '2027-09-06' }, 'America/Santiago')).toEqual({
        zone: 'UTC', start: '2027-09-05T00:00:00', end: '2027-09-06T00:00:00', startUtc: '2027-09-05T00:00:00.000Z', endUtc: '2027-09-06T00:00:00.000Z',
      });
    });
  });
});
