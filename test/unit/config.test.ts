import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ConfigError } from '../../src/config/config-error.js';
import { configPathFrom, loadConfig } from '../../src/config/config.loader.js';

const dir = mkdtempSync(path.join(tmpdir(), 'collector-config-'));
let fileCount = 0;

function writeConfig(text: string, extension = 'yaml'): string {
  const file = path.join(dir, `config-${++fileCount}.${extension}`);
  writeFileSync(file, text);
  return file;
}

/** The problems a bad configuration produces (fails the test if it loads). */
function problemsOf(text: string, env: Record<string, string> = {}, extension = 'yaml'): string[] {
  const file = writeConfig(text, extension);
  try {
    loadConfig({ argv: ['--config', file], env });
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as ConfigError).problems;
  }
  throw new Error('the configuration loaded, but it should have been rejected');
}

const provider = (fields: string): string => `providers:\n  - ${fields.trim().split('\n').join('\n    ')}\n`;

describe('loadConfig', () => {
  it('gives working defaults when nothing is configured', () => {
    const config = loadConfig({ env: {}, cwd: '/srv/collector' });
    expect(config.port).toBe(8080);
    expect(config.host).toBe('0.0.0.0');
    expect(config.dataDir).toBe('/srv/collector/data');
    expect(config.databaseUrl).toBeUndefined();
    expect(config.timezone).toBe('Europe/London');
    expect(config.logLevel).toBe('info');
    expect(config.providers).toEqual([]);
    expect(config.tokens).toEqual([]);
    expect(config.redaction).toEqual({ birthDateAsYear: true, maxBodyBytes: 1048576 });
    expect(config.retention).toEqual({ exchangeDays: 30, auditDays: 730, intervalMinutes: 60 });
    expect(config.source).toBe('built-in defaults');
  });

  it('reads a YAML file named by --config and fills in provider defaults', () => {
    const file = writeConfig(
      [
        'port: 9090',
        provider(`
id: ed-north
baseUrl: https://ed.example.nhs.uk/fhir/STU3/
dialect: stu3
dosServiceIds: ['2000011147']`),
      ].join('\n'),
    );
    const config = loadConfig({ argv: ['--config', file], env: {} });
    expect(config.port).toBe(9090);
    expect(config.source).toBe(file);
    expect(config.providers).toEqual([
      {
        id: 'ed-north',
        name: 'ed-north',
        baseUrl: 'https://ed.example.nhs.uk/fhir/STU3',
        dialect: 'stu3',
        dosServiceIds: ['2000011147'],
        timeouts: { connectMs: 2000, responseMs: 30000 },
        captureFullBodies: false,
      },
    ]);
  });

  it('reads JSON too, named by the CONFIG variable or --config=FILE', () => {
    const file = writeConfig(JSON.stringify({ timezone: 'Europe/Paris' }), 'json');
    expect(loadConfig({ env: { CONFIG: file } }).timezone).toBe('Europe/Paris');
    expect(configPathFrom([`--config=${file}`], {})).toBe(file);
    expect(configPathFrom(['--config', 'a.yaml'], { CONFIG: 'b.yaml' })).toBe('a.yaml');
  });

  it('lets the environment override single settings', () => {
    const file = writeConfig('port: 9090\nlogLevel: debug\n');
    const config = loadConfig({
      argv: ['--config', file],
      env: {
        PORT: '7070',
        DATABASE_URL: 'postgres://collector@db:5432/collector',
        DATA_DIR: '/var/lib/collector',
        LOG_LEVEL: 'warn',
      },
    });
    expect(config.port).toBe(7070);
    expect(config.databaseUrl).toBe('postgres://collector@db:5432/collector');
    expect(config.dataDir).toBe('/var/lib/collector');
    expect(config.logLevel).toBe('warn');
  });

  it('replaces ${NAME} with environment variables, so secrets stay out of the file', () => {
    const file = writeConfig('tokens:\n  - { name: ops, token: "${OPS_TOKEN}", roles: [report] }\n');
    const config = loadConfig({ argv: ['--config', file], env: { OPS_TOKEN: 'a-long-enough-secret-token' } });
    expect(config.tokens[0]!.token).toBe('a-long-enough-secret-token');
  });

  it('types ${NAME} values by the setting: numbers and booleans too', () => {
    const file = writeConfig(
      'port: ${P}\nshutdownGraceMs: "${GRACE}"\nredaction:\n  birthDateAsYear: ${YEAR}\n',
    );
    const config = loadConfig({ argv: ['--config', file], env: { P: '9000', GRACE: '250', YEAR: 'false' } });
    expect([config.port, config.shutdownGraceMs, config.redaction.birthDateAsYear]).toEqual([
      9000,
      250,
      false,
    ]);
  });

  it('takes retention periods where the access audit outlives the exchanges, or is kept forever', () => {
    const retention = (text: string) =>
      loadConfig({ argv: ['--config', writeConfig(text)], env: {} }).retention;
    expect(retention('retention: { exchangeDays: 7, auditDays: 8, intervalMinutes: 0 }\n')).toEqual({
      exchangeDays: 7,
      auditDays: 8,
      intervalMinutes: 0,
    });
    expect(retention('retention: { exchangeDays: 0, auditDays: 0 }\n')).toEqual({
      exchangeDays: 0,
      auditDays: 0,
      intervalMinutes: 60,
    });
    expect(retention('retention: { exchangeDays: 90, auditDays: 0 }\n').auditDays).toBe(0);
  });

  it('returns a frozen object', () => {
    const config = loadConfig({ env: {} });
    expect(Object.isFrozen(config)).toBe(true);
    expect(Object.isFrozen(config.redaction)).toBe(true);
    expect(() => {
      (config as { port: number }).port = 1;
    }).toThrow(TypeError);
  });

  it('loads the committed example configuration', () => {
    const env = {
      COLLECTOR_INGEST_TOKEN: 'ingest-token-0123456789',
      COLLECTOR_REPORT_TOKEN: 'report-token-0123456789',
      COLLECTOR_INSPECT_TOKEN: 'inspect-token-0123456789',
      COLLECTOR_HASH_SECRET: 'hash-secret-0123456789-0123456789-0123456789',
    };
    const config = loadConfig({ argv: ['--config', 'examples/collector.yaml'], env });
    expect(config.providers.map((p) => [p.id, p.dialect])).toEqual([
      ['ed-north', 'stu3'],
      ['utc-east', 'bars'],
      ['gp-a81001', 'gpconnect'],
    ]);
    expect(config.tokens.map((t) => t.name)).toEqual([
      'nhs111-ingest',
      'commissioner-reports',
      'support-desk',
    ]);
  });
});

