// createActivities(deps): the activities the worker registers. Tests pass their own deps (e.g. a slow
// provider); production passes real clients. Workflows import only the type.
import { activityInfo, cancellationSignal, Context, heartbeat } from '@temporalio/activity';
import type { Db } from '../db/client';
import type { IntegrationRow } from '../db/schema';
import { getIntegration, integrationSecrets } from '../db/repositories';
import type { Sealer } from '../db/seal';
import type { SyncFleet } from '../worker/fleet';
import { applyBatch, finishRun, type ApplyBatchInput, type FinishRunInput } from './apply';
import { planSync, releaseHeldDeletes, type PlanDeps, type PlanSyncInput } from './plan';
import { createProvider as defaultProviderFactory, ProtocolUnavailableError, type ProviderConfig, type ProviderDeps } from './providers';
import type { CalendarProvider } from './providers/types';
import { createBuiltinSource } from './sources/builtin';
import { readSysaid } from './sources/sysaid/read';
import type { ItemSource } from './sources/types';
import type { GuardPolicy } from './sync/diff';
import type { ProviderName } from './sync/types';
import { configurationFailure, rethrowAsFailure } from './failures';

export interface ActivityDeps {
  db: Db;
  sealer: Sealer;
  policy: GuardPolicy;
  batchSize: number;
  source?: ItemSource;
  providerFactory?: (config: ProviderConfig, deps: ProviderDeps) => CalendarProvider;
  /** Needed only by the reconcile activity. */
  fleet?: SyncFleet;
}

export function createActivities(deps: ActivityDeps) {
  const source = deps.source ?? createBuiltinSource(deps.db);
  const factory = deps.providerFactory ?? defaultProviderFactory;

  // One provider per integration version per worker, so SDK clients and their token caches are reused.
  let cached: { version: number; provider: CalendarProvider } | null = null;

  /**
   * Secrets are read here, inside the activity, from the DB: never from workflow input or history. A caller
   * that has just read the integration row passes it, which saves the query.
   */
  async function providerFor(protocol: ProviderName, current?: IntegrationRow): Promise<CalendarProvider> {
    const integration = current ?? (await getIntegration(deps.db));
    if (integration.protocol !== protocol) {
      throw configurationFailure(`The integration's protocol changed from ${protocol} to ${integration.protocol} during this run; the next run uses the new one.`);
    }
    if (cached?.version === integration.version) return cached.provider;
    try {
      const provider = factory({ protocol, settings: integration.settings, secrets: integrationSecrets(integration, deps.sealer) }, { db: deps.db, installationId: integration.installationId });
      cached = { version: integration.version, provider };
      return provider;
    } catch (err) {
      if (err instanceof ProtocolUnavailableError) throw configurationFailure(err.message);
      throw err;
    }
  }

  const planDeps: PlanDeps = {
    db: deps.db,
    source,
    policy: deps.policy,
    batchSize: deps.batchSize,
    listManaged: async (integration, mailbox, window) => (await providerFor(integration.protocol as ProviderName, integration)).listManaged(mailbox, window),
  };

  return {
    async planSync(input: PlanSyncInput) {
      try {
        return await planSync(planDeps, input);
      } catch (err) {
        // The drift check talks to the provider: its errors are classified like any provider call.
        rethrowAsFailure(err);
      }
    },
    async applyBatch(input: ApplyBatchInput) {
      const resumedFrom = activityInfo().heartbeatDetails as { done: number } | undefined;
      if (resumedFrom) Context.current().log.info('resuming batch after a retry', { ...input, doneBefore: resumedFrom.done });
      return applyBatch({ db: deps.db, provider: providerFor, heartbeat, signal: cancellationSignal() }, input);
    },
    async releaseHeldDeletes(input: { runId: string }) {
      return releaseHeldDeletes(planDeps, input);
    },
    async finishRun(input: FinishRunInput) {
      return finishRun({ db: deps.db }, input);
    },
    /** One read of SysAid for the whole installation (run by the source schedule). */
    async readSysaid() {
      try {
        // A spent budget is waited out here, heartbeating, rather than by a retry that would start the read over.
        const pause = async (ms: number) => {
          for (const end = Date.now() + ms; Date.now() < end; ) {
            heartbeat();
            await Context.current().sleep(Math.min(10_000, end - Date.now()));
          }
        };
        return await readSysaid({ db: deps.db, sealer: deps.sealer, fleet: deps.fleet, pause, heartbeat: () => heartbeat() });
      } catch (err) {
        rethrowAsFailure(err);
      }
    },
    async reconcile() {
      if (!deps.fleet) throw configurationFailure('This worker was started without fleet control; reconcile cannot run here.');
      return deps.fleet.reconcile();
    },
  };
}

export type Activities = ReturnType<typeof createActivities>;
