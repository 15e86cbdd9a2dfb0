// The installation's Temporal Schedules: the reconciler (always) and the SysAid read (when SysAid is a source).
// Created once, updated when the interval or task queue changes.
import { type Client, ScheduleAlreadyRunning, ScheduleNotFoundError, ScheduleOverlapPolicy } from '@temporalio/client';
import { reconcileScheduleId, sysaidScheduleId } from '../workflows/ids';

async function ensureSchedule(client: Client, scheduleId: string, workflowType: string, taskQueue: string, everySeconds: number, purpose: string): Promise<void> {
  const spec = { intervals: [{ every: `${everySeconds}s` }] };
  const action = { type: 'startWorkflow' as const, workflowType, taskQueue, args: [] };
  try {
    await client.schedule.create({ scheduleId, spec, action, policies: { overlap: ScheduleOverlapPolicy.SKIP }, memo: { purpose } });
  } catch (err) {
    if (!(err instanceof ScheduleAlreadyRunning)) throw err;
    await client.schedule.getHandle(scheduleId).update((prev) => ({ ...prev, spec, action: { ...prev.action, ...action }, state: { ...prev.state, paused: false } }));
  }
}

export const ensureReconcileSchedule = (client: Client, taskQueue: string, everySeconds: number) =>
  ensureSchedule(client, reconcileScheduleId(taskQueue), 'reconcileFleet', taskQueue, everySeconds, 'Makes running admin workflows match the database.');

export const ensureSysaidSchedule = (client: Client, taskQueue: string, everySeconds: number) =>
  ensureSchedule(client, sysaidScheduleId(taskQueue), 'sysaidRead', taskQueue, everySeconds, 'Reads SysAid admins and service records into the item store.');

/** SysAid is no longer a source: the read schedule goes (its past runs stay in the workflow history). */
export async function removeSysaidSchedule(client: Client, taskQueue: string): Promise<void> {
  try {
    await client.schedule.getHandle(sysaidScheduleId(taskQueue)).delete();
  } catch (err) {
    if (!(err instanceof ScheduleNotFoundError)) throw err;
  }
}

/** Starts a read now, unless one is running (each attempt of a read loads the saved configuration afresh). */
export async function triggerSysaidRead(client: Client, taskQueue: string): Promise<void> {
  await client.schedule.getHandle(sysaidScheduleId(taskQueue)).trigger(ScheduleOverlapPolicy.SKIP);
}
