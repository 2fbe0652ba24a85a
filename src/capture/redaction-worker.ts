import { parentPort, workerData } from 'node:worker_threads';
import type { ObservedExchange } from '../proxy/exchange.js';
import { createPatientHasher } from '../privacy/patient-hash.js';
import { exchangeRow } from './exchange-row.js';
import type { RedactionOutcome } from './redactor.js';

/*
 * The redaction worker: turns observed exchanges into redacted rows off the event loop that serves the
 * proxy (parsing, walking and re-serialising a 50 KB searchset is the costliest thing capture does).
 */
const { hashSecret, birthDateAsYear } = workerData as { hashSecret: string; birthDateAsYear: boolean };
const rules = { hash: createPatientHasher(hashSecret), birthDateAsYear };

parentPort!.on('message', (batch: ObservedExchange[]) => {
  const outcomes: RedactionOutcome[] = batch.map((observed) => {
    try {
      return { id: observed.id, row: exchangeRow(observed, rules).row };
    } catch (error) {
      return { id: observed.id, error: (error as Error).message };
    }
  });
  parentPort!.postMessage(outcomes);
});
