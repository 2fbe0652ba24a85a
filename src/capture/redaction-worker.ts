import { parentPort, workerData } from 'node:worker_threads';
import type { ObservedExchange } from '../proxy/exchange.js';
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

/**
 * Timestamps cross to the main thread as ISO strings: a structured-cloned Date belongs to the receiving
 * thread's main realm, which is not the realm of code run in a VM context (jest), where database drivers'
 * `instanceof Date` would fail. Drivers and the spool take ISO strings alike.
 */
function withIsoTimes<T extends object>(row: T): T {
  const out: Record<string, unknown> = { ...(row as Record<string, unknown>) };
  for (const [key, value] of Object.entries(out)) if (value instanceof Date) out[key] = value.toISOString();
  return out as T;
}

parentPort!.on('message', (batch: ObservedExchange[]) => {
  const outcomes: RedactionOutcome[] = batch.map((observed) => {
    try {
      const { row, events } = captureExchange(observed, rules, derivationTables);
      return { id: observed.id, captured: { row: withIsoTimes(row), events: events.map(withIsoTimes) } };
    } catch (error) {
      return { id: observed.id, error: (error as Error).message };
    }
  });
  parentPort!.postMessage(outcomes);
});
