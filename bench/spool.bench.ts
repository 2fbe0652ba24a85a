import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { captureExchange, type CapturedExchange } from '../src/capture/captured.js';
import { CaptureSpool } from '../src/capture/capture-spool.js';
import { loadDerivationTables } from '../src/derive/tables.js';
import { createPatientHasher } from '../src/privacy/patient-hash.js';
import { benchObserved, benchSearchset } from './searchset.js';
import { printTable } from './table.js';

/*
 * `npm run bench -- spool`: what the capture spool costs the proxy's thread, the one that forwards: a
 * full queue (2,000 captured slot searches) spilled at once, and the whole spool read back as a replay
 * reads it (the store's own part left out). For each, the time in all, and the longest the event loop was
 * held (a timer ticking every millisecond records its largest gap): the most a consumer's request could
 * have been made to wait.
 */

const ROWS = 2000;

/** Runs `work` while a 1 ms timer watches the event loop; the work's time and the loop's longest gap, in ms. */
async function watched(work: () => Promise<void>): Promise<{ ms: number; heldMs: number }> {
  let last = process.hrtime.bigint();
  let held = 0n;
  const ticker = setInterval(() => {
    const now = process.hrtime.bigint();
    if (now - last > held) held = now - last;
    last = now;
  }, 1);
  const started = process.hrtime.bigint();
  await work();
  const ms = Number(process.hrtime.bigint() - started) / 1e6;
  clearInterval(ticker);
  // The gap the work ended in counts too.
  const tail = process.hrtime.bigint() - last;
  return { ms, heldMs: Number(tail > held ? tail : held) / 1e6 };
}

/** `npm run bench -- spool` */
export async function benchSpool(): Promise<void> {
  const body = await benchSearchset();
  const rules = {
    hash: createPatientHasher('bench-secret-0123456789-0123456789-abcd'),
    birthDateAsYear: true,
  };
  const tables = loadDerivationTables({});
  const rows: CapturedExchange[] = [];
  for (let i = 0; i < ROWS; i++)
    rows.push(
      captureExchange(
        benchObserved(body, `0190b2a0-0000-7000-8000-${String(i).padStart(12, '0')}`),
        rules,
        tables,
      ),
    );
  const dir = mkdtempSync(path.join(tmpdir(), 'bench-spool-'));
  try {
    const spool = new CaptureSpool(path.join(dir, 'exchanges.jsonl'), tables);
    spool.open();
    const spill = await watched(async () => {
      if (!(await spool.append(rows))) throw new Error('the spool refused the rows');
    });
    const bytes = spool.bytes;
    let replayed = 0;
    let steps = 0;
    const replay = await watched(async () => {
      for (let chunk = await spool.read(); chunk; chunk = await spool.read()) {
        replayed += chunk.rows.length;
        steps += 1;
        await spool.done(chunk);
      }
    });
    if (replayed !== ROWS) throw new Error(`replay read ${replayed} rows of ${ROWS}`);
    await spool.close();
    process.stdout.write(
      `  ${ROWS} rows of a ${body.length}-byte searchset, ${(bytes / 1e6).toFixed(1)} MB of spool; replay in ${steps} steps\n`,
    );
    printTable(
      ['step', 'ms in all', 'longest the event loop was held, ms'],
      [
        [`spill ${ROWS} rows at once`, spill.ms.toFixed(1), spill.heldMs.toFixed(1)],
        ['read the spool back (replay, store left out)', replay.ms.toFixed(1), replay.heldMs.toFixed(1)],
      ],
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
