// SysAid JSON → service records, users, admins and items: classic dates only from epoch values, never from captions;
// the newer API's ISO dates; status classes from closedStatusIds or SysAid's class; follow-ups by id or user name.
import { describe, expect, it } from 'vitest';
import { adminLookup, classicSr, classicUser, connectSr, connectUser, epochMs, srToItems, userToAdmin, type SysaidRecord } from '../../activities/sources/sysaid/mapping';

const info = (fields: Record<string, unknown>, captions: Record<string, string> = {}, classes: Record<string, unknown> = {}) =>
  Object.entries(fields).map(([key, value]) => ({ key, value, valueCaption: captions[key] ?? String(value), valueClass: classes[key] ?? '' }));
const ctx = (extra: Partial<Parameters<typeof srToItems>[1]> = {}) => ({ linkBaseUrl: 'https://helpdesk.example', adminFor: adminLookup(['12'], { jdoe: '12' }), ...extra });

describe('SysAid mapping', () => {
  it('reads instants from epoch milliseconds and ignores captions', () => {
    expect(epochMs(1_798_800_000_000)).toBe('2027-01-01T10:40:00.000Z');
    expect(epochMs('1798800000000')).toBe('2027-01-01T10:40:00.000Z');
    expect([epochMs(0), epochMs(''), epochMs(null), epochMs('01/01/2027 08:40:00 AM')]).toEqual([null, null, null, null]);
    const sr: SysaidRecord = {
      id: 7,
      info: info(
        { title: 'VPN', status: 5, priority: 1, due_date: 1_798_800_000_000, responsibility: 12, followup_user: 0, followup_planned_date: 0, update_time: 1_798_700_000_000, archive: 0 },
        { due_date: '01/01/2027 08:40:00 AM', status: 'Resolved', priority: 'Highest', responsibility: 'Jane Doe' },
        { status: 1 },
      ),
    };
    const record = classicSr(sr);
    expect(record).toMatchObject({ id: '7', updateTime: 1_798_700_000_000, archived: false, statusId: '5', statusClass: 'closed', dueDate: 1_798_800_000_000 });
    expect(srToItems(record, ctx()).items).toEqual([
      {
        key: 'sysaid:sr:7:due',
        type: 'sr_due',
        adminId: 'sysaid-12',
        title: 'SR #7 VPN',
        body: 'Status: Resolved · Priority: Highest',
        url: 'https://helpdesk.example/SREdit.jsp?id=7',
        timing: { kind: 'deadline', atUtc: '2027-01-01T10:40:00.000Z' },
        statusClass: 'closed',
        parent: { type: 'sr', id: '7', display: 'SR #7 VPN' },
        updatedAt: new Date(1_798_700_000_000).toISOString(),
      },
    ]);
  });

  it('gives no items for archived SRs, non-admin assignees, or cleared dates', () => {
    const base = { title: 'x', status: 2, due_date: 1_798_800_000_000, responsibility: 12, update_time: 1 };
    const items = (id: number, fields: Record<string, unknown>) => srToItems(classicSr({ id, info: info(fields) }), ctx()).items;
    expect(items(1, { ...base, archive: 1 })).toEqual([]);
    expect(items(2, { ...base, responsibility: 99 })).toEqual([]);
    expect(items(3, { ...base, due_date: 0 })).toEqual([]);
    const followup = items(4, { ...base, due_date: 0, followup_user: 12, followup_planned_date: 1_798_800_000_000, followup_text: 'Call back' });
    expect(followup.map((i) => [i.key, i.type, i.body])).toEqual([['sysaid:sr:4:followup', 'sr_followup', 'Status: 2\n\nCall back']]);
  });

  it('finds the follow-up user by id, or by user name (any case) where SysAid holds the name', () => {
    const sr = (followupUser: unknown) => classicSr({ id: 5, info: info({ title: 'x', status: 2, followup_user: followupUser, followup_planned_date: 1_798_800_000_000, update_time: 1 }) });
    expect(srToItems(sr(12), ctx()).items.map((i) => i.adminId)).toEqual(['sysaid-12']);
    expect(srToItems(sr('JDoe'), ctx()).items.map((i) => i.adminId)).toEqual(['sysaid-12']);
    expect(srToItems(sr('someone'), ctx()).items).toEqual([]);
  });

  it('counts statuses as closed by closedStatusIds when set, else by the class SysAid sends, else open', () => {
    const sr = (status: number, valueClass: unknown) => classicSr({ id: 6, info: info({ title: 'x', status, due_date: 1_798_800_000_000, responsibility: 12, update_time: 1 }, {}, { status: valueClass }) });
    const classOf = (record: ReturnType<typeof sr>, closedStatusIds?: string[]) => srToItems(record, ctx({ closedStatusIds })).items[0]!.statusClass;
    expect(classOf(sr(3, 1))).toBe('closed');
    expect(classOf(sr(3, ''))).toBe('open');
    expect(classOf(sr(3, ''), ['3', '5'])).toBe('closed');
    expect(classOf(sr(2, 1), ['3', '5'])).toBe('open');
  });

  it('turns admin users into admins, skipping disabled ones and those without an e-mail; absent keys stay unknown', () => {
    const user = (fields: Record<string, unknown>): SysaidRecord => ({ id: 12, name: 'jdoe', info: info(fields) });
    const admin = (fields: Record<string, unknown>, zone = 'UTC') => userToAdmin(classicUser(user(fields)), zone);
    expect(admin({ first_name: 'Jane', last_name: 'Doe', email_address: 'jane@x.test', time_zone: 'Asia/Tokyo', disable: false })).toEqual({ id: 'sysaid-12', sysaidUserId: '12', userName: 'jdoe', displayName: 'Jane Doe', email: 'jane@x.test', timeZone: 'Asia/Tokyo' });
    expect(admin({ display_name: 'J. Doe', email_address: 'jane@x.test', time_zone: '(GMT+01:00) Berlin' }, 'Europe/Berlin')?.timeZone).toBe('Europe/Berlin');
    expect(admin({ email_address: 'jane@x.test' }, 'Europe/Vienna')).toMatchObject({ timeZone: 'Europe/Vienna' });
    for (const disabled of [true, 'Y', 'yes', 1, '1', 'true']) expect(admin({ email_address: 'jane@x.test', disable: disabled }), String(disabled)).toBeNull();
    for (const enabled of [false, 'N', 0, '0', 'no', null]) expect(admin({ email_address: 'jane@x.test', disable: enabled }), String(enabled)).not.toBeNull();
    expect(admin({ email_address: '' })).toBeNull();
  });

  it('reads the newer API’s ISO dates, nested references, isDisabled and timezone', () => {
    const sr = connectSr({ id: 9, title: 'Laptop', status: { id: 3, name: 'Closed' }, priority: { id: 2, name: 'High' }, dueDate: '2027-01-01T10:40:00Z', assignedTo: { id: 12, userName: 'jdoe' }, followUp: { user: { userName: 'jdoe' }, plannedDate: '2027-01-02T08:00:00.000Z', text: ' call ' }, insertTime: '2026-12-01T00:00:00Z', updateTime: '2026-12-24T12:00:00Z', archived: false });
    expect(sr).toEqual({ id: '9', updateTime: Date.UTC(2026, 11, 24, 12), insertTime: Date.UTC(2026, 11, 1), archived: false, title: 'Laptop', statusId: '3', statusCaption: 'Closed', statusClass: null, priorityCaption: 'High', dueDate: Date.UTC(2027, 0, 1, 10, 40), responsibility: '12', followupUser: 'jdoe', followupPlannedDate: Date.UTC(2027, 0, 2, 8), followupText: 'call' });
    expect(connectSr({ id: 10, dueDate: 1_798_800_000_000, updateTime: 'yesterday' })).toMatchObject({ dueDate: null, updateTime: 0 });
    expect(connectUser({ id: 12, userName: 'jdoe', displayName: 'Jane Doe', userEmail: 'jane@x.test', isDisabled: false, timezone: 'Asia/Tokyo' })).toEqual({ id: '12', userName: 'jdoe', displayName: 'Jane Doe', email: 'jane@x.test', timeZone: 'Asia/Tokyo', disabled: false });
    expect(connectUser({ id: 13, userEmail: 'x@x.test', isDisabled: true }).disabled).toBe(true);
  });
});
