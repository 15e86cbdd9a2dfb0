import type { CalendarItem, SyncWindow } from '../sync/types';

/** Where items come from. A failed or partial read throws; it never returns a short list. */
export interface ItemSource {
  readonly name: string;
  /** Every item of the admin whose window instant lies in the window (all types; filtering is the planner's). */
  listItems(adminId: string, window: SyncWindow): Promise<CalendarItem[]>;
  /** The current state of specific items, by key; absent keys are gone from the source. */
  getItems(adminId: string, keys: string[]): Promise<CalendarItem[]>;
}
