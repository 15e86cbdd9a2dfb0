// A fresh, migrated database per test: in-memory PGlite, or a new PostgreSQL database (dropped on close).
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { openDatabase, type Database } from '../../db/client';

export type DbKind = 'pglite' | 'postgres';
export const defaultKind = (): DbKind => (process.env.DATABASE_URL ? 'postgres' : 'pglite');
export const dbKinds: DbKind[] = process.env.DATABASE_URL ? ['pglite', 'postgres'] : ['pglite'];

export async function openTestDatabase(kind: DbKind = defaultKind(), onQuery?: (query: string) => void): Promise<Database & { url: string | null }> {
  if (kind === 'pglite') {
    const database = await openDatabase({ url: 'memory://', onQuery });
    await database.migrate();
    return { ...database, url: null };
  }
  const base = process.env.DATABASE_URL;
  if (!base) throw new Error('DATABASE_URL is not set: PostgreSQL tests need a server (npm test sets it when one answers on 127.0.0.1:5432).');
  const name = `cs_test_${randomBytes(6).toString('hex')}`;
  const admin = new pg.Client({ connectionString: base });
  await admin.connect();
  await admin.query(`create database ${name}`);
  await admin.end();
  const url = new URL(base);
  url.pathname = `/${name}`;
  const database = await openDatabase({ url: url.toString(), onQuery });
  await database.migrate();
  return {
    ...database,
    url: url.toString(),
    async close() {
      await database.close();
      const c = new pg.Client({ connectionString: base });
      await c.connect();
      await c.query(`drop database if exists ${name} with (force)`);
      await c.end();
    },
  };
}
