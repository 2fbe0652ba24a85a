import { createRequire } from 'node:module';
import type * as EsbuildModule from 'esbuild';
import { fileURLToPath } from 'node:url';
import { Worker, type ResourceLimits } from 'node:worker_threads';

const bundled = new Map<string, string>();

/**
 * A worker's module as one plain JavaScript source, for running from TypeScript sources (tsx, jest):
 * Node 20 applies no loader hooks inside worker threads, so its module graph is bundled once with
 * esbuild (which tsx already brings).
 */
function bundledSource(entry: URL): string {
  let source = bundled.get(entry.href);
  if (source === undefined) {
    const require = createRequire(import.meta.url);
    const esbuild = require('esbuild') as typeof EsbuildModule;
    const result = esbuild.buildSync({
      entryPoints: [fileURLToPath(entry)],
      bundle: true,
      platform: 'node',
      format: 'cjs',
      target: 'node20',
      write: false,
      logLevel: 'silent',
      // pg's optional native binding, never loaded here.
      external: ['pg-native'],
    });
    source = result.outputFiles[0]!.text;
    bundled.set(entry.href, source);
  }
  return source;
}

/**
 * Node options for a worker running bundled source: the process's own (inherited, as by default) unless
 * they hold `--input-type`, which applies to `-e` code, and would make the worker take its bundle for
 * an ES module too; then the same less that one. (Given explicitly, options must all be valid for a
 * worker, which V8's heap flags are not: they apply to every thread anyway.)
 */
function scriptExecArgv(): { execArgv?: string[] } {
  const inputType = (arg: string): boolean => arg === '--input-type' || arg.startsWith('--input-type=');
  if (!process.execArgv.some(inputType)) return {};
  const execArgv: string[] = [];
  for (let i = 0; i < process.execArgv.length; i++) {
    const arg = process.execArgv[i]!;
    if (arg === '--input-type') i += 1;
    else if (!inputType(arg)) execArgv.push(arg);
  }
  return { execArgv };
}

/**
 * Starts a worker thread on a module given by its TypeScript URL (`new URL('./x.ts', import.meta.url)`
 * in a source file): from sources it runs bundled; in the compiled build the module's `.js` beside it.
 */
export function startWorker(entry: URL, workerData: unknown, resourceLimits?: ResourceLimits): Worker {
  const options = { workerData, ...(resourceLimits ? { resourceLimits } : {}) };
  if (import.meta.url.endsWith('.ts'))
    return new Worker(bundledSource(entry), { eval: true, ...scriptExecArgv(), ...options });
  return new Worker(new URL(entry.href.replace(/\.ts$/, '.js')), options);
}
