import { benchCrash } from './crash.bench.js';
import { benchEmbedded } from './embedded.bench.js';
import { benchInspect } from './inspect.bench.js';
import { benchProxy } from './proxy.bench.js';
import { benchRedact } from './redact.bench.js';
import { benchReports } from './reports.bench.js';
import { benchSpool } from './spool.bench.js';
import { benchStore } from './store.bench.js';

/** `npm run bench -- <name>`: runs one benchmark (or all) and prints its table. */
const BENCHMARKS: Record<string, () => Promise<void>> = {
  store: benchStore,
  proxy: benchProxy,
  embedded: benchEmbedded,
  crash: benchCrash,
  redact: benchRedact,
  spool: benchSpool,
  reports: benchReports,
  inspect: benchInspect,
};

const asked = process.argv.slice(2).filter((a) => !a.startsWith('-'));
const names = asked.length > 0 ? asked : Object.keys(BENCHMARKS);
for (const name of names) {
  const bench = BENCHMARKS[name];
  if (!bench) {
    process.stderr.write(`unknown benchmark "${name}"; known: ${Object.keys(BENCHMARKS).join(', ')}\n`);
    process.exit(2);
  }
  process.stdout.write(`== ${name}\n`);
  await bench();
}
