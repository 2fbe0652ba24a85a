import { parentPort, workerData } from 'node:worker_threads';
import type { CapturableExchange } from '../proxy/exchange.js';
import { createPatientHasher } from '../privacy/patient-hash.js';
import type { TablesConfig } from '../config/config.types.js';
import { loadDerivationTables } from '../derive/tables.js';
import { captureExchange } from './captured.js';
import type { RedactionOutcome } from './redactor.js';

/*
 * The redaction worker: turns observed exchanges into redacted rows off the event loop that serves the
 * proxy (parsing, walking and re-serialising a 50 KB searchset is the costliest thing capture does).
 */
const { hashSecret, birthDateAsYear, tables } = workerData as {
  hashSecret: string;
  birthDateAsYear: boolean;
  tables: TablesConfig;
};
const rules = { hash: createPatientHasher(hashSecret), birthDateAsYear };
const derivationTables = loadDerivationTables(tables);

parentPort!.on('message', (batch: CapturableExchange[]) => {
  // Each outcome crosses back as two buffers of its own, moved rather than copied: the main thread has
  // nothing left to serialise, and nothing of it lands in its heap.
  const transfer: ArrayBuffer[] = [];
  const outcomes: RedactionOutcome[] = batch.map((observed) => {
    try {
      const captured = captureExchange(observed, rules, derivationTables);
      transfer.push(captured.exchange.buffer as ArrayBuffer, captured.events.buffer as ArrayBuffer);
      return { id: observed.id, captured };
    } catch (error) {
      return { id: observed.id, error: (error as Error).message };
    }
  });
  parentPort!.postMessage(outcomes, transfer);
});
