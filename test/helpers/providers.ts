// What every provider's end-to-end tests do the same way: admins through the API, waiting for a run, and a
// worker that dies between a provider write and the link write.
import { expect } from 'vitest';
import { createProvider } from '../../activities/providers';
import type { CalendarProvider } from '../../activities/providers/types';
import type { TestApp } from './app';
import type { HarnessOptions } from './harness';

/** The real provider, except that the nth create throws after the event was written (the link never is). */
export function crashAfterCreate(nth: number): NonNullable<HarnessOptions['providerFactory']> {
  let left = nth;
  return (cfg, deps) => {
    const real = createProvider(cfg, deps);
    return {
      ...real,
      async create(...args: Parameters<CalendarProvider['create']>) {
        const ref = await real.create(...args);
        if (--left === 0) throw new Error('worker lost before recording the link');
        return ref;
      },
    } as CalendarProvider;
  };
}

export function adminSteps(t: () => TestApp) {
  return {
    async addAdmin(id: string, timeZone: string, email: string) {
      expect((await t().call('PUT', `/api/admins/${id}`, { displayName: id, email, timeZone })).status).toBe(200);
    },
    enable: (id: string) => t().call('PUT', `/api/admins/${id}/calendar-settings`, { syncEnabled: true, daysBack: 60 }),
    /** The admin's sync status once a run has finished. */
    lastRun: (id: string) =>
      t().eventually(async () => {
        const s = (await t().call('GET', `/api/admins/${id}/sync`)).json;
        return s.lastRun?.finishedAt ? s : null;
      }, 60_000, `a finished run for ${id}`),
  };
}
