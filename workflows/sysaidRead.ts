// Run by the source schedule every poll interval: one read of SysAid for the whole installation. Each run is
// its own workflow execution, so every read is visible (and its failures explained) in the Temporal UI.
import { proxyActivities } from '@temporalio/workflow';
import type { Activities } from '../activities';

const { readSysaid } = proxyActivities<Activities>({
  // A read larger than one budget window waits for the next window inside the activity, heartbeating.
  startToCloseTimeout: '1 hour',
  heartbeatTimeout: '2 minutes',
  // SysAid's 429 hints and the request budget's window come back as nextRetryDelay; a bad password does not retry.
  retry: { initialInterval: '5 seconds', backoffCoefficient: 2, maximumInterval: '5 minutes', maximumAttempts: 6, nonRetryableErrorTypes: ['ProviderCredentials', 'ProviderItemRejected', 'IntegrationConfiguration'] },
});

export async function sysaidRead() {
  return readSysaid();
}
