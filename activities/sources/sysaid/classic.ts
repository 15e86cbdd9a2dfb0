// SysAid's classic REST API (`/api/v1`, SysAid 15.4+): a login with user name and password whose cookies (the
// JSESSIONID and any others a deployment sets, e.g. a load balancer's) go with every call.
import type { Db } from '../../../db/client';
import type { Sealer } from '../../../db/seal';
import { credentials, transient } from '../../providers/errors';
import { asList, createSessionClient, pageAll, type ClientOptions, type SrQuery, type SysaidApi, type SysaidFilters } from './client';
import { classicSr, classicUser, SR_FIELDS, USER_FIELDS, type SysaidRecord } from './mapping';
import type { SysaidSecrets, SysaidSettings } from './settings';

/** The query parameters of an SR list or count: every type, the archive flag, and the filters as epoch-ms ranges. */
function srFilters(query: SrQuery): Record<string, string> {
  return {
    type: 'all',
    archive: query.archived ? '1' : '0',
    ...(query.updatedFrom !== undefined ? { update_time: `${query.updatedFrom},0` } : {}),
    ...(query.dueFrom !== undefined || query.dueTo !== undefined ? { due_date: `${query.dueFrom ?? 0},${query.dueTo ?? 0}` } : {}),
    ...(query.insertedFrom !== undefined ? { insert_time: `${query.insertedFrom},0` } : {}),
    ...(query.ids ? { ids: query.ids.join(',') } : {}),
  };
}

/** Every cookie a login answer sets, by name (attributes dropped). */
function cookiesOf(res: Response): Record<string, string> {
  return Object.fromEntries(res.headers.getSetCookie().map((c) => c.split(';')[0]!.trim()).filter((c) => c.includes('=')).map((c) => [c.slice(0, c.indexOf('=')), c.slice(c.indexOf('=') + 1)]));
}

export function createClassicApi(deps: { db: Db; sealer: Sealer }, settings: SysaidSettings, secrets: SysaidSecrets, opts: ClientOptions = {}): SysaidApi {
  const base = `${settings.baseUrl}/api/v1`;
  const who = settings.userName ?? '';
  const encoding = settings.passwordEncoding;
  const client = createSessionClient(deps, settings, secrets, opts, {
    base,
    who,
    secret: secrets.password,
    missingSecret: 'No SysAid password is saved: set the source secret "password".',
    request: (http) => {
      const password = encoding === 'url' ? encodeURIComponent(secrets.password!) : secrets.password!;
      return http.send('POST', `${base}/login`, { 'content-type': 'application/json', accept: 'application/json' }, JSON.stringify({ user_name: who, password, ...(settings.accountId ? { account_id: settings.accountId } : {}) }));
    },
    refused: (status) =>
      `SysAid refused the login of ${who} (HTTP ${status}): check the user name and password; the account must be an administrator allowed to use the API, and SSO-only accounts cannot log in. The password was sent ${encoding === 'raw' ? 'as typed' : 'URL-encoded'} (passwordEncoding: ${encoding}); if it is right and has characters such as %, + or letters beyond ASCII, try passwordEncoding: ${encoding === 'raw' ? 'url (URL-encoded, as SysAid’s documentation describes)' : 'raw (as typed)'}.`,
    tooMany: 'SysAid refused the login: too many logins for this account in the last minutes.',
    async otherStatus(res) {
      if (res.status === 400) throw credentials(`SysAid refused the login request (HTTP 400: ${(await res.text()).slice(0, 200)})${settings.accountId ? '' : ': this instance may need the accountId setting'}.`, { status: 400 });
    },
    async sessionOf(res) {
      const cookies = cookiesOf(res);
      if (Object.keys(cookies).length === 0) throw transient('SysAid answered the login without a session cookie (JSESSIONID).');
      return { cookies };
    },
    usable: (saved) => !!saved && 'cookies' in saved,
    headers: (saved) => ({ cookie: Object.entries((saved as { cookies: Record<string, string> }).cookies).map(([k, v]) => `${k}=${v}`).join('; ') }),
    rejectedFresh: 'SysAid rejected a fresh session (HTTP 401): check that the API user may read service records and users.',
  });

  const page = async (path: string, query: Record<string, string>, offset: number, limit = settings.pageSize) =>
    asList(await client.get(path, { ...query, offset: String(offset), limit: String(limit) }), path) as unknown as SysaidRecord[];

  return {
    stats: client.stats,
    pageLimit: settings.pageSize,
    login: client.login,
    serverNow: client.serverNow,
    async admins(paging = {}) {
      return (await pageAll((offset) => page('/users', { type: 'admin', fields: USER_FIELDS.join(',') }, offset), paging)).map(classicUser);
    },
    async srPage(query, offset, limit) {
      const sorted: Record<string, string> = query.updatedFrom !== undefined ? { sort: 'update_time', dir: 'asc' } : {};
      return (await page('/sr', { ...srFilters(query), fields: SR_FIELDS.join(','), ...sorted }, offset, limit)).map(classicSr);
    },
    async countSrs(query) {
      const body = (await client.get('/sr/count', srFilters(query))) as { count?: unknown };
      if (typeof body?.count !== 'number') throw transient('SysAid answered /sr/count without a count; the read is retried as a whole.');
      return body.count;
    },
    async filters(): Promise<SysaidFilters> {
      const all = asList(await client.get('/filters', {}), '/filters');
      const status = all.find((f) => f.id === 'status');
      const values = Array.isArray(status?.values) ? (status.values as Array<{ id?: unknown; caption?: unknown }>) : [];
      return {
        updateTime: all.some((f) => f.id === 'update_time' && f.type === 'date'),
        // "${list.all}" and the like are choices of the list, not statuses.
        statuses: values.filter((v) => /^\d+$/.test(String(v.id))).map((v) => ({ id: String(v.id), caption: String(v.caption ?? '') })),
      };
    },
  };
}
