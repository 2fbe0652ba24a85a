import { captureExchange } from '../src/capture/captured.js';
import { exchangeRow } from '../src/capture/exchange-row.js';
import { loadDerivationTables } from '../src/derive/tables.js';
import { redactJsonText } from '../src/capture/redact-text.js';
import { redactFhir } from '../src/capture/redact.js';
import { storeBody } from '../src/capture/stored-body.js';
import { createPatientHasher } from '../src/privacy/patient-hash.js';
import { benchObserved, benchSearchset } from './searchset.js';
import { printTable } from './table.js';

/*
 * `npm run bench -- redact`: what capture costs per exchange on one thread, for the benchmark's slot
 * searchset: the reference redactor (parse, walk, stringify), the one-pass text redactor, compression,
 * a whole stored row, and a row with its derived events as the capture worker makes them. The best of several rounds, in microseconds.
 */

const ROUNDS = 10;
const PER_ROUND = 200;

function micros(work: () => unknown): number {
  for (let i = 0; i < PER_ROUND; i++) work(); // warm-up
  let best = Infinity;
  for (let round = 0; round < ROUNDS; round++) {
    const started = process.hrtime.bigint();
    for (let i = 0; i < PER_ROUND; i++) work();
    best = Math.min(best, Number(process.hrtime.bigint() - started) / 1e3 / PER_ROUND);
  }
  return best;
}

/** `npm run bench -- redact` */
export async function benchRedact(): Promise<void> {
  const body = await benchSearchset();
  const text = body.toString('utf8');
  const rules = {
    hash: createPatientHasher('bench-secret-0123456789-0123456789-abcd'),
    birthDateAsYear: true,
  };
  const redacted = redactJsonText(text, rules)!.value;
  const tables = loadDerivationTables({});
  const observed = benchObserved(body);
  const rows: [string, number][] = [
    [
      'reference: JSON.parse, walk, JSON.stringify',
      micros(() => JSON.stringify(redactFhir(JSON.parse(text), rules).value)),
    ],
    ['text redactor (one pass)', micros(() => redactJsonText(text, rules))],
    ['Brotli (quality 1) of the redacted body', micros(() => storeBody(redacted))],
    ['whole row: decode, redact, compress, headers', micros(() => exchangeRow(observed, rules))],
    [
      'whole row and its events (derivation parses the stored body)',
      micros(() => captureExchange(observed, rules, tables)),
    ],
  ];
  process.stdout.write(
    `  searchset ${body.length} bytes, stored compressed ${storeBody(redacted).body.length} bytes\n`,
  );
  printTable(
    ['step', 'µs per exchange'],
    rows.map(([name, us]) => [name, us.toFixed(0)]),
  );
}
