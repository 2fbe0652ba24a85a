import { createPatientHasher } from '../../src/privacy/patient-hash.js';
import { INGEST_SCHEMAS } from '../../src/ingest/ingest.schema.js';
import { prepareEvents, type IngestLimits } from '../../src/ingest/prepare.js';

/* Every rule of the ingest schemas (and the checks beside them): a bad value, and the path named. */

const hash = createPatientHasher('test-hash-secret-0123456789-0123456789');
const limits: IngestLimits = {
  now: new Date('2026-11-22T10:00:00Z'),
  maxFutureSeconds: 300,
  lateAfterMinutes: 60,
  providers: [{ id: 'ed', dosServiceIds: ['2000011147'] }],
};

const VALID = {
  'referral.made': {
    id: 'r-1',
    type: 'referral.made',
    occurredAt: '2026-11-22T09:50:00Z',
    correlation: {
      traceId: 't',
      correlationId: 'c',
      caseId: 'k',
      documentId: 'd',
      nhsNumber: '943 476 5919',
    },
    consumerOrg: 'NHS111',
    disposition: { code: 'Dx02', at: '2026-11-22T09:48:00+00:00' },
    deadline: '2026-11-22T10:48:00Z',
    referredTo: { serviceId: '2000011147', providerId: 'ed' },
  },
  'service.selected': {
    id: 's-1',
    type: 'service.selected',
    occurredAt: '2026-11-22T09:49:00Z',
    disposition: { code: 'Dx03', at: '2026-11-22T09:48:00Z' },
    ranked: [
      { serviceId: '111', bookable: true },
      { serviceId: '222', bookable: false },
    ],
    chosenServiceId: '222',
  },
  'consumer.error': {
    id: 'e-1',
    type: 'consumer.error',
    occurredAt: '2026-11-22T09:51:00Z',
    where: 'booking',
    message: 'The slot is no longer available',
    code: 'E1',
    consumerOrg: 'NHS111',
    providerId: 'ed',
    serviceId: '111',
  },
} as const;

type Mutation = [string, keyof typeof VALID, (event: any) => void, string];

const without = (field: string) => (event: any) => delete event[field];

