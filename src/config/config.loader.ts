import { existsSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { parse as parseYaml } from 'yaml';
import { parseFault } from '../sandbox/faults.js';
import { ConfigError, formatSchemaErrors } from './config-error.js';
import { validateConfig } from './config.schema.js';
import type { Config } from './config.types.js';

/** Environment variables that override single settings, and the setting each one sets. */
export const ENV_OVERRIDES = {
  PORT: 'port',
  HOST: 'host',
  DATABASE_URL: 'databaseUrl',
  DATA_DIR: 'dataDir',
  LOG_LEVEL: 'logLevel',
  REPORT_TIMEZONE: 'timezone',
  HASH_SECRET: 'hashSecret',
} as const;

type Env = Record<string, string | undefined>;

export interface LoadConfigOptions {
  argv?: string[];
  env?: Env;
  cwd?: string;
}

/** The config file named by `--config FILE` (or `--config=FILE`), else by `CONFIG`; undefined when neither. */
export function configPathFrom(argv: string[], env: Env): string | undefined {
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const named =
      arg === '--config' ? (argv[i + 1] ?? '') : arg.startsWith('--config=') ? arg.slice(9) : null;
    if (named === null) continue;
    if (!named || named.startsWith('--')) {
      throw new ConfigError('the command line', [
        '--config: missing; expected the path of a configuration file',
      ]);
    }
    return named;
  }
  return env.CONFIG || undefined;
}

function readConfigFile(file: string): unknown {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    throw new ConfigError(file, [`the file cannot be read (${(error as NodeJS.ErrnoException).code})`]);
  }
  try {
    return parseYaml(text) ?? {};
  } catch (error) {
    throw new ConfigError(file, [`the file is neither valid YAML nor JSON: ${(error as Error).message}`]);
  }
}

/**
 * Replaces `${NAME}` in string values with the environment variable, so secrets can stay out of the
 * file. A missing variable is a problem naming the setting.
 */
function interpolate(value: unknown, env: Env, at: string, problems: string[]): unknown {
  if (typeof value === 'string') {
    return value.replace(/\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g, (_match, name: string) => {
      const found = env[name];
      if (found === undefined)
        problems.push(`${at}: refers to environment variable ${name}, which is not set`);
      return found ?? '';
    });
  }
  if (Array.isArray(value)) return value.map((item, i) => interpolate(item, env, `${at}[${i}]`, problems));
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(
      Object.entries(value).map(([key, item]) => [
        key,
        interpolate(item, env, at ? `${at}.${key}` : key, problems),
      ]),
    );
  }
  return value;
}

function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object') {
    for (const item of Object.values(value)) deepFreeze(item);
    Object.freeze(value);
  }
  return value;
}

function isValidTimezone(timezone: string): boolean {
  try {
    new Intl.DateTimeFormat('en-GB', { timeZone: timezone });
    return true;
  } catch {
    return false;
  }
}

/**
 * The access audit must outlive the data it records (issue 8): kept forever, or for more days than
 * exchanges, which then must not be kept forever themselves.
 */
function checkRetention(retention: Config['retention']): string[] {
  const { exchangeDays, auditDays } = retention;
  if (auditDays === 0) return [];
  if (exchangeDays === 0) {
    return [
      `retention.auditDays: found ${auditDays}; expected 0 (kept forever) while retention.exchangeDays is 0 (exchanges kept forever): the access audit is kept longer than the data`,
    ];
  }
  if (auditDays <= exchangeDays) {
    return [
      `retention.auditDays: found ${auditDays}; expected 0 (kept forever) or more than retention.exchangeDays (${exchangeDays}): the access audit is kept longer than the data`,
    ];
  }
  return [];
}

/**
 * Rules that a schema cannot say: uniqueness across providers and tokens, retention periods in order,
 * real time zones, real files.
 */
