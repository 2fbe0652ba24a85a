import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import addFormatsModule from 'ajv-formats';

// ajv-formats is CommonJS; its default export arrives as the module object under NodeNext.
const addFormats = addFormatsModule as unknown as typeof addFormatsModule.default;

/*
 * The JSON Schemas of the events consumers post to `POST /api/events` (DESIGN.md: ingest API), compiled
 * once. Unknown fields are refused everywhere (`additionalProperties: false`): a misspelt field is an
 * error, never silently dropped. Published under fhir-profiles/ by `npm run schemas`.
 */

const SCHEMA_BASE = 'https://booking-event-collector.nhs.example/schemas';

/** The event types the ingest API takes. */
export const INGEST_TYPES = ['referral.made', 'service.selected', 'consumer.error'] as const;
export type IngestType = (typeof INGEST_TYPES)[number];

const instant = {
  type: 'string',
  format: 'date-time',
  description: 'an instant with its offset, e.g. 2026-11-22T10:15:00Z or 2026-11-22T10:15:00+00:00',
} as const;

const dxCode = {
  type: 'string',
  pattern: '^[Dd][Xx][0-9A-Za-z]{1,8}$',
  description: 'a Pathways disposition code (Dx02, DX02, Dx0122: matched without regard to case)',
} as const;

const serviceId = {
  type: 'string',
  pattern: '^[A-Za-z0-9._-]{1,64}$',
  description: 'a Directory of Services service id',
} as const;

const shortText = (maxLength: number, description: string) =>
  ({ type: 'string', minLength: 1, maxLength, description }) as const;

/** Keys that join an event with the wire's: at least the ones the consumer has. */
const correlation = {
  type: 'object',
  additionalProperties: false,
  description: 'the keys that tie the event to the call and the patient (any the consumer has)',
  properties: {
    traceId: shortText(200, 'the Ssp-TraceID of the call'),
    correlationId: shortText(200, 'the BaRS X-Correlation-Id'),
    caseId: shortText(200, 'the 111 case id (Encounter.identifier)'),
    documentId: shortText(200, 'the id of the 111 CDA document'),
    nhsNumber: {
      type: 'string',
      pattern: '^[0-9]{3}[ -]?[0-9]{3}[ -]?[0-9]{4}$',
      description: "the patient's NHS number: hashed on arrival, never stored",
    },
  },
} as const;

/** The fields every event has. */
const common = {
  id: {
    type: 'string',
    pattern: '^[\\x21-\\x7e]{1,128}$',
    description: "the client's own id for the event: a retry with the same id is counted once",
  },
  occurredAt: { ...instant, description: 'when it happened' },
  correlation,
  consumerOrg: {
    type: 'string',
    pattern: '^(?=.*[A-Za-z])[A-Za-z0-9]{3,10}$',
    description: "the 111 service's ODS code (letters and digits, at least one letter)",
  },
} as const;

const referralMade = {
  $id: `${SCHEMA_BASE}/ingest-referral-made.schema.json`,
  title: 'referral.made',
  description:
    'A referral a 111 call handler made (STU3 Booking Standard, GP Connect: the disposition travels off the wire).',
  type: 'object',
  additionalProperties: false,
  required: ['id', 'type', 'occurredAt', 'correlation', 'disposition', 'referredTo'],
  properties: {
    ...common,
    // A referral joins the call and the bookings by these: at least one is needed.
    correlation: { ...correlation, minProperties: 1 },
    type: { const: 'referral.made' },
    disposition: {
      type: 'object',
      additionalProperties: false,
      required: ['code', 'at'],
      properties: { code: dxCode, at: { ...instant, description: 'when the disposition was reached' } },
    },
    deadline: { ...instant, description: 'the time by which the patient must be seen, when known' },
    referredTo: {
      type: 'object',
      additionalProperties: false,
      required: ['serviceId'],
      properties: {
        serviceId,
        providerId: shortText(64, "the collector's provider id, when the service is one of them"),
      },
    },
  },
} as const;

const serviceSelected = {
  $id: `${SCHEMA_BASE}/ingest-service-selected.schema.json`,
  title: 'service.selected',
  description: "The Directory of Services' ranked list shown to the call handler, and the entry chosen.",
  type: 'object',
  additionalProperties: false,
  required: ['id', 'type', 'occurredAt', 'disposition', 'ranked', 'chosenServiceId'],
  properties: {
    ...common,
    type: { const: 'service.selected' },
    disposition: {
      type: 'object',
      additionalProperties: false,
      required: ['code'],
      properties: { code: dxCode, at: instant },
    },
    ranked: {
      type: 'array',
      minItems: 1,
      maxItems: 100,
      description: 'the services in the order shown, first-ranked first',
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['serviceId', 'bookable'],
        properties: {
          serviceId,
          bookable: { type: 'boolean', description: 'whether the service took bookings' },
        },
      },
    },
    chosenServiceId: { ...serviceId, description: 'the service chosen: one of `ranked`' },
  },
} as const;

