import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import { Kysely, PostgresDialect } from 'kysely';
import pg from 'pg';
import type { Database } from './database.js';
import { lockDirectory } from './directory-lock.js';
import { PGliteDialect } from './pglite-dialect.js';

const INT8_OID = 20;

/** The database the collector runs on: PostgreSQL in production, PGlite embedded otherwise. */
export interface Store {
  db: Kysely<Database>;
  engine: 'postgres' | 'pglite';
  /** Where the data lives, safe to print (no password). */
  location: string;
  close(): Promise<void>;
}

export interface OpenStoreOptions {
  /** PostgreSQL URL; when absent the embedded PGlite store is used. */
  databaseUrl?: string;
  /** PGlite data directory; when absent PGlite keeps everything in memory (tests). */
  pgliteDir?: string;
  /** PostgreSQL only: the schema to work in (tests isolate each file in its own schema). */
  schema?: string;
  poolMax?: number;
  /**
   * Told about errors of idle pooled connections (PostgreSQL restarted, a pooler timed out). The pool
   * drops such a connection and opens another when next needed; without a listener Node would treat the
   * error as unhandled and stop the process.
   */
  onConnectionError?: (error: Error) => void;
}

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

/**
 * Opens the store. Both engines parse `bigint` as a JavaScript number (counts and sizes stay far below
 * 2^53), timestamps as Date and jsonb as objects, so repositories see the same rows on either.
 */
export async function openStore(options: OpenStoreOptions): Promise<Store> {
  if (options.databaseUrl) {
    const pool = new pg.Pool({
      connectionString: options.databaseUrl,
      max: options.poolMax ?? 10,
      ...(options.schema ? { options: `-c search_path=${options.schema}` } : {}),
      types: { getTypeParser: typeParser },
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
  let unlock = (): void => {};
  if (options.pgliteDir) {
    mkdirSync(path.dirname(options.pgliteDir), { recursive: true });
    unlock = lockDirectory(`${options.pgliteDir}.lock`, `The embedded store ${options.pgliteDir}`);
  }
  let client: PGlite;
  try {
    client = await PGlite.create({
      ...(options.pgliteDir ? { dataDir: options.pgliteDir } : {}),
      parsers: { [INT8_OID]: (value: string) => Number(value) },
    });
  } catch (error) {
    unlock();
    throw error;
  }
  const db = new Kysely<Database>({ dialect: new PGliteDialect(client) });
  return {
    db,
    engine: 'pglite',
    location: options.pgliteDir ?? 'memory',
    close: async () => {
      try {
        await db.destroy();
      } finally {
        unlock();
      }
    },
  };
}
