import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ENV_OVERRIDES } from '../../src/config/config.loader.js';
import { createTestDatabase, TEST_ENGINE } from './store.js';

/** A collector (or other entry point) running as its own process, with what it printed. */
export interface Spawned {
  child: ChildProcess;
  stdout: () => string;
  stderr: () => string;
  /** Resolves with the exit code (or the signal's name) when the process ends. */
  exited: Promise<number | string>;
}

/**
 * Node's options for an entry point as package.json's script runs it: `npm start`'s own for the
 * collector (`--initial-old-space-size` among them, which every thread it starts inherits), tsx alone
 * for the others.
 */
function nodeOptions(entry: string): string[] {
  if (entry !== 'src/main.ts') return ['--import', 'tsx'];
  const { scripts } = JSON.parse(readFileSync('package.json', 'utf8')) as { scripts: { start: string } };
  const words = scripts.start.split(/\s+/);
  return words.slice(1, words.indexOf(entry));
}

/** Starts `src/<entry>` with tsx, the way its npm script does, with the given environment added. */
export function spawnEntry(entry: string, args: string[], env: Record<string, string>): Spawned {
  const childEnv: NodeJS.ProcessEnv = { ...process.env };
  // Only what the test gives: none of the runner's own settings (PORT, DATABASE_URL, ...) may leak in,
  // and jest's --experimental-vm-modules is not for the child.
  for (const name of [
    'NODE_OPTIONS',
    'CONFIG',
    'TEST_DATABASE_URL',
    'SANDBOX_PORT',
    'SANDBOX_SEED',
    ...Object.keys(ENV_OVERRIDES),
  ]) {
    delete childEnv[name];
  }
  Object.assign(childEnv, env);
  const child = spawn(process.execPath, [...nodeOptions(entry), entry, ...args], {
    env: childEnv,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (err += chunk.toString()));
  const exited = new Promise<number | string>((resolve) =>
    child.on('exit', (code, signal) => resolve(code ?? signal ?? 'unknown')),
  );
  return { child, stdout: () => out, stderr: () => err, exited };
}

/** Waits until `text()` matches `pattern` (or the process ends, or `ms` pass) and returns the match. */
export async function waitFor(
  spawned: Spawned,
  pattern: RegExp,
  ms = 20_000,
  text: () => string = spawned.stdout,
): Promise<RegExpMatchArray> {
  const deadline = Date.now() + ms;
  let ended = false;
  void spawned.exited.then(() => (ended = true));
  for (;;) {
    const match = pattern.exec(text());
    if (match) return match;
    if (ended || Date.now() > deadline) {
      throw new Error(
        `no ${pattern} in output (ended: ${ended})\nstdout:\n${spawned.stdout()}\nstderr:\n${spawned.stderr()}`,
      );
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/**
 * The environment for a collector or command process with a store of its own: a new data directory,
 * and when the suite runs on PostgreSQL a new database (`drop` removes it). `env` is added.
 */
export async function processStore(
  prefix: string,
  env: Record<string, string> = {},
): Promise<{ env: Record<string, string>; drop: () => Promise<void> }> {
  const own = { DATA_DIR: mkdtempSync(path.join(tmpdir(), `${prefix}-`)), ...env };
  if (TEST_ENGINE !== 'postgres') return { env: own, drop: () => Promise.resolve() };
  const database = await createTestDatabase();
  return { env: { ...own, DATABASE_URL: database.url }, drop: database.drop };
}
