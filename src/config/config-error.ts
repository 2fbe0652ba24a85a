import type { ErrorObject } from 'ajv';

/** A configuration that cannot be used; `problems` name each setting, what was found and what is expected. */
export class ConfigError extends Error {
  readonly problems: string[];

  constructor(source: string, problems: string[]) {
    super(`Configuration from ${source} is invalid:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
    this.problems = problems;
  }
}

const SECRET_SETTINGS = /(^|\.)(token|hashSecret|databaseUrl)$/;

interface SchemaLike {
  type?: string;
  enum?: readonly unknown[];
  format?: string;
  pattern?: string;
  minimum?: number;
  maximum?: number;
  minLength?: number;
  minItems?: number;
  uniqueItems?: boolean;
  items?: SchemaLike;
  properties?: Record<string, SchemaLike>;
}

/** Turns an ajv instance path (`/providers/0/dialect`) into the setting's name (`providers[0].dialect`). */
export function settingName(instancePath: string, child?: string): string {
  const parts = instancePath.split('/').slice(1);
  if (child !== undefined) parts.push(child);
  return parts
    .map((part) => part.replace(/~1/g, '/').replace(/~0/g, '~'))
    .reduce((name, part) => (/^\d+$/.test(part) ? `${name}[${part}]` : name ? `${name}.${part}` : part), '');
}

/** Says in words what a schema accepts. */
export function describeExpected(schema: SchemaLike | undefined): string {
  if (!schema) return 'a valid value';
  if (schema.enum) return `one of ${schema.enum.map((v) => JSON.stringify(v)).join(', ')}`;
  switch (schema.type) {
    case 'integer': {
      const range =
        schema.minimum !== undefined && schema.maximum !== undefined
          ? ` from ${schema.minimum} to ${schema.maximum}`
          : schema.minimum !== undefined
            ? ` of at least ${schema.minimum}`
            : '';
      return `an integer${range}`;
    }
    case 'boolean':
      return 'true or false';
    case 'array': {
      const min = schema.minItems ? ` with at least ${schema.minItems} item(s)` : '';
      const unique = schema.uniqueItems ? ', without repeats' : '';
      return `a list${min}${unique} of ${describeExpected(schema.items)}`;
    }
    case 'object':
      return `an object with settings ${Object.keys(schema.properties ?? {}).join(', ')}`;
    case 'string': {
      if (schema.format === 'uri' || schema.pattern === '^https?://') return 'an http:// or https:// URL';
      if (schema.pattern === '^postgres(ql)?://') return 'a postgres:// connection URL';
      if (schema.pattern === '^[A-Za-z0-9._~+/=-]+$') {
        return `a string of at least ${schema.minLength} character(s) of letters, digits and . _ ~ + / = -`;
      }
      if (schema.pattern) return `a string matching /${schema.pattern}/`;
      if (schema.minLength) return `a string of at least ${schema.minLength} character(s)`;
      return 'a string';
    }
    default:
      return 'a valid value';
  }
}

function showFound(name: string, value: unknown): string {
  if (SECRET_SETTINGS.test(name)) return '(a value, hidden because it is secret)';
  const kind = Array.isArray(value) ? 'list' : value === null ? 'null' : typeof value;
  const shown = JSON.stringify(value);
  const text = shown === undefined ? String(value) : shown.length > 80 ? `${shown.slice(0, 77)}...` : shown;
  return kind === 'object' || kind === 'list' ? `a ${kind}` : `${text} (${kind})`;
}

/**
 * One line per setting from ajv's errors: the setting, what was found and what is expected. Several
 * errors on one setting (a URL that fails both format and pattern) become one line.
 */
export function formatSchemaErrors(
  errors: ErrorObject[],
  describeSource: (name: string) => string,
): string[] {
  const lines = new Map<string, string>();
  for (const error of errors) {
    const parent = error.parentSchema as SchemaLike | undefined;
    let name: string;
    let line: string;
    if (error.keyword === 'required') {
      const missing = (error.params as { missingProperty: string }).missingProperty;
      name = settingName(error.instancePath, missing);
      line = `missing; expected ${describeExpected(parent?.properties?.[missing])}`;
    } else if (error.keyword === 'additionalProperties') {
      const extra = (error.params as { additionalProperty: string }).additionalProperty;
      name = settingName(error.instancePath, extra);
      line = `unknown setting; expected one of ${Object.keys(parent?.properties ?? {})
        .filter((key) => key !== '$schema')
        .join(', ')}`;
    } else {
      name = settingName(error.instancePath);
      line = `found ${showFound(name, error.data)}; expected ${describeExpected(parent)}`;
    }
    if (!lines.has(name)) lines.set(name, `${describeSource(name)}: ${line}`);
  }
  return [...lines.values()];
}
