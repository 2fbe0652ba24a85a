import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { systemClock } from '../clock.js';
import { ConfigError } from '../config/config-error.js';
import { loadConfig } from '../config/config.loader.js';
import type { SandboxConfig } from '../config/config.types.js';
import { createSandboxApp, SANDBOX_DIALECT_PATHS } from './sandbox.app.js';

/**
 * `npm run sandbox`: the Slot Provider simulator alone. `--port N` (or SANDBOX_PORT, default 9090),
 * `--seed N` (or SANDBOX_SEED), `--days N`; other settings from the `sandbox` section of the config file.
 */
function option(argv: string[], name: string): string | undefined {
  const i = argv.indexOf(`--${name}`);
  if (i >= 0) return argv[i + 1];
  return argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);
}

function integer(name: string, value: string | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  if (!/^\d+$/.test(value)) {
    process.stderr.write(`--${name}: found "${value}"; expected a whole number\n`);
    process.exit(78);
  }
  return Number(value);
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  let settings: SandboxConfig;
  try {
    settings = { ...loadConfig({ argv, env: process.env }).sandbox };
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`${error.message}\n`);
      process.exit(78);
    }
    throw error;
  }
  const port = integer('port', option(argv, 'port') ?? process.env.SANDBOX_PORT, 9090);
  settings.seed = integer('seed', option(argv, 'seed') ?? process.env.SANDBOX_SEED, settings.seed);
  settings.days = integer('days', option(argv, 'days'), settings.days);
  const { app, diary } = createSandboxApp(settings, systemClock);
  const server = createServer(app);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '0.0.0.0', resolve);
  });
  const url = `http://localhost:${(server.address() as AddressInfo).port}`;
  const lines = [
    `Sandbox Slot Provider listening on ${url} (seed ${settings.seed}, ${settings.days} days of slots)`,
  ];
  for (const [dialect, path] of Object.entries(SANDBOX_DIALECT_PATHS)) {
    const services = diary.services(dialect as keyof typeof SANDBOX_DIALECT_PATHS);
    lines.push(`  ${dialect.padEnd(10)} ${url}${path}   services ${services.map((s) => s.id).join(', ')}`);
  }
  lines.push(`  faults     header X-Sandbox-Fault, e.g. "latency=200;status=503" (README, Sandbox)`);
  process.stdout.write(`${lines.join('\n')}\n`);
  const stop = (): void => {
    server.close(() => process.exit(0));
    server.closeAllConnections();
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

main().catch((error: unknown) => {
  process.stderr.write(`The sandbox could not start: ${(error as Error).message}\n`);
  process.exit(1);
});
