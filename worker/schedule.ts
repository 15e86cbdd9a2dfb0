// The reconciler's Temporal Schedule: created once, updated when the interval or task queue changes.
import { type Client, ScheduleAlreadyRunning, ScheduleOverlapPolicy } from '@temporalio/client';
import { reconcileScheduleId } from '../workflows/ids';

export async function ensureReconcileSchedule(client: Client, taskQueue: string, everySeconds: number): Promise<void> {
  const spec = { intervals: [{ every: `${everySeconds}s` }] };
  const action = { type: 'startWorkflow' as const, workflowType: 'reconcileFleet', taskQueue, args: [] };
  try {
    await client.schedule.create({
      scheduleId: reconcileScheduleId(taskQueue),
      spec,
      action,
      policies: { overlap: ScheduleOverlapPolicy.SKIP },
      memo: { purpose: 'Makes running admin workflows match the database.' },
    });
  } catch (err) {
    if (!(err instanceof ScheduleAlreadyRunning)) throw err;
    await client.schedule.getHandle(reconcileScheduleId(taskQueue)).update((prev) => ({ ...prev, spec, action: { ...prev.action, ...action } }));
  }
}
