// The one place that builds and parses workflow ids.
export const ADMIN_WORKFLOW_PREFIX = 'calendar-sync/admin/';
export const RECONCILE_SCHEDULE_ID = 'calendar-sync/reconcile';

export const adminWorkflowId = (adminId: string) => `${ADMIN_WORKFLOW_PREFIX}${adminId}`;

export function adminIdFromWorkflowId(workflowId: string): string | null {
  return workflowId.startsWith(ADMIN_WORKFLOW_PREFIX) ? workflowId.slice(ADMIN_WORKFLOW_PREFIX.length) : null;
}