function checkConsistency(config: Config, baseDir: string): string[] {
  const problems: string[] = [];
  const seenIds = new Map<string, number>();
  const seenServices = new Map<string, string>();
  config.providers.forEach((provider, i) => {
    const earlier = seenIds.get(provider.id);
    if (earlier !== undefined) {
      problems.push(
        `providers[${i}].id: found "${provider.id}"; expected an id not already used by providers[${earlier}]`,
      );
    }
    seenIds.set(provider.id, i);
    for (const serviceId of provider.dosServiceIds) {
      const owner = seenServices.get(serviceId);
      if (owner !== undefined && owner !== provider.id) {
        problems.push(
          `providers[${i}].dosServiceIds: found "${serviceId}"; expected a DoS service id not already served by provider "${owner}"`,
        );
      }
      seenServices.set(serviceId, provider.id);
    }
  });
  const seenNames = new Set<string>();
  const seenTokens = new Set<string>();
  config.tokens.forEach((token, i) => {
    if (seenNames.has(token.name)) {
      problems.push(
        `tokens[${i}].name: found "${token.name}"; expected a name not already used by another token`,
      );
    }
    if (seenTokens.has(token.token)) {
      problems.push(`tokens[${i}].token: found a value another token already has; expected a unique token`);
    }
    seenNames.add(token.name);
    seenTokens.add(token.token);
  });
  config.sandbox.faults.forEach((rule, i) => {
    try {
      parseFault(rule.fault, Math.random);
    } catch (error) {
      problems.push(
        `sandbox.faults[${i}].fault: found "${rule.fault}"; expected fault directives (${(error as Error).message})`,
      );
    }
  });
  problems.push(...checkRetention(config.retention));
  if (!isValidTimezone(config.timezone)) {
    problems.push(`timezone: found "${config.timezone}"; expected an IANA time zone such as "Europe/London"`);
  }
  for (const [table, file] of Object.entries(config.tables)) {
    const resolved = path.resolve(baseDir, file as string);
    if (!existsSync(resolved) || !statSync(resolved).isFile()) {
      problems.push(
        `tables.${table}: found "${file as string}"; expected a readable file (looked at ${resolved})`,
      );
    }
  }
  return problems;
}

/**
 * Builds the one configuration object from the file (if any), `${VAR}` references and the environment
 * overrides, validates it and freezes it. Throws `ConfigError` naming every bad setting.
 */
export function loadConfig(options: LoadConfigOptions = {}): Config {
  const env = options.env ?? {};
  const cwd = options.cwd ?? process.cwd();
  const file = configPathFrom(options.argv ?? [], env);
  const filePath = file ? path.resolve(cwd, file) : undefined;
  const source = filePath ?? 'built-in defaults';
  const problems: string[] = [];

  const fromFile = filePath ? readConfigFile(filePath) : {};
  if (typeof fromFile !== 'object' || fromFile === null || Array.isArray(fromFile)) {
    throw new ConfigError(source, ['the file must hold an object of settings at its top level']);
  }
  const raw = interpolate(fromFile, env, '', problems) as Record<string, unknown>;

  const overridden = new Map<string, string>();
  for (const [variable, setting] of Object.entries(ENV_OVERRIDES)) {
    const value = env[variable];
    if (value === undefined || value === '') continue;
    raw[setting] = value; // typed by the schema: ajv coerces "8080" to 8080
    overridden.set(setting, variable);
  }
  const describeSource = (name: string): string =>
    overridden.has(name) ? `${name} (from environment variable ${overridden.get(name)})` : name;

  if (!validateConfig(raw)) {
    problems.push(...formatSchemaErrors(validateConfig.errors ?? [], describeSource));
  }
  if (problems.length > 0) throw new ConfigError(source, problems);

  const baseDir = filePath ? path.dirname(filePath) : cwd;
  const config = raw as unknown as Config;
  config.dataDir = path.resolve(cwd, config.dataDir);
  for (const provider of config.providers) {
    provider.baseUrl = provider.baseUrl.replace(/\/+$/, '');
    provider.name ??= provider.id;
  }
  const consistency = checkConsistency(config, baseDir);
  if (consistency.length > 0) throw new ConfigError(source, consistency);
  for (const key of Object.keys(config.tables) as (keyof Config['tables'])[]) {
    config.tables[key] = path.resolve(baseDir, config.tables[key]!);
  }
  delete (config as { $schema?: string }).$schema;
  config.source = source;
  return deepFreeze(config);
}
