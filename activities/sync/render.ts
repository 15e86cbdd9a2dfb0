// Rendering a CalendarItem into the provider-neutral ExportedEvent, per the admin's settings. Pure.
import type { AdminSyncSettings, CalendarItem, ExportedEvent, ItemType } from './types';

/** SR due dates render as a block of this length ending at the due time. */
export const DEADLINE_BLOCK_MINUTES = 30;
const DEFAULT_REMINDER_MINUTES = 15;

const TITLE_PREFIX: Record<ItemType, string> = {
  sr_due: 'Due: ',
  sr_activity: '',
  sr_followup: 'Follow-up: ',
  software_expiry: 'Expires: ',
  event: '',
  task: 'Task: ',
  project: 'Project: ',
};

/** Deadlines and expiries do not block the admin's time; work they do does. */
const FREE_TYPES = new Set<ItemType>(['sr_due', 'sr_followup', 'software_expiry']);

export const CATEGORY = 'Helpdesk';

export function renderEvent(item: CalendarItem, settings: Pick<AdminSyncSettings, 'timeZone' | 'markPrivate' | 'busyOnly'>): ExportedEvent {
  const t = item.timing;
  const time: ExportedEvent['time'] =
    t.kind === 'all_day'
      ? { kind: 'all_day', startDate: t.startDate, endDateExclusive: t.endDateExclusive }
      : t.kind === 'timed'
        ? { kind: 'timed', startUtc: t.startUtc, endUtc: t.endUtc, timeZone: settings.timeZone }
        : {
            kind: 'timed',
            startUtc: new Date(Date.parse(t.atUtc) - DEADLINE_BLOCK_MINUTES * 60_000).toISOString(),
            endUtc: t.atUtc,
            timeZone: settings.timeZone,
          };
  const busyOnly = settings.busyOnly;
  return {
    title: busyOnly ? 'Busy' : `${TITLE_PREFIX[item.type]}${item.title}`,
    body: busyOnly ? '' : item.body,
    url: busyOnly ? null : item.url,
    time,
    showAs: FREE_TYPES.has(item.type) ? 'free' : 'busy',
    reminderMinutes: t.kind === 'all_day' ? null : DEFAULT_REMINDER_MINUTES,
    category: CATEGORY,
    sensitivity: settings.markPrivate || busyOnly ? 'private' : 'normal',
  };
}

/** The text body providers write: the item's body and a link back to the helpdesk record. */
export function eventBodyText(event: ExportedEvent): string {
  const parts = [event.body.trim(), event.url ? `Open in the helpdesk: ${event.url}` : ''].filter(Boolean);
  return parts.join('\n\n');
}
