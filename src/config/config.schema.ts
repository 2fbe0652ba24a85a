import { Ajv, type ValidateFunction } from 'ajv';
import addFormatsModule from 'ajv-formats';

// ajv-formats is CommonJS; its default export arrives as the module object under NodeNext.
const addFormats = addFormatsModule as unknown as typeof addFormatsModule.default;

/**
 * JSON Schema of the configuration file (after environment overrides). Defaults live here so the file
 * only needs what differs. Unknown settings are rejected: a misspelt key must not be silently ignored.
 */
export const configSchema = {
  $id: 'https://booking-event-collector.nhs.example/schema/config.json',
  type: 'object',
  additionalProperties: false,
  properties: {
    $schema: { type: 'string' },
    port: { type: 'integer', minimum: 0, maximum: 65535, default: 8080 },
    host: { type: 'string', minLength: 1, default: '0.0.0.0' },
    databaseUrl: { type: 'string', pattern: '^postgres(ql)?://' },
    dataDir: { type: 'string', minLength: 1, default: './data' },
    logLevel: {
      enum: ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'],
      default: 'info',
    },
    timezone: { type: 'string', minLength: 1, default: 'Europe/London' },
    providers: {
      type: 'array',
      default: [],
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['id', 'baseUrl', 'dialect'],
        properties: {
          id: { type: 'string', pattern: '^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$' },
          name: { type: 'string', minLength: 1 },
          baseUrl: { type: 'string', format: 'uri', pattern: '^https?://' },
          dialect: { enum: ['stu3', 'bars', 'gpconnect'] },
          odsCode: { type: 'string', pattern: '^[A-Z0-9]{3,10}$' },
          region: { type: 'string', minLength: 1 },
          dosServiceIds: {
            type: 'array',
            items: { type: 'string', pattern: '^[0-9]{1,20}$' },
            uniqueItems: true,
            default: [],
          },
          timeouts: {
            type: 'object',
            additionalProperties: false,
            default: {},
            properties: {
              connectMs: { type: 'integer', minimum: 1, default: 2000 },
              responseMs: { type: 'integer', minimum: 1, default: 30000 },
            },
          },
          captureFullBodies: { type: 'boolean', default: false },
        },
      },
    },
    tokens: {
      type: 'array',
      default: [],
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['name', 'token', 'roles'],
        properties: {
          name: { type: 'string', pattern: '^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$' },
          // RFC 6750 b64token: the characters a Bearer header can carry.
          token: { type: 'string', minLength: 16, pattern: '^[A-Za-z0-9._~+/=-]+$' },
          roles: {
            type: 'array',
            minItems: 1,
            uniqueItems: true,
            items: { enum: ['ingest', 'report', 'inspect', 'admin'] },
          },
        },
      },
    },
    redaction: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: {
        birthDateAsYear: { type: 'boolean', default: true },
        maxBodyBytes: { type: 'integer', minimum: 0, default: 1048576 },
      },
    },
    hashSecret: { type: 'string', minLength: 32 },
    tables: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: {
        dispositions: { type: 'string', minLength: 1 },
        bankHolidays: { type: 'string', minLength: 1 },
        population: { type: 'string', minLength: 1 },
      },
    },
    episodes: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: {
        windowMinutes: { type: 'integer', minimum: 1, maximum: 10080, default: 720 },
        encounterWindowMinutes: { type: 'integer', minimum: 1, maximum: 1440, default: 60 },
        maxEvents: { type: 'integer', minimum: 10, default: 2000 },
      },
    },
    reports: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: {
        rollupIntervalSeconds: { type: 'integer', minimum: 0, maximum: 86400, default: 60 },
      },
    },
    retention: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: {
        exchangeDays: { type: 'integer', minimum: 0, maximum: 36500, default: 30 },
        auditDays: { type: 'integer', minimum: 0, maximum: 36500, default: 730 },
        intervalMinutes: { type: 'integer', minimum: 0, maximum: 10080, default: 60 },
      },
    },
    ingest: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: {
        maxBatch: { type: 'integer', minimum: 1, maximum: 10000, default: 500 },
        maxBodyBytes: { type: 'integer', minimum: 1024, default: 1048576 },
        lateAfterMinutes: { type: 'integer', minimum: 1, default: 60 },
        maxFutureSeconds: { type: 'integer', minimum: 0, default: 300 },
        rateLimit: {
          type: 'object',
          additionalProperties: false,
          default: {},
          properties: {
            perSecond: { type: 'number', exclusiveMinimum: 0, default: 20 },
            burst: { type: 'integer', minimum: 1, default: 100 },
          },
        },
      },
    },
    shutdownGraceMs: { type: 'integer', minimum: 0, default: 10000 },
    shutdownDrainMs: { type: 'integer', minimum: 0, default: 0 },
    sandbox: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: {
        mount: { enum: ['auto', true, false], default: 'auto' },
        seed: { type: 'integer', minimum: 0, default: 111 },
        days: { type: 'integer', minimum: 1, maximum: 60, default: 7 },
        prebookedShare: { type: 'number', minimum: 0, maximum: 1, default: 0.25 },
        stu3SlotConflictStatus: { enum: [409, 422], default: 422 },
        faults: {
          type: 'array',
          default: [],
          items: {
            type: 'object',
            additionalProperties: false,
            required: ['fault'],
            properties: {
              dialect: { enum: ['stu3', 'bars', 'gpconnect'] },
              interaction: {
                enum: [
                  'capability',
                  'slot-search',
                  'book',
                  'cancel',
                  'update',
                  'read',
                  'list',
                  'referral',
                  'patient-search',
                ],
              },
              probability: { type: 'number', minimum: 0, maximum: 1, default: 1 },
              fault: { type: 'string', minLength: 1 },
            },
          },
        },
      },
    },
  },
} as const;

const ajv = new Ajv({ allErrors: true, useDefaults: true, coerceTypes: true, strict: true, verbose: true });
addFormats(ajv, ['uri']);

/** The compiled validator; it fills in defaults as it checks. */
export const validateConfig: ValidateFunction = ajv.compile(configSchema);