const consumerError = {
  $id: `${SCHEMA_BASE}/ingest-consumer-error.schema.json`,
  title: 'consumer.error',
  description: "An error the call handler's own screen showed.",
  type: 'object',
  additionalProperties: false,
  required: ['id', 'type', 'occurredAt', 'where', 'message'],
  properties: {
    ...common,
    type: { const: 'consumer.error' },
    where: {
      enum: ['slot-search', 'booking', 'cancellation', 'referral', 'directory', 'other'],
      description: 'the step the handler was at',
    },
    message: shortText(500, 'what the screen said (NHS numbers in it are hashed; never put names in it)'),
    code: shortText(100, "the consumer system's own error code"),
    providerId: shortText(64, "the collector's provider id involved, when there is one"),
    serviceId,
  },
} as const;

/** Each type's schema, as published. */
export const INGEST_SCHEMAS: Record<IngestType, object> = {
  'referral.made': referralMade,
  'service.selected': serviceSelected,
  'consumer.error': consumerError,
};

const ajv = new Ajv({ allErrors: true, strict: true });
addFormats(ajv, ['date-time']);
const validators = Object.fromEntries(
  Object.entries(INGEST_SCHEMAS).map(([type, schema]) => [type, ajv.compile(schema)]),
) as Record<IngestType, ValidateFunction>;

/** A problem with one posted event: where (a path such as `events[2].disposition.code`) and what. */
export interface IngestProblem {
  path: string;
  message: string;
}

/** `events[2]` + `/disposition/code` → `events[2].disposition.code`. */
export function joinPath(base: string, pointer: string, child?: string): string {
  const parts = pointer
    .split('/')
    .slice(1)
    .map((p) => p.replace(/~1/g, '/').replace(/~0/g, '~'));
  if (child !== undefined) parts.push(child);
  return parts.reduce(
    (path, part) => (/^\d+$/.test(part) ? `${path}[${part}]` : path ? `${path}.${part}` : part),
    base,
  );
}

function problemOf(base: string, error: ErrorObject): IngestProblem {
  switch (error.keyword) {
    case 'required': {
      const missing = (error.params as { missingProperty: string }).missingProperty;
      return { path: joinPath(base, error.instancePath, missing), message: 'is required' };
    }
    case 'additionalProperties': {
      const extra = (error.params as { additionalProperty: string }).additionalProperty;
      return { path: joinPath(base, error.instancePath, extra), message: 'is not a known field' };
    }
    case 'minProperties':
      return {
        path: joinPath(base, error.instancePath),
        message: 'must hold at least one key (traceId, correlationId, caseId, documentId or nhsNumber)',
      };
    case 'format':
      return {
        path: joinPath(base, error.instancePath),
        message: 'must be an instant with a time zone offset (e.g. 2026-11-22T10:15:00Z)',
      };
    case 'pattern': {
      const description = (error.parentSchema as { description?: string } | undefined)?.description;
      return {
        path: joinPath(base, error.instancePath),
        message: `must be ${description ?? `a string matching ${String(error.params.pattern)}`}`,
      };
    }
    default:
      return { path: joinPath(base, error.instancePath), message: error.message ?? 'is not valid' };
  }
}

/**
 * The schema problems of one posted event, with paths under `base` (`events[2]`, or `` for a single
 * event). Values are never echoed: an NHS number must not travel back in an error.
 */
export function schemaProblems(event: unknown, base: string): IngestProblem[] {
  if (typeof event !== 'object' || event === null || Array.isArray(event))
    return [{ path: base || '(body)', message: 'must be an object' }];
  const type = (event as { type?: unknown }).type;
  if (!INGEST_TYPES.includes(type as IngestType)) {
    return [
      {
        path: joinPath(base, '', 'type'),
        message: `must be one of ${INGEST_TYPES.map((t) => `"${t}"`).join(', ')}`,
      },
    ];
  }
  const validate = validators[type as IngestType];
  if (validate(event)) return [];
  const seen = new Set<string>();
  return (validate.errors ?? [])
    .map((e) => problemOf(base, e))
    .filter((p) => {
      const key = `${p.path}|${p.message}`;
      if (seen.has(key)) return false;
      seen.add(key);
      return true;
    });
}
