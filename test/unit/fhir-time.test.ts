import {
  londonInstant,
  londonOffsetMinutes,
  londonWallClock,
  parseFhirDate,
} from '../../src/fhir/fhir-time.js';

describe('London time in FHIR instants', () => {
  it('writes winter times with +00:00 and summer times with +01:00', () => {
    expect(londonInstant(new Date('2026-11-22T10:00:00Z'))).toBe('2026-11-22T10:00:00+00:00');
    expect(londonInstant(new Date('2026-07-01T09:30:00Z'))).toBe('2026-07-01T10:30:00+01:00');
    expect(londonInstant(new Date('2026-07-01T09:30:00.250Z'), true)).toBe('2026-07-01T10:30:00.250+01:00');
  });

  it('changes offset at 01:00 UTC on the last Sundays of March and October', () => {
    expect(londonOffsetMinutes(new Date('2026-03-29T00:59:59Z'))).toBe(0);
    expect(londonOffsetMinutes(new Date('2026-03-29T01:00:00Z'))).toBe(60);
    expect(londonOffsetMinutes(new Date('2026-10-25T00:59:59Z'))).toBe(60);
    expect(londonOffsetMinutes(new Date('2026-10-25T01:00:00Z'))).toBe(0);
  });

  it('places London wall-clock times on the right UTC instant either side of a clock change', () => {
    expect(londonWallClock(new Date('2026-03-28T00:00:00Z'), 9, 0).toISOString()).toBe(
      '2026-03-28T09:00:00.000Z',
    );
    expect(londonWallClock(new Date('2026-03-30T00:00:00Z'), 9, 0).toISOString()).toBe(
      '2026-03-30T08:00:00.000Z',
    );
    expect(londonWallClock(new Date('2026-10-26T00:00:00Z'), 9, 0).toISOString()).toBe(
      '2026-10-26T09:00:00.000Z',
    );
  });

  it('reads search dates with offsets, Z, a decoded + (a space), or a bare date', () => {
    expect(parseFhirDate('2026-07-01T10:30:00+01:00')?.toISOString()).toBe('2026-07-01T09:30:00.000Z');
    expect(parseFhirDate('2026-07-01T09:30:00Z')?.toISOString()).toBe('2026-07-01T09:30:00.000Z');
    expect(parseFhirDate('2019-05-09T10:00:00 00:00')?.toISOString()).toBe('2019-05-09T10:00:00.000Z');
    expect(parseFhirDate('2026-07-01')?.toISOString()).toBe('2026-06-30T23:00:00.000Z');
    expect(parseFhirDate('2026-07-01T10:30:00')).toBeUndefined();
    expect(parseFhirDate('tomorrow')).toBeUndefined();
  });
});
