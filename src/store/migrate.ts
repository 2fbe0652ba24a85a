import {
  Migrator,
  sql,
  type DatabaseIntrospector,
  type Kysely,
  type MigrationProvider,
  type TableMetadata,
} from 'kysely';
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
  return new Migrator({
    db: withOwnSchemaIntrospection(db),
    provider,
    migrationTableSchema: rows[0]!.schema,
  });
}

/**
 * The migrator asks whether its bookkeeping tables exist by listing every column of every table in the
 * database, and kysely's listing names each schema and table to `has_schema_privilege` and
 * `pg_get_serial_sequence`, which raise if another session drops that schema or table between the catalog
 * read and the call. A collector sharing its database with anything that drops schemas (or test files
 * dropping theirs in parallel) then failed to migrate at random. This gives the migrator a view of the
 * database whose table listing reads the current schema's tables and nothing else.
 */
function withOwnSchemaIntrospection(db: AnyDb): AnyDb {
  const introspection: DatabaseIntrospector = {
    getSchemas: () => db.introspection.getSchemas(),
    getTables: () => currentSchemaTables(db),
    getMetadata: async () => ({ tables: await currentSchemaTables(db) }),
  };
  return new Proxy(db, {
    get(target, property) {
      if (property === 'introspection') return introspection;
      // Kysely's methods use private fields, so they must run with the real instance as `this`.
      const value: unknown = Reflect.get(target, property, target);
      return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
    },
  });
}

async function currentSchemaTables(db: AnyDb): Promise<TableMetadata[]> {
  const { rows } = await sql<{ name: string; schema: string; kind: string }>`
    select c.relname as name, n.nspname as schema, c.relkind as kind
    from pg_catalog.pg_class c join pg_catalog.pg_namespace n on n.oid = c.relnamespace
    where n.nspname = current_schema() and c.relkind in ('r', 'v', 'p')`.execute(db);
  return rows.map((r) => ({ name: r.name, schema: r.schema, isView: r.kind === 'v', columns: [] }));
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
