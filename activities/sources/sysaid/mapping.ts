// SysAid's JSON → admins and calendar items. Pure: dates come only from the numeric epoch values, never from
// the display captions (formatted in some server zone and format that differs between versions).
import type { CalendarItem } from '../../sync/types';
import { isValidTimeZone } from '../../sync/time';

export interface InfoField {
  key: string;
  value: unknown;
  valueCaption?: unknown;
  valueClass?: unknown;
}
export interface SysaidRecord {
  id: string | number;
  name?: string;
  info?: InfoField[];
}

export const fields = (r: SysaidRecord) => new Map((r.info ?? []).map((f) => [f.key, f]));

/** An epoch-ms value as an ISO instant; 0, empty or non-numeric = none. */
export function epochMs(value: unknown): string | null {
  const n = typeof value === 'number' ? value : typeof value === 'string' && /^\d+$/.test(value) ? Number(value) : NaN;
  return Number.isFinite(n) && n > 0 ? new Date(n).toISOString() : null;
}

const idOf = (value: unknown): string | null => (value === null || value === undefined || value === '' || value === 0 || value === '0' ? null : String(value));
const text = (f: InfoField | undefined) => (f?.value === null || f?.value === undefined ? '' : String(f.value));
const caption = (f: InfoField | undefined) => (typeof f?.valueCaption === 'string' ? f.valueCaption : text(f));

export const adminIdForUser = (sysaidUserId: string) => `sysaid-${sysaidUserId}`;

export interface DiscoveredAdmin {
  id: string;
  sysaidUserId: string;
  displayName: string;
  email: string;
  timeZone: string;
}

/** An admin from `GET /users?type=admin`, or null when it cannot be one (disabled, no e-mail). */
export function userToAdmin(user: SysaidRecord, defaultTimeZone: string): DiscoveredAdmin | null {
  const f = fields(user);
  if (f.get('disable')?.value === true || f.get('disable')?.value === 'Y') return null;
  const email = text(f.get('email_address')).trim();
  if (!/^[^@\s]+@[^@\s]+$/.test(email)) return null;
  const zone = text(f.get('time_zone'));
  const name = text(f.get('display_name')) || [text(f.get('first_name')), text(f.get('last_name'))].filter(Boolean).join(' ') || user.name || email;
  return { id: adminIdForUser(String(user.id)), sysaidUserId: String(user.id), displayName: name.slice(0, 200), email, timeZone: zone && isValidTimeZone(zone) ? zone : defaultTimeZone };
}

export interface SrItems {
  srId: string;
  updateTime: number;
  archived: boolean;
  /** Desired items of this SR (each for the admin who should see it); keys absent here must go. */
  items: CalendarItem[];
}

export const srItemKeys = (srId: string) => [`sysaid:sr:${srId}:due`, `sysaid:sr:${srId}:followup`];

/** The calendar items one SR stands for: its due date for the responsible admin, its follow-up for the follow-up user. */
export function srToItems(sr: SysaidRecord, ctx: { linkBaseUrl: string; isAdmin: (sysaidUserId: string) => boolean }): SrItems {
  const f = fields(sr);
  const srId = String(sr.id);
  const updateTime = Number(f.get('update_time')?.value ?? 0) || 0;
  const archived = f.get('archive')?.value === 1 || f.get('archive')?.value === true || f.get('archive')?.value === '1';
  const title = text(f.get('title')) || '(no title)';
  const display = `SR #${srId} ${title}`;
  // valueClass of the status carries its class: 1 = closed (verify on a live instance).
  const statusClass = Number(f.get('status')?.valueClass) === 1 ? 'closed' : 'open';
  const details = [`Status: ${caption(f.get('status'))}`, f.get('priority') ? `Priority: ${caption(f.get('priority'))}` : null].filter(Boolean).join(' · ');
  const url = `${ctx.linkBaseUrl}/SREdit.jsp?id=${encodeURIComponent(srId)}`;
  const parent = { type: 'sr', id: srId, display };
  const updatedAt = new Date(updateTime || Date.now()).toISOString();
  const items: CalendarItem[] = [];
  if (!archived) {
    const due = epochMs(f.get('due_date')?.value);
    const responsible = idOf(f.get('responsibility')?.value);
    if (due && responsible && ctx.isAdmin(responsible)) {
      items.push({ key: `sysaid:sr:${srId}:due`, type: 'sr_due', adminId: adminIdForUser(responsible), title: display, body: details, url, timing: { kind: 'deadline', atUtc: due }, statusClass, parent, updatedAt });
    }
    const followup = epochMs(f.get('followup_planned_date')?.value);
    const followupUser = idOf(f.get('followup_user')?.value);
    if (followup && followupUser && ctx.isAdmin(followupUser)) {
      const note = text(f.get('followup_text')).trim();
      items.push({ key: `sysaid:sr:${srId}:followup`, type: 'sr_followup', adminId: adminIdForUser(followupUser), title: display, body: [details, note].filter(Boolean).join('\n\n'), url, timing: { kind: 'deadline', atUtc: followup }, statusClass, parent, updatedAt });
    }
  }
  return { srId, updateTime, archived, items };
}

export const SR_FIELDS = ['title', 'status', 'priority', 'due_date', 'responsibility', 'followup_user', 'followup_planned_date', 'followup_text', 'update_time', 'archive'];
export const USER_FIELDS = ['first_name', 'last_name', 'display_name', 'email_address', 'time_zone', 'disable'];
