import { ConfigError } from './config/config-error.js';
import { loadConfig } from './config/config.loader.js';
import { TableError } from './derive/dispositions.js';
import { loadDerivationTables } from './derive/tables.js';
import { createLogger } from './logger.js';
import { startCollector } from './server.js';

/** Exit status for a configuration that cannot be used (sysexits EX_CONFIG). */
const EX_CONFIG = 78;

async function main(): Promise<void> {
  let config;
  try {
    config = loadConfig({ argv: process.argv.slice(2), env: process.env });
    // A table derivation cannot read stops start-up as a bad setting does (the worker reads it too).
    loadDerivationTables(config.tables);
  } catch (error) {
    if (error instanceof ConfigError || error instanceof TableError) {
      process.stderr.write(`${error.message}\n`);
      process.exit(EX_CONFIG);
    }
    throw error;
  }
  const logger = createLogger(config);
  const collector = await startCollector({ config, logger });
  let signals = 0;
  const onSignal = (signal: NodeJS.Signals): void => {
    signals += 1;
    if (signals > 1) {
      logger.warn({ signal }, 'second signal, exiting at once');
      process.exit(1);
    }
    logger.info({ signal }, 'signal received');
    collector.stop().then(
      () => process.exit(0),
      (error: unknown) => {
        logger.error({ err: error }, 'error while stopping');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
}

main().catch((error: unknown) => {
  process.stderr.write(`The collector could not start: ${(error as Error).message}\n`);
  process.exit(1);
});
