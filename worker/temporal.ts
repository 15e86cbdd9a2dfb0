// Temporal connections from the standard client environment (TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE,
// TEMPORAL_API_KEY, TEMPORAL_TLS_*, TEMPORAL_PROFILE, …) via @temporalio/envconfig.
import { Client, Connection } from '@temporalio/client';
import { loadClientConnectConfig } from '@temporalio/envconfig';
import { NativeConnection } from '@temporalio/worker';

export interface TemporalTarget {
  address?: string;
  namespace?: string;
}

function connectConfig(target: TemporalTarget) {
  const loaded = loadClientConnectConfig();
  const connectionOptions = { ...loaded.connectionOptions, ...(target.address ? { address: target.address } : {}) };
  const namespace = target.namespace ?? loaded.namespace ?? 'default';
  return { connectionOptions, namespace };
}

export async function connectClient(target: TemporalTarget = {}): Promise<{ client: Client; connection: Connection; namespace: string }> {
  const { connectionOptions, namespace } = connectConfig(target);
  const connection = await Connection.connect(connectionOptions as Parameters<typeof Connection.connect>[0]);
  return { client: new Client({ connection, namespace }), connection, namespace };
}

export async function connectNative(target: TemporalTarget = {}): Promise<{ connection: NativeConnection; namespace: string }> {
  const { connectionOptions, namespace } = connectConfig(target);
  return { connection: await NativeConnection.connect(connectionOptions), namespace };
}

/** Resolves when the frontend answers; used by /readyz. */
export async function checkTemporal(connection: Connection): Promise<void> {
  await connection.healthService.check({});
}
