import { existsSync, mkdtempSync, readFileSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { captureExchange, type CapturedExchange } from '../../src/capture/captured.js';
import { CaptureSpool } from '../../src/capture/capture-spool.js';
import { loadDerivationTables } from '../../src/derive/tables.js';
import { createPatientHasher } from '../../src/privacy/patient-hash.js';
import { observedExchange } from '../helpers/observed.js';

const tables = loadDerivationTables({});
const rules = { hash: createPatientHasher('spool-test-secret-0123456789-0123456789'), birthDateAsYear: true };

function captured(count: number): CapturedExchange[] {
  return Array.from({ length: count }, () => captureExchange(observedExchange(), rules, tables));
}

function newSpool(): CaptureSpool {
  const spool = new CaptureSpool(
    path.join(mkdtempSync(path.join(tmpdir(), 'spool-')), 'exchanges.jsonl'),
    tables,
  );
  spool.open();
  return spool;
}

/** Every row the spool gives back, chunk by chunk, as a replay reads it. */
async function readAll(spool: CaptureSpool): Promise<{ ids: string[]; torn: number; steps: number }> {
  const ids: string[] = [];
  let torn = 0;
  let steps = 0;
  for (let chunk = await spool.read(); chunk; chunk = await spool.read()) {
    ids.push(...chunk.rows.map((row) => row.id));
    torn += chunk.torn;
    steps += 1;
    await spool.done(chunk);
  }
  return { ids, torn, steps };
}

describe('the capture spool', () => {
  it('writes nothing on the caller’s turn: the proxy’s thread hands the rows over and goes on', async () => {
    const spool = newSpool();
    const rows = captured(3);
    const written = spool.append(rows);
    expect(existsSync(spool.file)).toBe(false);
    expect(spool.bytes).toBeGreaterThan(0); // counted at once, so later batches queue behind these
    expect(await written).toBe(true);
    expect(statSync(spool.file).size).toBe(spool.bytes);
    await spool.close();
  });

  it('keeps the order appends were asked in, and a read asked after them sees them all', async () => {
    const spool = newSpool();
    const batches = Array.from({ length: 20 }, () => captured(3));
    const appends = batches.map((rows) => spool.append(rows)); // none awaited before the next
    const { ids, torn } = await readAll(spool);
    expect(await Promise.all(appends)).toEqual(batches.map(() => true));
    expect(ids).toEqual(batches.flat().map((row) => row.id));
    expect(torn).toBe(0);
  });

  it('writes a spill of more rows than one system write takes, every line whole', async () => {
    const spool = newSpool();
    const rows = captured(600); // four buffers a line: more than IOV_MAX (1,024) in all
    expect(await spool.append(rows)).toBe(true);
    const lines = readFileSync(spool.file, 'utf8').split('\n');
    expect(lines.pop()).toBe('');
    expect(lines.map((line) => (JSON.parse(line.split('\t')[0]!) as { id: string }).id)).toEqual(
      rows.map((row) => row.id),
    );
    expect((await readAll(spool)).ids).toHaveLength(600);
  });

  it('reads a line longer than a replay step whole, and the lines after it', async () => {
    const spool = newSpool();
    const long: CapturedExchange = {
      id: 'long-row',
      exchange: Buffer.from(`{"id":"long-row","filler":"${'x'.repeat(5 * 1024 * 1024)}"}`),
      events: Buffer.from('[]'),
    };
    const after = captured(2);
    await spool.append([long, ...after]);
    const { ids, torn } = await readAll(spool);
    expect(ids).toEqual(['long-row', ...after.map((row) => row.id)]);
    expect(torn).toBe(0);
  });

  it('removes its files once everything is replayed, and starts a new file for what comes after', async () => {
    const spool = newSpool();
    await spool.append(captured(2));
    await readAll(spool);
    expect(existsSync(spool.file)).toBe(false);
    expect(existsSync(`${spool.file}.offset`)).toBe(false);
    expect(spool.bytes).toBe(0);
    const later = captured(2);
    await spool.append(later);
    expect(existsSync(spool.file)).toBe(true);
    expect((await readAll(spool)).ids).toEqual(later.map((row) => row.id));
  });

  it('reports a disk that refuses the rows, and counts nothing as waiting', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'spool-'));
    const file = path.join(dir, 'exchanges.jsonl');
    symlinkSync('/dev/full', file); // every write fails with ENOSPC, as a full disk's do
    const spool = new CaptureSpool(file, tables);
    spool.open();
    expect(await spool.append(captured(2))).toBe(false);
    expect(spool).toMatchObject({ broken: true, bytes: 0 });
    await spool.close();
  });

  it('at open, cuts off a line a crash left unfinished and resumes after what was already replayed', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'spool-'));
    const file = path.join(dir, 'exchanges.jsonl');
    const rows = captured(3);
    const line = (row: CapturedExchange) => `${row.exchange.toString()}\t${row.events.toString()}\n`;
    const whole = rows.map(line).join('');
    writeFileSync(file, `${whole}${rows[0]!.exchange.toString().slice(0, 40)}`);
    writeFileSync(`${file}.offset`, String(Buffer.byteLength(line(rows[0]!)))); // the first is in the store
    const spool = new CaptureSpool(file, tables);
    expect(spool.open()).toEqual({
      bytes: Buffer.byteLength(whole) - Buffer.byteLength(line(rows[0]!)),
      torn: 1,
    });
    expect(readFileSync(file, 'utf8')).toBe(whole);
    // Appends after the restart start on a line of their own.
    const after = captured(1);
    await spool.append(after);
    expect((await readAll(spool)).ids).toEqual([rows[1]!.id, rows[2]!.id, after[0]!.id]);
  });
});
