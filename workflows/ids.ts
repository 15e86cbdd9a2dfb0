// The one place that builds and parses workflow ids.
export const ADMIN_WORKFLOW_PREFIX = 'calendar-sync/admin/';
/** One reconcile schedule per task queue, so installations sharing a namespace do not clash. */
export const reconcileScheduleId = (taskQueue: string) => `calendar-sync/reconcile/${taskQueue}`;

export const adminWorkflowId = (adminId: string) => `${ADMIN_WORKFLOW_PREFIX}${adminId}`;

export function adminIdFromWorkflowId(workflowId: string): string | null {
  return workflowId.startsWith(ADMIN_WORKFLOW_PREFIX) ? workflowId.slice(ADMIN_WORKFLOW_PREFIX.length) : null;
}

/** The SysAid read schedule, one per task queue like the reconciler's. */
export const sysaidScheduleId = (taskQueue: string) => `calendar-sync/sysaid-read/${taskQueue}`;
