// The pure parts of the Google adapter: ids, the rate limiter's guarantee, times with offsets.
import { describe, expect, it } from 'vitest';
import { base32hex, googleEventId, ownerOf } from '../../activities/providers/google';
import { createRateLimiter } from '../../activities/providers/rate';
import { localDateTimeWithOffset } from '../../activities/sync/time';

describe('Google event ids', () => {
  it('encode base32hex as RFC 4648 does (lower case, no padding)', () => {
    // RFC 4648 test vectors for base32hex, lower-cased and unpadded.
    const vectors: Array<[string, string]> = [['', ''], ['f', 'co'], ['fo', 'cpng'], ['foo', 'cpnmu'], ['foob', 'cpnmuog'], ['fooba', 'cpnmuoj1'], ['foobar', 'cpnmuoj1e8']];
    for (const [input, output] of vectors) expect(base32hex(Buffer.from(input))).toBe(output);
  });

  it('are valid Google ids, stable per marker and generation, different across generations', () => {
    const id = googleEventId({ marker: 'inst/alice/sysaid:sr:1:due', generation: 1 });
    expect(id).toMatch(/^[a-v0-9]{5,1024}$/);
    expect(id).toHaveLength(52);
    expect(googleEventId({ marker: 'inst/alice/sysaid:sr:1:due', generation: 1 })).toBe(id);
    expect(googleEventId({ marker: 'inst/alice/sysaid:sr:1:due', generation: 2 })).not.toBe(id);
    expect(ownerOf('inst/alice/sysaid:sr:1:due')).toBe('inst/alice');
  });
});

describe('localDateTimeWithOffset', () => {
  it('gives the wall-clock time with the offset in force at that instant', () => {
    expect(localDateTimeWithOffset('2027-03-28T00:30:00Z', 'Europe/Berlin')).toBe('2027-03-28T01:30:00+01:00');
    expect(localDateTimeWithOffset('2027-03-28T01:30:00Z', 'Europe/Berlin')).toBe('2027-03-28T03:30:00+02:00');
    expect(localDateTimeWithOffset('2027-01-01T12:00:00Z', 'Asia/Kolkata')).toBe('2027-01-01T17:30:00+05:30');
    expect(localDateTimeWithOffset('2027-01-01T12:00:00Z', 'America/St_Johns')).toBe('2027-01-01T08:30:00-03:30');
    expect(localDateTimeWithOffset('2027-01-01T12:00:00.999Z', 'UTC')).toBe('2027-01-01T12:00:00+00:00');
  });
});

describe('createRateLimiter', () => {
  /** A virtual clock: sleeping advances time, so minutes of pacing run instantly. */
  function virtualClock() {
    let now = 1_000_000;
    return { now: () => now, sleep: async (ms: number) => void (now += ms), advance: (ms: number) => void (now += ms) };
  }

  it('never lets more than the limit start in any 60-second window, for one key', async () => {
    const clock = virtualClock();
    const limiter = createRateLimiter(600, clock);
    const starts: number[] = [];
    for (let i = 0; i < 3000; i++) {
      await limiter.take('alice@example.org');
      starts.push(clock.now());
    }
    let worst = 0;
    for (let i = 0, j = 0; i < starts.length; i++) {
      while (starts[i]! - starts[j]! >= 60_000) j++;
      worst = Math.max(worst, i - j + 1);
    }
    expect(worst).toBeLessThanOrEqual(600);
    // …and still uses most of it: 3,000 requests take about 5 minutes, not much more.
    expect(starts.at(-1)! - starts[0]!).toBeLessThan(5.2 * 60_000);
  });

  it('starts a burst at once, and keeps keys independent', async () => {
    const clock = virtualClock();
    const limiter = createRateLimiter(600, clock);
    const t0 = clock.now();
    for (let i = 0; i < 10; i++) await limiter.take('a');
    expect(clock.now()).toBe(t0);
    await limiter.take('a');
    expect(clock.now()).toBeGreaterThan(t0);
    const t1 = clock.now();
    await limiter.take('b');
    expect(clock.now()).toBe(t1);
  });

  it('refuses a limit it cannot keep', () => {
    expect(() => createRateLimiter(5)).toThrow(/at least 10/);
  });
});
