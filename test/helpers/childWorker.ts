// A worker in its own process, so a test can SIGKILL it mid-batch. Configured by environment only.
// CRASH_AFTER_CREATES=n: kill this process right after the n-th provider create succeeded and before
// its event link is written — the worst moment for duplicates.
import { NativeConnection, Runtime } from '@temporalio/worker';
import { createIcsProvider } from '../../activities/providers/ics';
import { openDatabase } from '../../db/client';
import { createSealer, parseSecretKey } from '../../db/seal';
import { createWorker } from '../../worker/createWorker';

const env = (name: string) => {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is required`);
  return v;
};

async function main() {
  Runtime.install({ logger: { log() {}, trace() {}, debug() {}, info() {}, warn() {}, error() {} } as never });
  const database = await openDatabase({ url: env('DATABASE_URL') });
  const crashAfter = Number(process.env.CRASH_AFTER_CREATES ?? 0);
  const delayMs = Number(process.env.PROVIDER_DELAY_MS ?? 0);
  let creates = 0;
  const connection = await NativeConnection.connect({ address: env('TEMPORAL_ADDRESS') });
  const worker = await createWorker({
    connection,
    namespace: 'default',
    taskQueue: env('TASK_QUEUE'),
    workflowBundlePath: env('WORKFLOW_BUNDLE'),
    deps: {
      db: database.db,
      sealer: createSealer(parseSecretKey(env('SECRET_KEY'))),
      policy: { holdMin: 25, holdRatio: 0.5 },
      batchSize: Number(process.env.BATCH_SIZE ?? 10),
      providerFactory: (_cfg, deps) => {
        const ics = createIcsProvider(deps.db);
        return {
          ...ics,
          async create(...args) {
            if (delayMs) await new Promise((r) => setTimeout(r, delayMs));
            const ref = await ics.create(...args);
            if (crashAfter && ++creates === crashAfter) process.kill(process.pid, 'SIGKILL');
            return ref;
          },
        };
      },
    },
  });
  console.log('worker ready');
  await worker.run();
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
