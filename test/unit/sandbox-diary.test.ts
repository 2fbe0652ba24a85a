import { Diary } from '../../src/sandbox/diary.js';
import { FIXED_NOW } from '../helpers/sandbox.js';

const diary = (seed = 7, prebookedShare = 0) => new Diary({ seed, days: 2, now: FIXED_NOW, prebookedShare });
const anyFree = (d: Diary, dialect: 'stu3' | 'bars' | 'gpconnect' = 'stu3') =>
  d.findSlots({ dialect, statuses: ['free'], notBefore: FIXED_NOW })[0]!;

describe('the sandbox diary', () => {
  it('is the same for the same seed and day, and differs for another seed', () => {
    const ids = (d: Diary) =>
      d
        .findSlots({ dialect: 'bars', statuses: ['free', 'busy'], notBefore: FIXED_NOW })
        .map((s) => `${s.id}:${s.status}`);
    expect(ids(diary(7, 0.3))).toEqual(ids(diary(7, 0.3)));
    expect(ids(diary(7, 0.3))).not.toEqual(ids(diary(8, 0.3)));
  });

  it('offers slots only inside opening hours, never before now, in start order', () => {
    const slots = diary().findSlots({ dialect: 'gpconnect', statuses: ['free'], notBefore: FIXED_NOW });
    expect(slots.length).toBeGreaterThan(10);
    expect(slots[0]!.start.getTime()).toBeGreaterThanOrEqual(FIXED_NOW.getTime());
    for (const [a, b] of slots.slice(1).map((s, i) => [slots[i]!, s] as const))
      expect(a.start <= b.start).toBe(true);
    for (const slot of slots) {
      expect(slot.start.getUTCHours()).toBeGreaterThanOrEqual(8);
      expect(slot.end.getUTCHours() * 60 + slot.end.getUTCMinutes()).toBeLessThanOrEqual(18 * 60);
    }
  });

  it('books a free slot once: the second booking finds it unavailable', () => {
    const d = diary();
    const slot = anyFree(d);
    const first = d.book({
      dialect: 'stu3',
      slotIds: [slot.id],
      now: FIXED_NOW,
      resource: {},
      patientNhsNumber: '9434765919',
    });
    const second = d.book({ dialect: 'stu3', slotIds: [slot.id], now: FIXED_NOW, resource: {} });
    expect(first.ok).toBe(true);
    expect(second).toEqual({ ok: false, reason: 'slot-unavailable' });
    expect(d.slot(slot.id)!.status).toBe('busy');
  });

  it('refuses a repeated request key as a duplicate, and a slot of another dialect as unknown', () => {
    const d = diary();
    const [a, b] = d.findSlots({ dialect: 'stu3', statuses: ['free'], notBefore: FIXED_NOW });
    expect(
      d.book({ dialect: 'stu3', slotIds: [a!.id], now: FIXED_NOW, resource: {}, requestKey: 'r1' }).ok,
    ).toBe(true);
    expect(
      d.book({ dialect: 'stu3', slotIds: [b!.id], now: FIXED_NOW, resource: {}, requestKey: 'r1' }),
    ).toEqual({ ok: false, reason: 'duplicate' });
    expect(d.book({ dialect: 'bars', slotIds: [b!.id], now: FIXED_NOW, resource: {} })).toEqual({
      ok: false,
      reason: 'slot-unknown',
    });
  });

  it('cancels under a version check and frees the slot', () => {
    const d = diary();
    const slot = anyFree(d);
    const booked = d.book({ dialect: 'stu3', slotIds: [slot.id], now: FIXED_NOW, resource: {} });
    if (!booked.ok) throw new Error('not booked');
    const id = booked.appointment.id;
    expect(
      d.cancel({ id, dialect: 'stu3', now: FIXED_NOW, status: 'cancelled', expectedVersion: 2 }),
    ).toEqual({ ok: false, reason: 'version-conflict' });
    const cancelled = d.cancel({
      id,
      dialect: 'stu3',
      now: FIXED_NOW,
      status: 'cancelled',
      expectedVersion: 1,
    });
    expect(cancelled.ok && cancelled.appointment.version).toBe(2);
    expect(d.slot(slot.id)!.status).toBe('free');
    expect(d.cancel({ id, dialect: 'stu3', now: FIXED_NOW, status: 'cancelled' })).toEqual({
      ok: false,
      reason: 'already-cancelled',
    });
    expect(d.cancel({ id: 'nope', dialect: 'stu3', now: FIXED_NOW, status: 'cancelled' })).toEqual({
      ok: false,
      reason: 'not-found',
    });
  });

  it('will not book a slot that has started', () => {
    const d = diary();
    const slot = anyFree(d);
    const later = new Date(slot.start.getTime() + 60_000);
    expect(d.book({ dialect: 'stu3', slotIds: [slot.id], now: later, resource: {} })).toEqual({
      ok: false,
      reason: 'slot-in-past',
    });
  });
});

describe('the sandbox diary in summer time', () => {
  it('starts on the London calendar day, with opening hours in London time', () => {
    // 00:30 BST on 2 July is still 1 July in UTC.
    const now = new Date('2026-07-01T23:30:00Z');
    const d = new Diary({ seed: 7, days: 1, now, prebookedShare: 0 });
    const slots = d.findSlots({ dialect: 'gpconnect', statuses: ['free'], notBefore: now });
    expect(slots.length).toBeGreaterThan(0);
    // The practice opens at 08:00 London time, which is 07:00 UTC in summer.
    expect(slots[0]!.start.toISOString()).toBe('2026-07-02T07:00:00.000Z');
  });

  it('keeps London opening hours either side of the March clock change', () => {
    const now = new Date('2026-03-28T06:00:00Z');
    const d = new Diary({ seed: 7, days: 3, now, prebookedShare: 0 });
    const firstOfDay = (day: string) =>
      d
        .findSlots({ dialect: 'gpconnect', statuses: ['free'], notBefore: now })
        .find((s) => s.start.toISOString().startsWith(day))!;
    expect(firstOfDay('2026-03-28').start.toISOString()).toBe('2026-03-28T08:00:00.000Z');
    expect(firstOfDay('2026-03-30').start.toISOString()).toBe('2026-03-30T07:00:00.000Z');
  });
});
