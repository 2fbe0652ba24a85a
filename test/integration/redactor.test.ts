import { InlineRedactor, WorkerRedactor, type RedactionOutcome } from '../../src/capture/redactor.js';
import { loadDerivationTables } from '../../src/derive/tables.js';
import { createLogger } from '../../src/logger.js';
import { createPatientHasher } from '../../src/privacy/patient-hash.js';
import { observedExchange } from '../helpers/observed.js';
import { fixture } from '../helpers/sandbox.js';

const secret = 'redactor-test-secret-0123456789-0123456789';
const rules = { hash: createPatientHasher(secret), birthDateAsYear: true };
const logger = createLogger({ logLevel: 'silent' });

function exchanges(n: number) {
  const body = JSON.stringify(fixture('stu3/appointment-book-request.json'));
  return Array.from({ length: n }, () => observedExchange({ requestBody: body, responseBody: body }));
}

describe('redaction on a worker thread', () => {
  it('gives exactly the rows inline redaction gives', async () => {
    const inline: RedactionOutcome[] = [];
    const onWorker: RedactionOutcome[] = [];
    const sample = exchanges(50);
    const a = new InlineRedactor(rules, loadDerivationTables({}), (o) => inline.push(o));
    const b = new WorkerRedactor(secret, rules, {}, (o) => onWorker.push(o), logger);
    for (const e of sample) {
      a.submit(e);
      b.submit(e);
    }
    await b.idle();
    expect(b.onWorker).toBe(true);
    await b.close();
    // Both give the very texts the store is given.
    const byId = (list: RedactionOutcome[]) => Object.fromEntries(list.map((o) => [o.id, o]));
    expect(byId(onWorker)).toEqual(byId(inline));
    expect(onWorker).toHaveLength(50);
    // Each with its events (the book requests were answered 201: a booking attempt each).
    expect(
      onWorker.every(
        (o) =>
          'captured' in o &&
          (JSON.parse(o.captured.events.toString()) as { type: string }[])[0]?.type === 'booking.attempted',
      ),
    ).toBe(true);
  });

  it('loses nothing when the worker dies: what it held is redacted inline', async () => {
    const delivered: RedactionOutcome[] = [];
    const redactor = new WorkerRedactor(secret, rules, {}, (o) => delivered.push(o), logger);
    const sample = exchanges(200);
    for (const e of sample.slice(0, 100)) redactor.submit(e);
    await redactor.crashForTest();
    for (const e of sample.slice(100)) redactor.submit(e);
    await redactor.idle();
    expect(redactor.onWorker).toBe(false);
    expect(new Set(delivered.map((o) => o.id))).toEqual(new Set(sample.map((e) => e.id)));
    expect(delivered.every((o) => 'captured' in o)).toBe(true);
    await redactor.close();
  });
});
