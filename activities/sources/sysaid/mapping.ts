// SysAid's JSON → service records and users in one shape for both APIs → admins and calendar items. Pure.
// Classic dates come only from the numeric epoch values, never from the display captions (formatted in some server
// zone and format that differs between versions); the newer API's dates are ISO 8601 UTC.
import type { CalendarItem } from '../../sync/types';
import { isValidTimeZone } from '../../sync/time';

/** One field of a classic record's `info` array. */
export interface InfoField {
  key: string;
  value: unknown;
  valueCaption?: unknown;
  valueClass?: unknown;
}
/** A classic user or SR: `{id, name, info: [...]}`. */
export interface SysaidRecord {
  id: string | number;
  name?: string;
  info?: InfoField[];
}

/** A service record, whichever API it came from. */
export interface ServiceRecord {
  id: string;
  /** Epoch ms; 0 when SysAid sent none. */
  updateTime: number;
  insertTime: number;
  archived: boolean;
  title: string;
  statusId: string | null;
  statusCaption: string;
  /** The class SysAid sent with the status, when it did (classic `valueClass`, unconfirmed); null = not said. */
  statusClass: 'open' | 'closed' | null;
  priorityCaption: string | null;
  dueDate: number | null;
  /** User id of the responsible admin. */
  responsibility: string | null;
  /** The follow-up user as SysAid holds it: a user id, or in places a user name. */
  followupUser: string | null;
  followupPlannedDate: number | null;
  followupText: string;
}

/** A user, whichever API it came from; absent keys stay unknown (null zone, not disabled). */
export interface SysaidUser {
  id: string;
  userName: string;
  displayName: string;
  email: string;
  timeZone: string | null;
  disabled: boolean;
}

export const fields = (r: SysaidRecord) => new Map((r.info ?? []).map((f) => [f.key, f]));

/** An epoch-ms value; 0, empty or non-numeric = none. */
function epoch(value: unknown): number | null {
  const n = typeof value === 'number' ? value : typeof value === 'string' && /^\d+$/.test(value) ? Number(value) : NaN;
  return Number.isFinite(n) && n > 0 ? n : null;
}
/** An epoch-ms value as an ISO instant; 0, empty or non-numeric = none. */
export function epochMs(value: unknown): string | null {
  const n = epoch(value);
  return n === null ? null : new Date(n).toISOString();
}
/** An ISO 8601 instant (the newer API) as epoch ms; anything else = none. */
function isoMs(value: unknown): number | null {
  if (typeof value !== 'string' || !/^\d{4}-\d\d-\d\dT/.test(value)) return null;
  const n = Date.parse(value);
  return Number.isFinite(n) ? n : null;
}

const idOf = (value: unknown): string | null => (value === null || value === undefined || value === '' || value === 0 || value === '0' ? null : String(value));
const text = (f: InfoField | undefined) => (f?.value === null || f?.value === undefined ? '' : String(f.value));
const caption = (f: InfoField | undefined) => (typeof f?.valueCaption === 'string' ? f.valueCaption : text(f));
/** `disable` as SysAid spells it in places: true/false, Y/N, 1/0, yes/no; anything else (or nothing) is "not disabled". */
const isTrue = (value: unknown) => value === true || value === 1 || (typeof value === 'string' && /^(y|yes|true|1)$/i.test(value.trim()));

export function classicSr(sr: SysaidRecord): ServiceRecord {
  const f = fields(sr);
  const status = f.get('status');
  // valueClass of the status carries its class (1 = closed) on the instances seen so far; '' or absent = not said.
  const statusClass = status?.valueClass === 1 || status?.valueClass === '1' ? 'closed' : status?.valueClass === 0 || status?.valueClass === '0' ? 'open' : null;
  return {
    id: String(sr.id),
    updateTime: epoch(f.get('update_time')?.value) ?? 0,
    insertTime: epoch(f.get('insert_time')?.value) ?? 0,
    archived: isTrue(f.get('archive')?.value),
    title: text(f.get('title')),
    statusId: idOf(status?.value),
    statusCaption: caption(status),
    statusClass,
    priorityCaption: f.get('priority') ? caption(f.get('priority')) : null,
    dueDate: epoch(f.get('due_date')?.value),
    responsibility: idOf(f.get('responsibility')?.value),
    followupUser: idOf(f.get('followup_user')?.value),
    followupPlannedDate: epoch(f.get('followup_planned_date')?.value),
    followupText: text(f.get('followup_text')).trim(),
  };
}

export function classicUser(user: SysaidRecord): SysaidUser {
  const f = fields(user);
  const displayName = text(f.get('display_name')) || [text(f.get('first_name')), text(f.get('last_name'))].filter(Boolean).join(' ');
  return { id: String(user.id), userName: user.name ?? '', displayName, email: text(f.get('email_address')).trim(), timeZone: text(f.get('time_zone')) || null, disabled: isTrue(f.get('disable')?.value) };
}

type Json = Record<string, unknown>;
const obj = (v: unknown): Json => (v && typeof v === 'object' ? (v as Json) : {});
const str = (v: unknown) => (typeof v === 'string' ? v : typeof v === 'number' ? String(v) : '');