describe('loadConfig rejects a bad configuration, naming the setting, what was found and what is expected', () => {
  it('a value of the wrong type', () => {
    expect(problemsOf('port: "eighty"\n')).toEqual([
      'port: found "eighty" (string); expected an integer from 0 to 65535',
    ]);
  });

  it('an unknown provider dialect', () => {
    expect(problemsOf(provider('id: ed\nbaseUrl: https://ed.example.nhs.uk\ndialect: fhir4'))).toEqual([
      'providers[0].dialect: found "fhir4" (string); expected one of "stu3", "bars", "gpconnect"',
    ]);
  });

  it('a provider without a base URL', () => {
    expect(problemsOf(provider('id: ed\ndialect: bars'))).toEqual([
      'providers[0].baseUrl: missing; expected an http:// or https:// URL',
    ]);
  });

  it('a base URL that is not an http(s) URL', () => {
    expect(problemsOf(provider('id: ed\nbaseUrl: ftp://ed.example\ndialect: bars'))).toEqual([
      'providers[0].baseUrl: found "ftp://ed.example" (string); expected an http:// or https:// URL',
    ]);
  });

  it('a misspelt (unknown) setting', () => {
    const problems = problemsOf(
      provider('id: ed\nbaseUrl: https://ed.example\ndialect: bars\ndosServiceId: ["1"]'),
    );
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(
      /^providers\[0\]\.dosServiceId: unknown setting; expected one of id, name, baseUrl/,
    );
  });

  it('every problem at once, not just the first', () => {
    const problems = problemsOf('port: -1\nlogLevel: loud\n' + provider('id: ed\ndialect: x'));
    expect(problems.map((p) => p.split(':')[0])).toEqual(
      expect.arrayContaining(['port', 'logLevel', 'providers[0].baseUrl', 'providers[0].dialect']),
    );
    expect(problems).toHaveLength(4);
  });

  it('an environment override, naming the variable', () => {
    expect(problemsOf('{}\n', { PORT: 'http' })).toEqual([
      'port (from environment variable PORT): found "http" (string); expected an integer from 0 to 65535',
    ]);
  });

  it('a reference to an unset environment variable', () => {
    const problems = problemsOf('tokens:\n  - { name: ops, token: "${MISSING_TOKEN}", roles: [report] }\n');
    expect(problems).toContain(
      'tokens[0].token: refers to environment variable MISSING_TOKEN, which is not set',
    );
  });

  it('without ever printing a secret it found', () => {
    const problems = problemsOf('tokens:\n  - { name: ops, token: "short", roles: [report] }\n');
    expect(problems).toEqual([
      'tokens[0].token: found (a value, hidden because it is secret); expected a string of at least 16 character(s) of letters, digits and . _ ~ + / = -',
    ]);
    expect(problems.join()).not.toContain('short');
  });

  it('a token with characters a Bearer header cannot carry', () => {
    const problems = problemsOf(
      'tokens:\n  - { name: ops, token: "correct-horse!battery#staple", roles: [report] }\n',
    );
    expect(problems).toEqual([
      'tokens[0].token: found (a value, hidden because it is secret); expected a string of at least 16 character(s) of letters, digits and . _ ~ + / = -',
    ]);
  });

  it('--config without a file name', () => {
    expect(() => loadConfig({ argv: ['--config'], env: { CONFIG: 'also-ignored.yaml' } })).toThrow(
      '--config: missing; expected the path of a configuration file',
    );
    expect(() => loadConfig({ argv: ['--config=', '--other'], env: {} })).toThrow(/--config: missing/);
    expect(() => loadConfig({ argv: ['--config', '--port'], env: {} })).toThrow(/--config: missing/);
  });

  it('a token with an unknown role', () => {
    expect(problemsOf('tokens:\n  - { name: ops, token: "0123456789abcdef", roles: [superuser] }\n')).toEqual(
      [
        'tokens[0].roles[0]: found "superuser" (string); expected one of "ingest", "report", "inspect", "admin"',
      ],
    );
  });

  it('two providers with the same id, or one DoS service claimed by two providers', () => {
    const text = [
      'providers:',
      '  - { id: ed, baseUrl: "https://a.example", dialect: stu3, dosServiceIds: ["100"] }',
      '  - { id: ed, baseUrl: "https://b.example", dialect: bars, dosServiceIds: ["100"] }',
    ].join('\n');
    expect(problemsOf(text)).toEqual([
      'providers[1].id: found "ed"; expected an id not already used by providers[0]',
    ]);
    expect(problemsOf(text.replace('id: ed, baseUrl: "https://b', 'id: utc, baseUrl: "https://b'))).toEqual([
      'providers[1].dosServiceIds: found "100"; expected a DoS service id not already served by provider "ed"',
    ]);
  });

  it('an access audit kept no longer than the exchanges it records', () => {
    expect(problemsOf('retention: { exchangeDays: 30, auditDays: 30 }\n')).toEqual([
      'retention.auditDays: found 30; expected 0 (kept forever) or more than retention.exchangeDays (30): the access audit is kept longer than the data',
    ]);
    expect(problemsOf('retention: { exchangeDays: 800 }\n')).toEqual([
      'retention.auditDays: found 730; expected 0 (kept forever) or more than retention.exchangeDays (800): the access audit is kept longer than the data',
    ]);
    expect(problemsOf('retention: { exchangeDays: 0 }\n')).toEqual([
      'retention.auditDays: found 730; expected 0 (kept forever) while retention.exchangeDays is 0 (exchanges kept forever): the access audit is kept longer than the data',
    ]);
  });

  it('a retention that is not a whole number of days', () => {
    expect(problemsOf('retention: { exchangeDays: -1, intervalMinutes: 1.5 }\n')).toEqual([
      'retention.exchangeDays: found -1 (number); expected an integer from 0 to 36500',
      'retention.intervalMinutes: found 1.5 (number); expected an integer from 0 to 10080',
    ]);
  });

  it('a time zone that does not exist', () => {
    expect(problemsOf('timezone: Europe/Atlantis\n')).toEqual([
      'timezone: found "Europe/Atlantis"; expected an IANA time zone such as "Europe/London"',
    ]);
  });

  it('a table override that names no file', () => {
    const problems = problemsOf('tables:\n  dispositions: ./no-such-table.csv\n');
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(
      /^tables\.dispositions: found "\.\/no-such-table\.csv"; expected a readable file/,
    );
  });

  it('a file that is not YAML, or cannot be read', () => {
    expect(problemsOf('port: [8080\n')[0]).toMatch(/^the file is neither valid YAML nor JSON/);
    expect(() => loadConfig({ argv: ['--config', path.join(dir, 'absent.yaml')], env: {} })).toThrow(
      /cannot be read \(ENOENT\)/,
    );
    expect(problemsOf('- a\n- b\n')).toEqual(['the file must hold an object of settings at its top level']);
  });
});
