import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { loadConfig } from '../config/config.loader.js';
import { loadDerivationTables } from '../derive/tables.js';
import { runDemo } from '../sandbox/demo/run-demo.js';
import { cliOption, runCommand, UsageError } from './run-command.js';

/**
 * `npm run demo -- --collector http://localhost:8080 --calls 100 --seed 7`: simulated 111 call handlers
 * working against the sandbox through a running collector (see src/sandbox/demo/run-demo.ts), in all
 * three dialects, with a progress line; at the end the ground truth (what they did, counted per report
 * id) is written to `--truth FILE` (default demo-truth.json). The token (role ingest) is `--token`,
 * `COLLECTOR_TOKEN`, or the admin token `npm start` generated under DATA_DIR (./data). Windows follow
 * the disposition table of the configuration (`--config`, as the collector's), else the bundled one.
 */

function whole(argv: string[], name: string, fallback: number): number {
  const raw = cliOption(argv, name);
  if (raw === undefined) return fallback;
  if (!/^\d+$/.test(raw)) throw new UsageError(`--${name}: found "${raw}"; expected a whole number`);
  return Number(raw);
}

async function main(): Promise<number> {
  const argv = process.argv.slice(2);
  const collector = (cliOption(argv, 'collector') ?? 'http://localhost:8080').replace(/\/$/, '');
  const calls = whole(argv, 'calls', 50);
  const seed = whole(argv, 'seed', 1);
  const config = loadConfig({ argv, env: process.env });
  const tokenFile = path.join(config.dataDir, 'admin-token');
  const token =
    cliOption(argv, 'token') ??
    process.env.COLLECTOR_TOKEN ??
    (existsSync(tokenFile) ? readFileSync(tokenFile, 'utf8').trim() : undefined);
  if (!token)
    throw new UsageError(`no token: give --token, COLLECTOR_TOKEN, or run where ${tokenFile} exists`);
  const out = cliOption(argv, 'truth') ?? 'demo-truth.json';
  process.stderr.write(`demo: ${calls} calls (seed ${seed}) through ${collector}\n`);
  const truth = await runDemo({
    collector,
    calls,
    seed,
    token,
    tables: loadDerivationTables(config.tables),
    onProgress: (done) => {
      if (done % 10 === 0 || done === calls) process.stderr.write(`  ${done}/${calls} calls\n`);
    },
  });
  writeFileSync(out, `${JSON.stringify(truth, null, 2)}\n`);
  const mix = Object.entries(truth.dialects)
    .map(([dialect, n]) => `${dialect} ${n}`)
    .join(', ');
  process.stdout.write(`done: ground truth of ${calls} calls (${mix}) in ${out}\n`);
  return 0;
}

runCommand('demo', main);
