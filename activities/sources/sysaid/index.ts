// The SysAid API the source settings choose: classic (`/api/v1`, the default) or connect (`/connect/v1`).
import type { Db } from '../../../db/client';
import type { Sealer } from '../../../db/seal';
import { createClassicApi } from './classic';
import type { ClientOptions, SysaidApi } from './client';
import { createConnectApi } from './connect';
import type { SysaidSecrets, SysaidSettings } from './settings';

export function createSysaidApi(deps: { db: Db; sealer: Sealer }, settings: SysaidSettings, secrets: SysaidSecrets, opts: ClientOptions = {}): SysaidApi {
  return settings.apiVersion === 'connect' ? createConnectApi(deps, settings, secrets, opts) : createClassicApi(deps, settings, secrets, opts);
}
