import fc from 'fast-check';
import { slotSearchFacts, slotStart, withBreach } from '../../src/derive/slot-search.js';
import { fhirDatePeriod } from '../../src/fhir/fhir-time.js';
import { fixture } from '../helpers/sandbox.js';

describe('slotSearchFacts on the published searchsets', () => {
  it('STU3: the three free slots, keyed by provider and Slot id, the earliest start, the window and service', () => {
    const facts = slotSearchFacts({
      provider: 'ed',
      query:
        'schedule.actor:healthcareservice=918999198999&start=ge2019-05-09T09:00:00%2B00:00&start=le2019-05-09&status=free',
      body: fixture('stu3/slot-search-response.json'),
    });
    expect(facts.slots.map((s) => [s.key, s.start])).toEqual([
      ['ed|Slot/slot005', '2019-05-09T10:00:00.000Z'],
      ['ed|Slot/slot006', '2019-05-09T10:15:00.000Z'],
      ['ed|Slot/slot007', '2019-05-09T10:30:00.000Z'],
    ]);
    expect(facts).toMatchObject({
      earliestStart: '2019-05-09T10:00:00.000Z',
      // `le2019-05-09` takes in the whole London day (BST: it ends at 23:00 UTC).
      window: { from: '2019-05-09T09:00:00.000Z', to: '2019-05-09T22:59:59.999Z' },
      service: '918999198999',
      empty: false,
      outcome: null,
      unreadableSlots: 0,
    });
  });

  it('BaRS: its slots, the service spelt Schedule.actor:HealthcareService', () => {
    const facts = slotSearchFacts({
      provider: 'utc',
      query: 'status=free&Schedule.actor:HealthcareService=HealthcareService/2000099999',
      body: fixture('bars/slot-search-response.json'),
    });
    expect(facts.slots.map((s) => s.start)).toEqual([
      '2021-10-06T09:00:00.000Z',
      '2021-10-06T10:00:00.000Z',
      '2021-10-06T11:00:00.000Z',
    ]);
    expect(facts.service).toBe('2000099999');
    expect(facts.window).toEqual({ from: null, to: null });
  });
});

describe('slotSearchFacts on hand-made searchsets', () => {
  const bundle = (...resources: unknown[]) => ({
    resourceType: 'Bundle',
    type: 'searchset',
    entry: resources.map((resource) => ({ resource })),
  });

  it('counts each slot once, keyed by id, else identifier, else schedule and start; only free ones', () => {
    const facts = slotSearchFacts({
      provider: 'p',
      body: bundle(
        { resourceType: 'Slot', id: 'a', status: 'free', start: '2026-11-22T10:00:00+00:00' },
        { resourceType: 'Slot', id: 'a', status: 'free', start: '2026-11-22T10:00:00+00:00' },
        {
          resourceType: 'Slot',
          status: 'free',
          start: '2026-11-22T11:00:00Z',
          identifier: [{ system: 's', value: 'v' }],
        },
        {
          resourceType: 'Slot',
          status: 'free',
          start: '2026-11-22T12:00:00+01:00',
          schedule: { reference: 'Schedule/1' },
        },
        { resourceType: 'Slot', id: 'busy', status: 'busy', start: '2026-11-22T09:00:00Z' },
        { resourceType: 'Slot', id: 'no-start', status: 'free' },
        { resourceType: 'Slot', id: 'no-such-day', status: 'free', start: '2026-02-30T10:00:00Z' },
        { resourceType: 'Slot', id: 'no-such-offset', status: 'free', start: '2026-11-22T10:00:00+24:00' },
        { resourceType: 'Slot', id: 'ancient', status: 'free', start: '0050-11-22T10:00:00Z' },
      ),
    });
    // In order of start (the two at 11:00 UTC in the order they came).
    expect(facts.slots.map((s) => s.key)).toEqual([
      'p|Slot/a',
      'p|s|v',
      'p|Schedule/1|2026-11-22T11:00:00.000Z',
    ]);
    expect(facts.unreadableSlots).toBe(4);
  });

  it('an empty search, and a 200 that explains itself with an OperationOutcome entry', () => {
    const facts = slotSearchFacts({
      provider: 'p',
      query: 'service=https://dos|2000011147',
      body: bundle({
        resourceType: 'OperationOutcome',
        issue: [
          { severity: 'information', code: 'informational', diagnostics: 'no slots for this consumer' },
        ],
      }),
    });
    expect(facts).toMatchObject({
      empty: true,
      earliestStart: null,
      service: '2000011147',
      outcome: { issueCodes: ['informational'], diagnostics: 'no slots for this consumer' },
    });
  });

  it("GP Connect's end=le bounds the window; gt and lt leave the named moment out", () => {
    expect(
      slotSearchFacts({ provider: 'p', query: 'start=ge2026-11-22&end=le2026-11-23', body: {} }).window,
    ).toEqual({
      from: '2026-11-22T00:00:00.000Z',
      to: '2026-11-23T23:59:59.999Z',
    });
    expect(
      slotSearchFacts({ provider: 'p', query: 'start=gt2026-07-01&start=lt2026-07-03', body: {} }).window,
    ).toEqual({ from: '2026-07-01T23:00:00.000Z', to: '2026-07-02T23:00:00.000Z' });
  });
});

