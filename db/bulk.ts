// Many rows in one statement with one parameter: the rows travel as one JSON array that PostgreSQL expands
// with json_populate_recordset. Drizzle's multi-row insert binds rows × columns parameters and builds the
// query piece by piece, which for a few hundred rows cost the worker more CPU than the round trip itself.
// Works the same on PGlite and PostgreSQL. Column types this carries: text, uuid, integer, boolean,
// timestamptz (Dates travel as ISO strings) and jsonb (values embedded as JSON).
import { getTableColumns, sql, type SQL } from 'drizzle-orm';
import type { PgColumn, PgTable } from 'drizzle-orm/pg-core';

/** What insertRows needs of a database or a transaction. */
interface Executor {
  execute(query: SQL): PromiseLike<unknown>;
}

const SUPPORTED = new Set(['text', 'uuid', 'integer', 'boolean', 'timestamp with time zone', 'jsonb']);

/** Rows per statement: bounds the size of one JSON parameter. */
const CHUNK = 2_000;

/**
 * Inserts `rows`; with `upsertOn`, a row whose key exists replaces every listed column of the existing one.
 * The columns written are those any row gives a value; a row without one of them writes NULL there.
 */
export async function insertRows<T extends PgTable>(db: Executor, table: T, rows: Array<T['$inferInsert']>, opts: { upsertOn?: PgColumn[] } = {}): Promise<void> {
  if (!rows.length) return;
  const columns = Object.entries(getTableColumns(table) as Record<string, PgColumn>).filter(([key]) => rows.some((r) => (r as Record<string, unknown>)[key] !== undefined));
  const unsupported = columns.find(([, c]) => !SUPPORTED.has(c.getSQLType().replace(/\(.*\)$/, '')));
  if (unsupported) throw new Error(`insertRows cannot carry column ${unsupported[1].name} of type ${unsupported[1].getSQLType()}.`);
  const list = sql.join(
    columns.map(([, c]) => sql.identifier(c.name)),
    sql`, `,
  );
  const keyNames = new Set((opts.upsertOn ?? []).map((c) => c.name));
  const conflict = opts.upsertOn
    ? sql` on conflict (${sql.join(
        opts.upsertOn.map((c) => sql.identifier(c.name)),
        sql`, `,
      )}) do update set ${sql.join(
        columns.filter(([, c]) => !keyNames.has(c.name)).map(([, c]) => sql`${sql.identifier(c.name)} = excluded.${sql.identifier(c.name)}`),
        sql`, `,
      )}`
    : sql``;
  for (let i = 0; i < rows.length; i += CHUNK) {
    const json = JSON.stringify(
      rows.slice(i, i + CHUNK).map((r) => {
        const out: Record<string, unknown> = {};
        for (const [key, c] of columns) out[c.name] = (r as Record<string, unknown>)[key] ?? null;
        return out;
      }),
    );
    await db.execute(sql`insert into ${table} (${list}) select ${list} from json_populate_recordset(null::${table}, ${json}::json)${conflict}`);
  }
}