const RULES: Mutation[] = [
  // Every type: the envelope.
  ['id missing', 'referral.made', without('id'), 'id'],
  ['id with a space', 'service.selected', (e) => (e.id = 'a b'), 'id'],
  ['id too long', 'consumer.error', (e) => (e.id = 'x'.repeat(129)), 'id'],
  ['type unknown', 'referral.made', (e) => (e.type = 'referral.sent'), 'type'],
  ['occurredAt missing', 'service.selected', without('occurredAt'), 'occurredAt'],
  [
    'occurredAt without an offset',
    'referral.made',
    (e) => (e.occurredAt = '2026-11-22T09:50:00'),
    'occurredAt',
  ],
  ['occurredAt not a date', 'consumer.error', (e) => (e.occurredAt = 'yesterday'), 'occurredAt'],
  [
    'occurredAt too far ahead',
    'consumer.error',
    (e) => (e.occurredAt = '2026-11-22T10:06:00Z'),
    'occurredAt',
  ],
  ['an unknown field', 'referral.made', (e) => (e.patientName = 'x'), 'patientName'],
  ['an unknown correlation key', 'referral.made', (e) => (e.correlation.ubrn = 'x'), 'correlation.ubrn'],
  ['correlation not an object', 'service.selected', (e) => (e.correlation = 'k'), 'correlation'],
  ['an empty trace id', 'referral.made', (e) => (e.correlation.traceId = ''), 'correlation.traceId'],
  [
    'a case id too long',
    'referral.made',
    (e) => (e.correlation.caseId = 'k'.repeat(201)),
    'correlation.caseId',
  ],
  [
    'an NHS number of nine digits',
    'referral.made',
    (e) => (e.correlation.nhsNumber = '943476591'),
    'correlation.nhsNumber',
  ],
  [
    'an NHS number with a wrong check digit',
    'referral.made',
    (e) => (e.correlation.nhsNumber = '9434765918'),
    'correlation.nhsNumber',
  ],
  ['an ODS code with a dash', 'consumer.error', (e) => (e.consumerOrg = 'NHS-111'), 'consumerOrg'],
  [
    'an ODS code of digits only (an NHS number, say)',
    'consumer.error',
    (e) => (e.consumerOrg = '9434765919'),
    'consumerOrg',
  ],
  [
    'a leap second, which is no instant here',
    'service.selected',
    (e) => (e.occurredAt = '2026-11-22T09:59:60Z'),
    'occurredAt',
  ],
  ['a provider not configured', 'consumer.error', (e) => (e.providerId = 'nowhere'), 'providerId'],
  // referral.made
  ['correlation missing from a referral', 'referral.made', without('correlation'), 'correlation'],
  ['a referral without any correlation key', 'referral.made', (e) => (e.correlation = {}), 'correlation'],
  [
    'a referral to a provider not configured',
    'referral.made',
    (e) => (e.referredTo.providerId = 'x'),
    'referredTo.providerId',
  ],
  ['a deadline at a leap second', 'referral.made', (e) => (e.deadline = '2026-12-31T23:59:60Z'), 'deadline'],
  ['disposition missing', 'referral.made', without('disposition'), 'disposition'],
  [
    'a disposition code that is not a Dx code',
    'referral.made',
    (e) => (e.disposition.code = 'chest pain'),
    'disposition.code',
  ],
  ['disposition time missing', 'referral.made', (e) => delete e.disposition.at, 'disposition.at'],
  ['deadline not an instant', 'referral.made', (e) => (e.deadline = '2026-11-22'), 'deadline'],
  ['referredTo missing', 'referral.made', without('referredTo'), 'referredTo'],
  [
    'referred-to service missing',
    'referral.made',
    (e) => delete e.referredTo.serviceId,
    'referredTo.serviceId',
  ],
  [
    'a service id with a space',
    'referral.made',
    (e) => (e.referredTo.serviceId = '2000 11147'),
    'referredTo.serviceId',
  ],
  ['an unknown referredTo field', 'referral.made', (e) => (e.referredTo.ods = 'RX1'), 'referredTo.ods'],
  // service.selected
  ['ranked missing', 'service.selected', without('ranked'), 'ranked'],
  ['ranked empty', 'service.selected', (e) => (e.ranked = []), 'ranked'],
  [
    'a ranked entry without bookable',
    'service.selected',
    (e) => delete e.ranked[1].bookable,
    'ranked[1].bookable',
  ],
  ['bookable as a string', 'service.selected', (e) => (e.ranked[0].bookable = 'yes'), 'ranked[0].bookable'],
  ['an unknown ranked field', 'service.selected', (e) => (e.ranked[0].rank = 1), 'ranked[0].rank'],
  ['chosen service missing', 'service.selected', without('chosenServiceId'), 'chosenServiceId'],
  ['a chosen service not ranked', 'service.selected', (e) => (e.chosenServiceId = '333'), 'chosenServiceId'],
  ['selection disposition missing', 'service.selected', without('disposition'), 'disposition'],
  // consumer.error
  ['where missing', 'consumer.error', without('where'), 'where'],
  ['where not a known step', 'consumer.error', (e) => (e.where = 'payment'), 'where'],
  ['message missing', 'consumer.error', without('message'), 'message'],
  ['message empty', 'consumer.error', (e) => (e.message = ''), 'message'],
  ['message too long', 'consumer.error', (e) => (e.message = 'm'.repeat(501)), 'message'],
  ['code too long', 'consumer.error', (e) => (e.code = 'c'.repeat(101)), 'code'],
];

describe('the ingest schemas', () => {
  it.each(Object.keys(VALID))('take a valid %s', (type) => {
    const prepared = prepareEvents(VALID[type as keyof typeof VALID], limits, hash);
    expect(prepared).toHaveProperty('events');
  });

  it.each(RULES)('refuse %s (%s), naming the path', (_what, type, mutate, path) => {
    const event = structuredClone(VALID[type]) as object;
    mutate(event);
    const single = prepareEvents(event, limits, hash);
    expect('problems' in single && single.problems.map((p) => p.path)).toEqual([path]);
    // In a batch, under the event's place in it.
    const batch = prepareEvents(
      { events: [{ ...VALID['consumer.error'], id: 'other' }, event] },
      limits,
      hash,
    );
    expect('problems' in batch && batch.problems.map((p) => p.path)).toEqual([`events[1].${path}`]);
  });

  it('refuse a body that is neither an event nor a batch of them', () => {
    for (const body of [[], 'referral', null, { events: 'all' }, { events: [] }, { events: [], extra: 1 }]) {
      const prepared = prepareEvents(body, limits, hash);
      expect('problems' in prepared && prepared.problems.length).toBe(1);
    }
  });

  it('are published, one per type, refusing unknown fields at every level', () => {
    const closed = (schema: any): boolean =>
      schema.type !== 'object' ||
      (schema.additionalProperties === false &&
        Object.values(schema.properties ?? {}).every((child: any) =>
          closed(child.type === 'array' ? child.items : child),
        ));
    for (const schema of Object.values(INGEST_SCHEMAS)) expect(closed(schema)).toBe(true);
  });

  it('hash the NHS number before anything keeps it', () => {
    const prepared = prepareEvents(VALID['referral.made'], limits, hash);
    expect(JSON.stringify(prepared)).not.toMatch(/943 ?476 ?5919/);
    expect('events' in prepared && prepared.events[0]!.payload.patientHash).toBe(hash('9434765919'));
  });
});