/** A service record of the newer API (its listing's shape is this project's assumption: verify on a live account). */
export function connectSr(sr: Json): ServiceRecord {
  const status = obj(sr.status);
  const followUp = obj(sr.followUp);
  const followupUser = obj(followUp.user);
  return {
    id: str(sr.id),
    updateTime: isoMs(sr.updateTime) ?? 0,
    insertTime: isoMs(sr.insertTime) ?? 0,
    archived: sr.archived === true,
    title: str(sr.title),
    statusId: idOf(status.id),
    statusCaption: str(status.name),
    statusClass: null,
    priorityCaption: sr.priority ? str(obj(sr.priority).name) : null,
    dueDate: isoMs(sr.dueDate),
    responsibility: idOf(obj(sr.assignedTo).id),
    followupUser: idOf(followupUser.id) ?? (str(followupUser.userName) || null),
    followupPlannedDate: isoMs(followUp.plannedDate),
    followupText: str(followUp.text).trim(),
  };
}

/** A user of the newer API (documented: id, userEmail, userName, displayName, isDisabled, timezone). */
export function connectUser(user: Json): SysaidUser {
  const displayName = str(user.displayName) || [str(user.firstName), str(user.lastName)].filter(Boolean).join(' ');
  return { id: str(user.id), userName: str(user.userName), displayName, email: str(user.userEmail).trim(), timeZone: str(user.timezone) || null, disabled: user.isDisabled === true };
}

export const adminIdForUser = (sysaidUserId: string) => `sysaid-${sysaidUserId}`;

export interface DiscoveredAdmin {
  id: string;
  sysaidUserId: string;
  userName: string;
  displayName: string;
  email: string;
  timeZone: string;
}

/** An admin from the admin list, or null when it cannot be one (disabled, no e-mail). */
export function userToAdmin(user: SysaidUser, defaultTimeZone: string): DiscoveredAdmin | null {
  if (user.disabled) return null;
  if (!/^[^@\s]+@[^@\s]+$/.test(user.email)) return null;
  const name = user.displayName || user.userName || user.email;
  return { id: adminIdForUser(user.id), sysaidUserId: user.id, userName: user.userName, displayName: name.slice(0, 200), email: user.email, timeZone: user.timeZone && isValidTimeZone(user.timeZone) ? user.timeZone : defaultTimeZone };
}

export interface SrItems {
  srId: string;
  /** Desired items of this SR (each for the admin who should see it); keys absent here must go. */
  items: CalendarItem[];
}

export const srItemKeys = (srId: string) => [`sysaid:sr:${srId}:due`, `sysaid:sr:${srId}:followup`];
/** The keys the reader owns (an SR's due date and follow-up); other sysaid:* keys are pushed through the items API. */
export const isReaderKey = (key: string) => /^sysaid:sr:[^:]+:(due|followup)$/.test(key);

export interface SrContext {
  linkBaseUrl: string;
  /** The SysAid user id of the admin a reference names (an id, or a user name), or null when it is no known admin. */
  adminFor: (idOrName: string) => string | null;
  /** Status ids that count as closed; when unset, the class SysAid sent decides. */
  closedStatusIds?: string[];
}

/** The calendar items one SR stands for: its due date for the responsible admin, its follow-up for the follow-up user. */
export function srToItems(sr: ServiceRecord, ctx: SrContext): SrItems {
  const display = `SR #${sr.id} ${sr.title || '(no title)'}`;
  const closed = ctx.closedStatusIds ? sr.statusId !== null && ctx.closedStatusIds.includes(sr.statusId) : sr.statusClass === 'closed';
  const statusClass = closed ? 'closed' : 'open';
  const details = [`Status: ${sr.statusCaption}`, sr.priorityCaption !== null ? `Priority: ${sr.priorityCaption}` : null].filter(Boolean).join(' · ');
  const url = `${ctx.linkBaseUrl}/SREdit.jsp?id=${encodeURIComponent(sr.id)}`;
  const parent = { type: 'sr', id: sr.id, display };
  const updatedAt = new Date(sr.updateTime || Date.now()).toISOString();
  const items: CalendarItem[] = [];
  if (!sr.archived) {
    const responsible = sr.responsibility && ctx.adminFor(sr.responsibility);
    if (sr.dueDate && responsible) {
      items.push({ key: `sysaid:sr:${sr.id}:due`, type: 'sr_due', adminId: adminIdForUser(responsible), title: display, body: details, url, timing: { kind: 'deadline', atUtc: new Date(sr.dueDate).toISOString() }, statusClass, parent, updatedAt });
    }
    const followupUser = sr.followupUser && ctx.adminFor(sr.followupUser);
    if (sr.followupPlannedDate && followupUser) {
      items.push({ key: `sysaid:sr:${sr.id}:followup`, type: 'sr_followup', adminId: adminIdForUser(followupUser), title: display, body: [details, sr.followupText].filter(Boolean).join('\n\n'), url, timing: { kind: 'deadline', atUtc: new Date(sr.followupPlannedDate).toISOString() }, statusClass, parent, updatedAt });
    }
  }
  return { srId: sr.id, items };
}

/** Admins by SysAid user id, or — where SysAid holds a user name instead of an id — by user name (case-insensitive). */
export function adminLookup(adminIds: Iterable<string>, userNames: Record<string, string>): (idOrName: string) => string | null {
  const ids = new Set(adminIds);
  return (ref) => (ids.has(ref) ? ref : ids.has(userNames[ref.toLowerCase()] ?? '') ? userNames[ref.toLowerCase()]! : null);
}

export const SR_FIELDS = ['title', 'status', 'priority', 'due_date', 'responsibility', 'followup_user', 'followup_planned_date', 'followup_text', 'update_time', 'insert_time', 'archive'];
export const USER_FIELDS = ['first_name', 'last_name', 'display_name', 'email_address', 'time_zone', 'disable'];
