// SysAid's newer API (`/connect/v1`, developers.sysaid.com): an application key (clientId + clientSecret, made once
// by the sysadmin) buys a bearer token for one account (x-sysaid-accountid), kept sealed until shortly before it
// expires; ISO 8601 dates; pages of at most 500; the account's own request count comes back in X-RateLimit-*
// headers and is kept with the shared budget. Users are documented (isDisabled, timezone); the service-record
// listing and its filters are not publicly documented, so the shape used here is an assumption (see README).
import type { Db } from '../../../db/client';
import type { Sealer } from '../../../db/seal';
import { transient } from '../../providers/errors';
import { recordAccountLimits } from './budget';
import { asList, createSessionClient, pageAll, type ClientOptions, type SrQuery, type SysaidApi } from './client';
import { connectSr, connectUser } from './mapping';
import type { SysaidSecrets, SysaidSettings } from './settings';

/** The newer API's page size limit. */
const MAX_PAGE = 500;
/** A token this close to its expiry (a tenth of its lifetime, at most a minute) is replaced before use. */
const TOKEN_MARGIN_MS = 60_000;

const isoOf = (ms: number) => new Date(ms).toISOString();

function srFilters(query: SrQuery): Record<string, string> {
  return {
    archived: String(query.archived),
    ...(query.updatedFrom !== undefined ? { updateTimeFrom: isoOf(query.updatedFrom) } : {}),
    ...(query.dueFrom !== undefined ? { dueDateFrom: isoOf(query.dueFrom) } : {}),
    ...(query.dueTo !== undefined ? { dueDateTo: isoOf(query.dueTo) } : {}),
    ...(query.insertedFrom !== undefined ? { insertTimeFrom: isoOf(query.insertedFrom) } : {}),
    ...(query.ids ? { ids: query.ids.join(',') } : {}),
  };
}

export function createConnectApi(deps: { db: Db; sealer: Sealer }, settings: SysaidSettings, secrets: SysaidSecrets, opts: ClientOptions = {}): SysaidApi {
  const base = `${settings.baseUrl}/connect/v1`;
  const account = { 'x-sysaid-accountid': settings.accountId ?? '' };
  // Access tokens count as logins in the budget: whether SysAid counts them so is not documented.
  const client = createSessionClient(deps, settings, secrets, opts, {
    base,
    who: `application key ${settings.clientId}`,
    secret: secrets.clientSecret,
    missingSecret: 'No SysAid client secret is saved: set the source secret "clientSecret" (from POST /connect/v1/application-keys).',
    request: (http) => http.send('POST', `${base}/access-tokens`, { 'content-type': 'application/json', accept: 'application/json', ...account }, JSON.stringify({ clientId: settings.clientId, clientSecret: secrets.clientSecret })),
    refused: (status) => `SysAid refused the access token for clientId ${settings.clientId} and account ${settings.accountId} (HTTP ${status}): check clientId, the secret clientSecret and accountId; a lost key is replaced with POST /connect/v1/application-keys (at most 100 per organisation).`,
    tooMany: 'SysAid refused the access token: too many requests for this account.',
    async sessionOf(res, http) {
      const body = (await http.json(res, '/access-tokens')) as { token?: unknown; expiresIn?: unknown };
      if (typeof body?.token !== 'string' || !body.token) throw transient('SysAid answered the access token request without a token.');
      const lifetimeMs = (typeof body.expiresIn === 'number' && body.expiresIn > 0 ? body.expiresIn : 86_400) * 1000;
      return { token: body.token, expiresAt: Date.now() + lifetimeMs - Math.min(TOKEN_MARGIN_MS, lifetimeMs / 10) };
    },
    usable: (saved) => !!saved && 'token' in saved && saved.expiresAt > Date.now(),
    headers: (saved) => ({ authorization: `Bearer ${(saved as { token: string }).token}`, ...account }),
    seen: (res) => recordAccountLimits(deps.db, res.headers),
    rejectedFresh: 'SysAid rejected a fresh access token (HTTP 401): check that the application key’s user may read service records and users.',
  });

  const pageLimit = Math.min(settings.pageSize, MAX_PAGE);
  const page = async (path: string, query: Record<string, string>, offset: number, limit = pageLimit) =>
    asList(await client.get(path, { ...query, offset: String(offset), limit: String(Math.min(limit, MAX_PAGE)) }), path);

  return {
    stats: client.stats,
    pageLimit,
    login: client.login,
    serverNow: client.serverNow,
    async admins(paging = {}) {
      return (await pageAll((offset) => page('/agents', {}, offset), paging)).map(connectUser);
    },
    async srPage(query, offset, limit) {
      const sorted: Record<string, string> = query.updatedFrom !== undefined ? { sort: 'updateTime', order: 'asc' } : {};
      return (await page('/service-records', { ...srFilters(query), ...sorted }, offset, limit)).map(connectSr);
    },
    async countSrs(query) {
      const body = (await client.get('/service-records/count', srFilters(query))) as { count?: unknown };
      if (typeof body?.count !== 'number') throw transient('SysAid answered /service-records/count without a count; the read is retried as a whole.');
      return body.count;
    },
    /** The newer API publishes no filter list: its update-time filter is assumed, and watched for being ignored. */
    async filters() {
      return null;
    },
  };
}
