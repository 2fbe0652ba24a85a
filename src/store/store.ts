import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { Kysely } from 'kysely';
import type { Database } from './database.js';
import { lockDirectory } from './directory-lock.js';
import { PGliteDialect } from './pglite-dialect.js';
import { PGliteThread } from './pglite-thread.js';
import { openPostgresStore } from './postgres-store.js';

export { maskUrl } from './postgres-store.js';

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
   * Told about connections lost outside any query. On PostgreSQL, errors of idle pooled connections
   * (PostgreSQL restarted, a pooler timed out): the pool drops such a connection and opens another when
   * next needed; without a listener Node would treat the error as unhandled and stop the process. On
   * PGlite, the death of its thread: every query fails from then on, until the process restarts.
   */
  onConnectionError?: (error: Error) => void;
}

/**
 * Opens the store. Both engines parse `bigint` as a JavaScript number (counts and sizes stay far below
 * 2^53), timestamps as Date and jsonb as objects, so repositories see the same rows on either.
 */
export async function openStore(options: OpenStoreOptions): Promise<Store> {
  if (options.databaseUrl) return openPostgresStore({ ...options, databaseUrl: options.databaseUrl });
  let unlock = (): void => {};
  if (options.pgliteDir) {
    mkdirSync(path.dirname(options.pgliteDir), { recursive: true });
    unlock = lockDirectory(`${options.pgliteDir}.lock`, `The embedded store ${options.pgliteDir}`);
  }
  let client: PGliteThread;
  try {
    // On a worker thread of its own, so no query ever holds the proxy's event loop; loaded only for the
    // embedded store (a collector on PostgreSQL never loads PGlite's 37 MB of code).
    client = await PGliteThread.start(options.pgliteDir, options.onConnectionError);
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
        // Kysely closes its driver only if a query ever ran; a store opened and closed unused would keep
        // PGlite's files open, and the process would not exit once it had opened the directory again.
        if (!client.closed) await client.close();
      } finally {
        unlock();
      }
    },
  };
}
