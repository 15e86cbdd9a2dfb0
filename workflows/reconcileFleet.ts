// Run by a Temporal Schedule: makes the set of running admin workflows match the DB.
import { proxyActivities } from '@temporalio/workflow';
import type { Activities } from '../activities';

const { reconcile } = proxyActivities<Activities>({
  startToCloseTimeout: '5 minutes',
  retry: { maximumAttempts: 3 },
});

export async function reconcileFleet() {
  return reconcile();
}
