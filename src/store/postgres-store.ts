import { Kysely, PostgresDialect } from 'kysely';
import pg from 'pg';
import type { Database } from './database.js';
import type { OpenStoreOptions, Store } from './store.js';
import { INT8_OID } from './type-oids.js';

/*
 * The PostgreSQL store on its own, without the embedded engine: what a worker thread opens (episode
 * stitching), where PGlite's WebAssembly module has no business being loaded.
 */

/** pg's own parsers, except int8 as a number (PGlite is given the same rule). */
const typeParser = ((oid: number, format?: 'text' | 'binary') =>
  oid === INT8_OID
    ? (value: string) => Number(value)
    : (pg.types.getTypeParser(oid, format) as (value: string) => unknown)) as typeof pg.types.getTypeParser;

/** A connection URL with its password replaced, for logs and banners. */
export function maskUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    return parsed.toString();
  } catch {
    return 'postgres://(unparseable URL)';
  }
}

/** Opens a PostgreSQL store (see `openStore`). */
export function openPostgresStore(options: OpenStoreOptions & { databaseUrl: string }): Store {
  const pool = new pg.Pool({
    connectionString: options.databaseUrl,
    max: options.poolMax ?? 10,
    ...(options.schema ? { options: `-c search_path=${options.schema}` } : {}),
    types: { getTypeParser: typeParser },
    // A database that stops answering must not hold callers forever: waiting for a connection ends
    // after 30 s (capture then spools), and a peer gone without a word is found by TCP keepalive.
    connectionTimeoutMillis: 30_000,
    keepAlive: true,
    keepAliveInitialDelayMillis: 10_000,
  });
  pool.on('error', (error) => options.onConnectionError?.(error));
  // A connection lost while checked out between two queries of a transaction (the server restarted,
  // an administrator ended the session) is told as an 'error' event on the client, which the pool
  // listens to only while the client is idle: unheard, Node would stop the process. The transaction's
  // next query fails on its own, and the pool drops the client when it is released.
  pool.on('connect', (client) => client.on('error', () => undefined));
  const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
  return {
    db,
    engine: 'postgres',
    location: maskUrl(options.databaseUrl),
    close: () => db.destroy(),
  };
}
