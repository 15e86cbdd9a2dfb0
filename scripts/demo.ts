// Demo data for the embedded default: a few admins in different zones, items of every type around today.
import { count } from 'drizzle-orm';
import type { Db } from '../db/client';
import { getIntegration } from '../db/repositories';
import { admins, adminSettings, integration } from '../db/schema';
import { saveItem } from '../activities/sources/builtin';
import { normaliseItem, type CalendarItemInput, calendarItemInput } from '../activities/sync/items';
import { ITEM_TYPES } from '../activities/sync/types';

const DEMO_ADMINS = [
  { id: 'alice', displayName: 'Alice Novak', email: 'alice@helpdesk.example', timeZone: 'Europe/Berlin' },
  { id: 'bob', displayName: 'Bob Ortega', email: 'bob@helpdesk.example', timeZone: 'America/New_York' },
  { id: 'chika', displayName: 'Chika Sato', email: 'chika@helpdesk.example', timeZone: 'Asia/Tokyo' },
];

function demoItems(now: Date): Array<{ key: string; input: CalendarItemInput }> {
  const at = (days: number, hour: number) => {
    const d = new Date(now);
    d.setUTCDate(d.getUTCDate() + days);
    d.setUTCHours(hour, 0, 0, 0);
    return d.toISOString();
  };
  const date = (days: number) => at(days, 0).slice(0, 10);
  const sr = (adminId: string, id: number, title: string, days: number, statusClass: 'open' | 'closed' = 'open') => ({
    key: `sysaid:sr:${id}:due`,
    input: {
      adminId,
      type: 'sr_due' as const,
      title: `SR #${id} ${title}`,
      body: `Service record #${id}: ${title}`,
      url: `https://helpdesk.example/SREdit.jsp?id=${id}`,
      timing: { kind: 'deadline' as const, atUtc: at(days, 15) },
      statusClass,
    },
  });
  return [
    sr('alice', 1001, 'VPN drops every hour', 1),
    sr('alice', 1002, 'New laptop for finance', 3),
    sr('alice', 1003, 'Printer on floor 2 (closed)', 2, 'closed'),
    {
      key: 'sysaid:sr:1001:activity:1',
      input: { adminId: 'alice', type: 'sr_activity', title: 'Call ISP about VPN', timing: { kind: 'timed', startUtc: at(1, 9), endUtc: at(1, 10) } },
    },
    {
      key: 'sysaid:software:77:expiration',
      input: { adminId: 'alice', type: 'software_expiry', title: 'Backup suite support', timing: { kind: 'all_day', startDate: date(10), sourceTz: 'Europe/Berlin' } },
    },
    sr('bob', 2001, 'Mailbox quota increase', 2),
    {
      key: 'sysaid:sr:2001:followup',
      input: { adminId: 'bob', type: 'sr_followup', title: 'SR #2001 check with requester', timing: { kind: 'deadline', atUtc: at(4, 14) } },
    },
    {
      key: 'sysaid:event:9',
      input: { adminId: 'bob', type: 'event', title: 'Helpdesk maintenance window', timing: { kind: 'timed', startUtc: at(5, 22), endUtc: at(6, 2) } },
    },
    sr('chika', 3001, 'Onboard three new hires', 1),
    {
      key: 'sysaid:task:55',
      input: { adminId: 'chika', type: 'task', title: 'Patch Tuesday rollout', timing: { kind: 'timed', startUtc: at(2, 1), endUtc: at(2, 4) } },
    },
  ];
}

/** Seeds once: does nothing when any admin exists. Returns whether it seeded. */
export async function seedDemo(db: Db, now = new Date()): Promise<boolean> {
  const [{ n }] = await db.select({ n: count() }).from(admins);
  if (Number(n) > 0) return false;
  await getIntegration(db);
  await db.transaction(async (tx) => {
    await tx.update(integration).set({ protocol: 'ics', enabled: true, updatedBy: 'demo seed', updatedAt: now });
    await tx.insert(admins).values(DEMO_ADMINS);
    await tx.insert(adminSettings).values(
      DEMO_ADMINS.map((a) => ({ adminId: a.id, syncEnabled: true, itemTypes: [...ITEM_TYPES], daysBack: 30, daysForward: 90 })),
    );
    for (const { key, input } of demoItems(now)) {
      await saveItem(tx as unknown as Db, normaliseItem(key, calendarItemInput.parse(input), now));
    }
  });
  return true;
}