describe('withBreach', () => {
  const facts = (...starts: string[]) =>
    slotSearchFacts({
      provider: 'p',
      body: {
        entry: starts.map((start, i) => ({
          resource: { resourceType: 'Slot', id: `s${i}`, status: 'free', start },
        })),
      },
    });

  it('a slot exactly at the deadline does not breach; a millisecond later does', () => {
    const marked = withBreach(
      facts('2026-11-22T10:00:00Z', '2026-11-22T10:00:00.001Z'),
      new Date('2026-11-22T10:00:00Z'),
    );
    expect(marked.slots.map((s) => s.wouldBreach)).toEqual([false, true]);
  });

  it('compares instants, whatever offset each is written with', () => {
    const marked = withBreach(
      facts('2026-06-22T11:00:00+01:00', '2026-06-22T11:00:00Z'),
      new Date('2026-06-22T10:30:00Z'),
    );
    expect(marked.slots.map((s) => [s.start, s.wouldBreach])).toEqual([
      ['2026-06-22T10:00:00.000Z', false],
      ['2026-06-22T11:00:00.000Z', true],
    ]);
  });

  it('across the clock change in March and in October', () => {
    // 29 March 2026: clocks go forward at 01:00 UTC. 25 October 2026: back at 01:00 UTC.
    const march = withBreach(facts('2026-03-29T02:30:00+01:00'), new Date('2026-03-29T01:29:59Z'));
    expect(march.slots[0]).toMatchObject({ start: '2026-03-29T01:30:00.000Z', wouldBreach: true });
    const october = withBreach(
      facts('2026-10-25T01:30:00+00:00', '2026-10-25T01:30:00+01:00'),
      new Date('2026-10-25T01:00:00Z'),
    );
    expect(october.slots.map((s) => [s.start, s.wouldBreach])).toEqual([
      ['2026-10-25T00:30:00.000Z', false],
      ['2026-10-25T01:30:00.000Z', true],
    ]);
  });

  it('leaves slots unmarked while there is no deadline', () => {
    expect(withBreach(facts('2026-11-22T10:00:00Z'), null).slots[0]!.wouldBreach).toBeUndefined();
  });
});

describe('slotSearchFacts on anything', () => {
  it('never throws and is deterministic on arbitrary JSON and queries', () => {
    fc.assert(
      fc.property(fc.jsonValue(), fc.string(), (body, query) => {
        const first = slotSearchFacts({ provider: 'p', query, body });
        expect(slotSearchFacts({ provider: 'p', query, body })).toEqual(first);
      }),
      { numRuns: 2000 },
    );
  });
});

