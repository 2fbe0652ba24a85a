import { captureExchange } from '../src/capture/captured.js';
import { exchangeRow } from '../src/capture/exchange-row.js';
import { loadDerivationTables } from '../src/derive/tables.js';
import { redactJsonText } from '../src/capture/redact-text.js';
import { redactFhir } from '../src/capture/redact.js';
import { storeBody } from '../src/capture/stored-body.js';
import { createPatientHasher } from '../src/privacy/patient-hash.js';
import { BodyTap, type ObservedExchange } from '../src/proxy/exchange.js';
import { benchSearchset } from './searchset.js';
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
  const tap = new BodyTap(1024 * 1024);
  tap.add(body);
  const observed: ObservedExchange = {
    id: '0190b2a0-0000-7000-8000-000000000000',
    receivedAt: new Date(),
    route: {
      kind: 'fhir',
      target: 'http://127.0.0.1/base/Slot',
      provider: {
        id: 'bench',
        name: 'bench',
        baseUrl: 'http://127.0.0.1/base',
        dialect: 'stu3',
        dosServiceIds: [],
        timeouts: { connectMs: 1000, responseMs: 1000 },
        captureFullBodies: false,
      },
    },
    method: 'GET',
    path: '/base/Slot',
    query: 'service=2000011147&status=free',
    requestHeaders: { accept: 'application/fhir+json', 'ssp-traceid': 'trace' },
    requestBody: new BodyTap(1024),
    status: 200,
    responseHeaders: { 'content-type': 'application/fhir+json' },
    responseBody: tap,
    outcome: 'ok',
    upstreamStartMs: 0.1,
    firstByteMs: 1,
    endMs: 2,
  };
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
