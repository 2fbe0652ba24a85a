import { createRequire } from 'node:module';
import { parentPort, workerData } from 'node:worker_threads';
import type * as PGliteModule from '@electric-sql/pglite';
import type { CrossingError, PGliteReply, PGliteRequest, PGliteThreadData } from './pglite-thread.js';
import { INT8_OID, JSON_OID } from './type-oids.js';

/*
 * The embedded store's worker: owns the PGlite instance and runs each query it is sent, in the order sent
 * (the dialect on the other side lets one connection user at a time through, as PGlite has one backend).
 */

const { dataDir, pglitePath } = workerData as PGliteThreadData;

function crossing(error: unknown): CrossingError {
  if (!(error instanceof Error)) return { message: String(error) };
  const fields: CrossingError = { message: error.message };
  for (const [key, value] of Object.entries(error))
    if (['string', 'number', 'boolean'].includes(typeof value))
      fields[key] = value as string | number | boolean;
  return fields;
}

async function main(): Promise<void> {
  const port = parentPort!;
  let client: PGliteModule.PGlite;
  try {
    const { PGlite } = createRequire(pglitePath)(pglitePath) as typeof PGliteModule;
    client = await PGlite.create({
      ...(dataDir ? { dataDir } : {}),
      parsers: { [INT8_OID]: (value: string) => Number(value) },
      // JSON given as UTF-8 bytes (capture's batches) is that text; anything else as PGlite would.
      serializers: {
        [JSON_OID]: (value: unknown) => {
          if (value instanceof Uint8Array)
            return Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('utf8');
          if (typeof value === 'string') return value;
          return JSON.stringify(value, (_key, v: unknown) => (typeof v === 'bigint' ? v.toString() : v));
        },
      },
    });
  } catch (error) {
    port.postMessage({ failed: crossing(error) } satisfies PGliteReply);
    return;
  }
  port.on('message', (request: PGliteRequest) => {
    const work =
      'close' in request
        ? client.close().then(() => ({ rows: [] }))
        : client
            .query(request.sql, request.params, { rowMode: 'object' })
            .then(({ rows, command, rowCount, affectedRows }) => ({ rows, command, rowCount, affectedRows }));
    work.then(
      (result) => port.postMessage({ id: request.id, result } satisfies PGliteReply),
      (error: unknown) => port.postMessage({ id: request.id, error: crossing(error) } satisfies PGliteReply),
    );
  });
  // Values of the kinds rows hold, for the other side to see which realm they arrive in.
  port.postMessage({
    ready: true,
    probe: { date: new Date(0), bytes: new Uint8Array(1) },
  } satisfies PGliteReply);
}

void main();