/** A Slot's start read through Date, as it was before `slotStart` wrote the common case itself. */
function throughDate(value: string): string | undefined {
  const m =
    /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?(?:Z|([+-])(\d{2}):(\d{2}))$/.exec(
      value,
    );
  if (!m) return fhirDatePeriod(value)?.start.toISOString();
  const [year, month, day, hour, minute, second] = m.slice(1, 7).map(Number);
  const millis = m[7] ? Number(m[7].slice(0, 3).padEnd(3, '0')) : 0;
  const offset = m[8] ? (m[8] === '-' ? -1 : 1) * (Number(m[9]) * 60 + Number(m[10])) : 0;
  const local = Date.UTC(year!, month! - 1, day, hour, minute, second, millis);
  const check = new Date(local);
  if (
    (m[8] !== undefined && (Number(m[9]) > 23 || Number(m[10]) > 59)) ||
    check.getUTCFullYear() !== year ||
    check.getUTCDate() !== day ||
    check.getUTCMonth() !== month! - 1 ||
    hour! > 23 ||
    minute! > 59 ||
    second! > 59
  )
    return undefined;
  return new Date(local - offset * 60_000).toISOString();
}

describe('slotStart', () => {
  it('writes the UTC instant as Date would, across days, months, years and leap days', () => {
    expect(slotStart('2026-11-23T08:40:00.000+00:00')).toBe('2026-11-23T08:40:00.000Z');
    expect(slotStart('2026-06-01T00:30:00+01:00')).toBe('2026-05-31T23:30:00.000Z');
    expect(slotStart('2024-03-01T00:15:00.5+01:00')).toBe('2024-02-29T23:15:00.500Z');
    expect(slotStart('2025-12-31T20:00:00.123456-05:30')).toBe('2026-01-01T01:30:00.123Z');
    expect(slotStart('2026-11-23T08:40:00.000-00:00')).toBe('2026-11-23T08:40:00.000Z');
    expect(slotStart('2026-07-01T12:00')).toBe(throughDate('2026-07-01T12:00')); // no seconds: the general reader
  });

  it('refuses what is not a real moment, as Date did', () => {
    for (const value of [
      '2026-02-29T10:00:00Z',
      '2024-02-30T10:00:00Z',
      '2026-04-31T10:00:00Z',
      '2026-13-01T10:00:00Z',
      '2026-00-10T10:00:00Z',
      '2026-01-00T10:00:00Z',
      '2026-01-01T24:00:00Z',
      '2026-01-01T10:60:00Z',
      '2026-01-01T10:00:60Z',
      '2026-01-01T10:00:00+24:00',
      '2026-01-01T10:00:00+01:60',
      '0050-01-01T10:00:00Z',
      '1900-02-29T10:00:00Z',
    ]) {
      expect([value, slotStart(value)]).toEqual([value, undefined]);
      expect(throughDate(value)).toBeUndefined();
    }
    expect(slotStart('2000-02-29T10:00:00Z')).toBe('2000-02-29T10:00:00.000Z');
  });

  it('agrees with Date on any instant with seconds and an offset', () => {
    const digits = (n: number, max: number) =>
      fc.integer({ min: 0, max }).map((v) => String(v).padStart(n, '0'));
    const instant = fc
      .tuple(
        digits(4, 9999),
        digits(2, 13),
        digits(2, 32),
        digits(2, 24),
        digits(2, 60),
        digits(2, 60),
        fc.option(fc.stringMatching(/^\d{1,9}$/)),
        fc.constantFrom(
          'Z',
          '+00:00',
          '-00:00',
          '+01:00',
          '-01:00',
          '+05:30',
          '-09:45',
          '+14:00',
          '-12:00',
          '+23:59',
        ),
      )
      .map(
        ([y, mo, d, h, mi, s, ms, zone]) =>
          `${y}-${mo}-${d}T${h}:${mi}:${s}${ms === null ? '' : `.${ms}`}${zone}`,
      );
    fc.assert(
      fc.property(instant, (value) => {
        expect(slotStart(value)).toBe(throughDate(value));
      }),
      { numRuns: 5000 },
    );
  });
});
