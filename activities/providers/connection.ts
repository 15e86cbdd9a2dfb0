// The sysadmin's "Test" button: a list of named checks, and the marked probe event created and deleted at once
// (proves write access without leaving a trace).
import type { ExportedEvent } from '../sync/types';
import type { CalendarProvider, ConnectionCheck, EventIdentity, Mailbox } from './types';

/**
 * Runs checks in order; `step` records ok/detail (the error explained by `explain`) and says whether to go on.
 * The ok detail may be built from what the check returned (e.g. how many records it read).
 */
export function checklist(explain: (err: unknown) => string) {
  const checks: ConnectionCheck[] = [];
  const step = async <T>(name: string, ok: string | ((result: T) => string), fn: () => Promise<T>): Promise<boolean> => {
    try {
      const result = await fn();
      checks.push({ name, ok: true, detail: typeof ok === 'function' ? ok(result) : ok });
      return true;
    } catch (err) {
      checks.push({ name, ok: false, detail: explain(err) });
      return false;
    }
  };
  return { checks, step };
}

export function probeEvent(now = new Date()): ExportedEvent {
  return {
    title: 'calendar-sync connection test (deleted at once)',
    body: '',
    url: null,
    time: { kind: 'timed', startUtc: now.toISOString(), endUtc: new Date(now.getTime() + 60_000).toISOString(), timeZone: 'UTC' },
    showAs: 'free',
    reminderMinutes: null,
    category: 'Helpdesk',
    sensitivity: 'normal',
  };
}

/** Creates the probe in the mailbox and deletes it again. */
export async function createAndDeleteProbe(provider: CalendarProvider, mailbox: Mailbox, marker: string): Promise<void> {
  const identity: EventIdentity = { marker, generation: 1 };
  const ref = await provider.create({ ...mailbox, timeZone: 'UTC' }, identity, probeEvent());
  await provider.delete(mailbox, identity, ref);
}
