import { parentPort, workerData } from 'node:worker_threads';
import { openPostgresStore } from '../store/postgres-store.js';
import { stitchAll } from './stitch-episodes.js';
import { loadDerivationTables } from './tables.js';
import type { StitchThreadData, StitchThreadReply } from './stitch-thread.js';

/*
 * The stitching worker: runs episode stitching rounds, asked for one at a time by the proxy's thread,
 * on a PostgreSQL connection of its own. Stitching reads each batch's events whole (a slot search's
 * offered slots among them) and holds them across a transaction's round trips: on the proxy's thread
 * that was most of what its young collections copied, and their pauses were the tail of its latency.
 */
const { databaseUrl, tables, options } = workerData as StitchThreadData;
// Errors of idle connections are the pool's to mend; a round that meets one fails and is retried.
const store = openPostgresStore({ databaseUrl, poolMax: 2, onConnectionError: () => undefined });
const derivationTables = loadDerivationTables(tables);

function reply(message: StitchThreadReply): void {
  parentPort!.postMessage(message);
}

parentPort!.on('message', (request: 'round' | 'close') => {
  if (request === 'close') {
    const closed = (): void => reply({ closed: true });
    store.close().then(closed, closed); // connections that would not close end with the thread
    return;
  }
  // Each batch is told as it commits: should the thread die mid-round, what it did is still counted.
  stitchAll(store.db, derivationTables, options, (batch) => reply({ batch })).then(
    () => reply({ done: true }),
    (error: unknown) => reply({ done: true, error: error instanceof Error ? error.message : String(error) }),
  );
});
