import { Migrator, sql, type Kysely, type MigrationProvider } from 'kysely';
import { migrations } from '../../migrations/index.js';

/** Migrations are written against no particular schema type (they are frozen in time). */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type AnyDb = Kysely<any>;

const provider: MigrationProvider = { getMigrations: () => Promise.resolve(migrations) };

/**
 * A migrator whose bookkeeping tables live in the connection's current schema. Left to itself, kysely
 * accepts migration tables found in any schema of the database, and would take another deployment's
 * (or another schema's) history for ours.
 */
async function migrator(db: AnyDb): Promise<Migrator> {
  const { rows } = await sql<{ schema: string }>`select current_schema() as schema`.execute(db);
  return new Migrator({ db, provider, migrationTableSchema: rows[0]!.schema });
}

/**
 * Brings the schema up to date and returns the names of the migrations it applied. Kysely's PostgreSQL
 * adapter holds an advisory lock while it migrates, so instances starting together apply each migration
 * exactly once (on PGlite the single connection serialises them anyway).
 */
export async function runMigrations(db: AnyDb): Promise<string[]> {
  const { error, results } = await (await migrator(db)).migrateToLatest();
  if (error) throw error instanceof Error ? error : new Error(`migration failed: ${JSON.stringify(error)}`);
  return (results ?? []).filter((r) => r.status === 'Success').map((r) => r.migrationName);
}

/** The migrations this build knows that the store has not yet applied. */
export async function pendingMigrations(db: AnyDb): Promise<string[]> {
  const all = await (await migrator(db)).getMigrations();
  return all.filter((m) => m.executedAt === undefined).map((m) => m.name);
}

/** Migrates up or down to the named migration (tests use it to check one migration against data). */
export async function migrateTo(db: AnyDb, name: string): Promise<void> {
  const { error } = await (await migrator(db)).migrateTo(name);
  if (error) throw error instanceof Error ? error : new Error(`migration failed: ${JSON.stringify(error)}`);
}
