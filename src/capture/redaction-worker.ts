import { parentPort, workerData } from 'node:worker_threads';
import type { ObservedExchange } from '../proxy/exchange.js';
import { createPatientHasher } from '../privacy/patient-hash.js';
import { exchangeRow } from './exchange-row.js';
import type { NewExchangeRow } from '../store/tables/exchange.table.js';
import type { RedactionOutcome } from './redactor.js';

/*
 * The redaction worker: turns observed exchanges into redacted rows off the event loop that serves the
 * proxy (parsing, walking and re-serialising a 50 KB searchset is the costliest thing capture does).
 */
const { hashSecret, birthDateAsYear } = workerData as { hashSecret: string; birthDateAsYear: boolean };
const rules = { hash: createPatientHasher(hashSecret), birthDateAsYear };

/**
 * Timestamps cross to the main thread as ISO strings: a structured-cloned Date belongs to the receiving
 * thread's main realm, which is not the realm of code run in a VM context (jest), where database drivers'
 * `instanceof Date` would fail. Drivers and the spool take ISO strings alike.
 */
function withIsoTimes(row: NewExchangeRow): NewExchangeRow {
  const out: Record<string, unknown> = { ...row };
  for (const [key, value] of Object.entries(out)) if (value instanceof Date) out[key] = value.toISOString();
  return out as NewExchangeRow;
}

parentPort!.on('message', (batch: ObservedExchange[]) => {
  const outcomes: RedactionOutcome[] = batch.map((observed) => {
    try {
      return { id: observed.id, row: withIsoTimes(exchangeRow(observed, rules).row) };
    } catch (error) {
      return { id: observed.id, error: (error as Error).message };
    }
  });
  parentPort!.postMessage(outcomes);
});
