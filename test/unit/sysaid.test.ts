// SysAid JSON → admins and items: dates only from epoch values, never from captions.
import { describe, expect, it } from 'vitest';
import { epochMs, srToItems, userToAdmin, type SysaidRecord } from '../../activities/sources/sysaid/mapping';

const info = (fields: Record<string, unknown>, captions: Record<string, string> = {}, classes: Record<string, unknown> = {}) =>
  Object.entries(fields).map(([key, value]) => ({ key, value, valueCaption: captions[key] ?? String(value), valueClass: classes[key] ?? '' }));

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
    const out = srToItems(sr, { linkBaseUrl: 'https://helpdesk.example', isAdmin: (id) => id === '12' });
    expect(out).toMatchObject({ srId: '7', updateTime: 1_798_700_000_000, archived: false });
    expect(out.items).toEqual([
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
    const ctx = { linkBaseUrl: 'https://h', isAdmin: (id: string) => id === '12' };
    expect(srToItems({ id: 1, info: info({ ...base, archive: 1 }) }, ctx).items).toEqual([]);
    expect(srToItems({ id: 2, info: info({ ...base, responsibility: 99 }) }, ctx).items).toEqual([]);
    expect(srToItems({ id: 3, info: info({ ...base, due_date: 0 }) }, ctx).items).toEqual([]);
    const followup = srToItems({ id: 4, info: info({ ...base, due_date: 0, followup_user: 12, followup_planned_date: 1_798_800_000_000, followup_text: 'Call back' }) }, ctx).items;
    expect(followup.map((i) => [i.key, i.type, i.body])).toEqual([['sysaid:sr:4:followup', 'sr_followup', 'Status: 2\n\nCall back']]);
  });

  it('turns admin users into admins, skipping disabled ones and those without an e-mail', () => {
    const user = (fields: Record<string, unknown>): SysaidRecord => ({ id: 12, name: 'jdoe', info: info(fields) });
    expect(userToAdmin(user({ first_name: 'Jane', last_name: 'Doe', email_address: 'jane@x.test', time_zone: 'Asia/Tokyo', disable: false }), 'UTC')).toEqual({ id: 'sysaid-12', sysaidUserId: '12', displayName: 'Jane Doe', email: 'jane@x.test', timeZone: 'Asia/Tokyo' });
    expect(userToAdmin(user({ display_name: 'J. Doe', email_address: 'jane@x.test', time_zone: '(GMT+01:00) Berlin' }), 'Europe/Berlin')?.timeZone).toBe('Europe/Berlin');
    expect(userToAdmin(user({ email_address: 'jane@x.test', disable: true }), 'UTC')).toBeNull();
    expect(userToAdmin(user({ email_address: '' }), 'UTC')).toBeNull();
  });
});
