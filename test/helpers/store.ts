import { randomBytes } from 'node:crypto';
import { sql } from 'kysely';
import pg from 'pg';
import { runMigrations } from '../../src/store/migrate.js';
import { openStore, type Store } from '../../src/store/store.js';

/** The engine this run of the suite tests: PostgreSQL when TEST_DATABASE_URL is set, else PGlite. */
export const TEST_ENGINE: 'postgres' | 'pglite' = process.env.TEST_DATABASE_URL ? 'postgres' : 'pglite';

export interface TestStore extends Store {
  /** PostgreSQL only: a URL that connects to this store's schema (for what opens its own connections). */
  url?: string;
  /** Drops what the test made (the PostgreSQL schema) and closes the store. */
  dispose(): Promise<void>;
}

function uniqueName(prefix: string): string {
  return `${prefix}_${Date.now().toString(36)}_${randomBytes(4).toString('hex')}`;
}

/** Runs one statement on the PostgreSQL server of TEST_DATABASE_URL, outside any test schema. */
export async function adminQuery(statement: string): Promise<void> {
  const client = new pg.Client({ connectionString: process.env.TEST_DATABASE_URL });
  await client.connect();
  try {
    await client.query(statement);
  } finally {
    await client.end();
  }
}

/** A new, empty PostgreSQL database on the test server; returns its URL and a function that drops it. */
export async function createTestDatabase(): Promise<{ url: string; drop: () => Promise<void> }> {
  const name = uniqueName('collector_t');
  await adminQuery(`create database ${name}`);
  const url = new URL(process.env.TEST_DATABASE_URL!);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    drop: () => adminQuery(`drop database if exists ${name} with (force)`),
  };
}

/**
 * A store for one test file: in-memory PGlite, or on PostgreSQL a schema of its own so files running in
 * parallel never see each other's rows. Migrated unless `migrate: false`.
 */
export async function openTestStore(options: { migrate?: boolean } = {}): Promise<TestStore> {
  let store: Store;
  let url: string | undefined;
  let drop: () => Promise<void> = async () => {};
  if (TEST_ENGINE === 'postgres') {
    const schema = uniqueName('t');
    await adminQuery(`create schema ${schema}`);
    store = await openStore({ databaseUrl: process.env.TEST_DATABASE_URL!, schema, poolMax: 5 });
    const schemaUrl = new URL(process.env.TEST_DATABASE_URL!);
    schemaUrl.searchParams.set('options', `-c search_path=${schema}`);
    url = schemaUrl.toString();
    drop = () => adminQuery(`drop schema if exists ${schema} cascade`);
  } else {
    store = await openStore({});
  }
  if (options.migrate !== false) await runMigrations(store.db);
  return {
    ...store,
    ...(url ? { url } : {}),
    async dispose() {
      await store.close();
      await drop();
    },
  };
}

/** Counts rows of a table (tests assert what a request left behind). */
export async function countRows(store: Store, table: string): Promise<number> {
  const result = await sql<{ n: number }>`select count(*)::int as n from ${sql.table(table)}`.execute(
    store.db,
  );
  return result.rows[0]!.n;
}
