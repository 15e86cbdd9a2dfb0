// Request pacing per mailbox: a provider's per-user quota (e.g. Google's 600 requests per minute per user)
// is kept by the adapter, so quota errors are the exception, not the flow control.

/**
 * At most `perMinute` starts per key in any 60-second window: a burst of one second's share, then an even
 * pace (generic cell rate algorithm: one "theoretical arrival time" per key, so waiting callers queue fairly).
 */
export function createRateLimiter(perMinute: number, clock: { now: () => number; sleep: (ms: number) => Promise<void> } = realClock) {
  if (!Number.isFinite(perMinute) || perMinute < 10) throw new RangeError(`a rate limit needs at least 10 requests per minute, not ${perMinute}`);
  const burst = Math.max(1, Math.floor(perMinute / 60));
  // Spacing between starts once the burst is spent; burst + 60 s of spacing = perMinute (rounded up to stay under).
  const spacingMs = Math.ceil(60_000 / (perMinute - burst)) + 1;
  const toleranceMs = (burst - 1) * spacingMs;
  const arrival = new Map<string, number>();

  return {
    perMinute,
    /** Resolves when a request for `key` may start. */
    async take(key: string): Promise<void> {
      const now = clock.now();
      const start = Math.max(arrival.get(key) ?? now, now);
      arrival.set(key, start + spacingMs);
      const waitMs = start - toleranceMs - now;
      if (waitMs > 0) await clock.sleep(waitMs);
    },
  };
}

export type RateLimiter = ReturnType<typeof createRateLimiter>;

const realClock = { now: () => Date.now(), sleep: (ms: number) => new Promise<void>((r) => setTimeout(r, ms)) };
