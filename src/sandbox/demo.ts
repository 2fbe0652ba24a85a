import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { seededRandom } from './random.js';

/*
 * Simulated 111 call handlers working against the sandbox through a running collector (`npm run demo`),
 * keeping a ground truth of what they did, counted per national metric. This first version drives the
 * STU3 dialect: each call posts its referral to the ingest API (the disposition travels off the wire),
 * searches the disposition's window, then abandons, books, loses a slot-taken race and books again,
 * cancels in the call (and re-books, or not), or cancels in a later call. Every patient, call and 111
 * document is new, so calls never join each other's episodes.
 */

/** Dispositions with a time frame in minutes (the bundled table's), so the search window follows it. */
const DISPOSITIONS: [string, number][] = [
  ['Dx02', 60],
  ['Dx03', 240],
  ['Dx89', 720],
];
const SERVICES = ['2000011147', '2000011148'];
const PROVIDER = 'sandbox-stu3';

/** What the calls did, counted as reports.md counts it. */
export interface GroundTruth {
  calls: number;
  counts: Record<string, Record<string, number>>;
}

export interface DemoOptions {
  /** The collector's base URL. */
  collector: string;
  calls: number;
  seed: number;
  /** A token with role ingest (and report, to read back what the calls did). */
  token: string;
  /** Told after each call: calls done. */
  onProgress?: (done: number) => void;
}

/** A valid NHS number (Modulus 11) from the generator, in the 9xx test range. */
function nhsNumber(next: () => number): string {
  for (;;) {
    const digits = [9, ...Array.from({ length: 8 }, () => Math.floor(next() * 10))];
    const sum = digits.reduce((s, d, i) => s + d * (10 - i), 0);
    const check = 11 - (sum % 11);
    if (check === 10) continue;
    return [...digits, check === 11 ? 0 : check].join('');
  }
}

const hex = (next: () => number, n: number) =>
  Array.from({ length: n }, () => Math.floor(next() * 16).toString(16)).join('');
const uuid = (next: () => number) =>
  `${hex(next, 8)}-${hex(next, 4)}-4${hex(next, 3)}-8${hex(next, 3)}-${hex(next, 12)}`;

type Json = Record<string, unknown>;

/** A free slot as a search offers it. */
interface OfferedSlot {
  id: string;
  start: string;
  end: string;
}

/** The free Slots of a searchset. */
function freeSlots(bundle: unknown): OfferedSlot[] {
  const entries = (bundle as { entry?: unknown } | null)?.entry;
  return (Array.isArray(entries) ? (entries as { resource?: Json }[]) : [])
    .map((e) => e.resource)
    .filter((r): r is Json => r?.resourceType === 'Slot' && r.status === 'free' && typeof r.id === 'string')
    .map((r) => ({ id: String(r.id), start: String(r.start), end: String(r.end) }));
}

/** The contained resource of a type in an Appointment. */
function contained(appointment: Json, type: string): Json {
  const found = (appointment.contained as Json[]).find((c) => c.resourceType === type);
  if (!found) throw new Error(`the STU3 example has no contained ${type}`);
  return found;
}

/** Puts a value into a resource's first identifier. */
function setIdentifier(resource: Json, value: string): void {
  (resource.identifier as Json[])[0]!.value = value;
}

/** The STU3 book request of the published standard (../shared/fixtures), each call's own patient put in. */
function bookRequest(): Json {
  const file = fileURLToPath(
    new URL('../../../shared/fixtures/stu3/appointment-book-request.json', import.meta.url),
  );
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as Json;
  } catch (error) {
    throw new Error(
      `the demo books with the published STU3 example, not found at ${file}: ${(error as Error).message}`,
      { cause: error },
    );
  }
}

/** Runs the calls; resolves with the ground truth. */
export async function runDemo(options: DemoOptions): Promise<GroundTruth> {
  const next = seededRandom(options.seed);
  const template = bookRequest();
  const truth = {
    bookings: 0,
    referrals: 0,
    selections: 0,
    topBookableRejected: 0,
    referralsNotBooked: 0,
    slotUnavailable: 0,
    failedAttempts: 0,
    cancellations: 0,
    cancelledSameEncounter: 0,
    rebookings: 0,
    cancelledLater: 0,
  };
  const offered = new Set<string>();
  /** Per disposition, each slot offered: whether some search found it within its deadline, whether every one beyond. */
  const breach = new Map<string, Map<string, { within: boolean; beyond: boolean }>>();
  const notBooked = { noSlots: 0, slotsOffered: 0, allBreach: 0 };
  /** Slots booked and still held: another call may race for one of them. */
  const held: OfferedSlot[] = [];
  const call = async (
    path: string,
    init: { method?: string; body?: unknown; headers?: Record<string, string> },
  ) => {
    const res = await fetch(`${options.collector}${path}`, {
      method: init.method ?? (init.body ? 'POST' : 'GET'),
      headers: { 'Content-Type': 'application/fhir+json', ...init.headers },
      ...(init.body ? { body: JSON.stringify(init.body) } : {}),
    });
    return { status: res.status, body: (await res.json()) as Json };
  };

  for (let i = 0; i < options.calls; i++) {
    const trace = `demo-${options.seed}-${i}-${hex(next, 6)}`;
    const patient = nhsNumber(next);
    const documentId = uuid(next);
    const [code, minutes] = DISPOSITIONS[Math.floor(next() * DISPOSITIONS.length)]!;
    const service = SERVICES[Math.floor(next() * SERVICES.length)]!;
    const now = new Date();
    const dispositionAt = new Date(now.getTime() - 60_000);

    const referral = await fetch(`${options.collector}/api/events`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${options.token}`, 'Content-Type': 'application/json' },
      body: JSON.stringify({
        id: trace,
        type: 'referral.made',
        occurredAt: now.toISOString(),
        correlation: { traceId: trace, documentId, nhsNumber: patient },
        disposition: { code, at: dispositionAt.toISOString() },
        referredTo: { serviceId: service, providerId: PROVIDER },
      }),
    });
    if (referral.status !== 201)
      throw new Error(`the referral of call ${i} was refused (${referral.status})`);
    truth.referrals += 1;

    // The Directory of Services' ranked list the handler chose from: the service first, or second after
    // another (bookable or not), as the handler saw it.
    const other = SERVICES.find((id) => id !== service)!;
    const chosenFirst = next() < 0.5;
    const ranked = chosenFirst
      ? [
          { serviceId: service, bookable: true },
          { serviceId: other, bookable: next() < 0.5 },
        ]
      : [
          { serviceId: other, bookable: next() < 0.5 },
          { serviceId: service, bookable: true },
        ];
    const selection = await fetch(`${options.collector}/api/events`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${options.token}`, 'Content-Type': 'application/json' },
      body: JSON.stringify({
        id: `${trace}-selection`,
        type: 'service.selected',
        occurredAt: now.toISOString(),
        correlation: { traceId: trace },
        disposition: { code, at: dispositionAt.toISOString() },
        ranked,
        chosenServiceId: service,
      }),
    });
    if (selection.status !== 201)
      throw new Error(`the selection of call ${i} was refused (${selection.status})`);
    truth.selections += 1;
    if (!chosenFirst && ranked[0]!.bookable) truth.topBookableRejected += 1;

    const headers = { 'Ssp-TraceID': trace };
    // Mostly from now until a day past the deadline; now and then only after the deadline (the patient
    // cannot come sooner: every slot offered would breach), or a month ahead, beyond the sandbox's diary
    // (nothing offered).
    const window = next();
    const deadlineAt = dispositionAt.getTime() + minutes * 60_000;
    const from = new Date(
      window < 0.1 ? now.getTime() + 30 * 86_400_000 : window < 0.25 ? deadlineAt + 3600_000 : now.getTime(),
    );
    const to = new Date(window < 0.1 ? from.getTime() + 86_400_000 : deadlineAt + 24 * 3600_000);
    const instant = (at: Date) => `${at.toISOString().slice(0, 19)}Z`;
    const search = await call(
      `/fhir/${PROVIDER}/Slot?service=${service}&status=free&start=ge${instant(from)}&start=le${instant(to)}&_include=Slot:schedule`,
      { headers },
    );
    const slots = freeSlots(search.body);
    const deadline = deadlineAt;
    const perSlot = breach.get(code) ?? new Map<string, { within: boolean; beyond: boolean }>();
    breach.set(code, perSlot);
    let allBreach = slots.length > 0;
    for (const slot of slots) {
      offered.add(slot.id);
      const late = Date.parse(slot.start) > deadline;
      if (!late) allBreach = false;
      const seen = perSlot.get(slot.id) ?? { within: false, beyond: true };
      perSlot.set(slot.id, { within: seen.within || !late, beyond: seen.beyond && late });
    }

    const roll = next();
    if (slots.length === 0 || roll < 0.2) {
      truth.referralsNotBooked += 1; // abandoned, or nothing to book
      if (slots.length === 0) notBooked.noSlots += 1;
      else {
        notBooked.slotsOffered += 1;
        if (allBreach) notBooked.allBreach += 1;
      }
      options.onProgress?.(i + 1);
      continue;
    }
    let attempt = 0;
    const book = (slot: OfferedSlot) => {
      attempt += 1;
      const body = structuredClone(template);
      Object.assign(contained(body, 'Slot'), { id: slot.id, start: slot.start, end: slot.end });
      setIdentifier(contained(body, 'Patient'), patient);
      setIdentifier(contained(body, 'DocumentReference'), documentId);
      body.slot = [{ reference: `#${slot.id}` }];
      body.start = slot.start;
      body.end = slot.end;
      return call(`/fhir/${PROVIDER}/Appointment`, {
        body,
        headers: { ...headers, 'X-Request-ID': `${trace}-${attempt}` },
      });
    };

    // A slot-taken race now and then: another handler booked the slot first.
    if (held.length > 0 && next() < 0.15) {
      const taken = await book(held[Math.floor(next() * held.length)]!);
      if (taken.status === 201) throw new Error(`call ${i}: a held slot was booked twice`);
      truth.slotUnavailable += 1;
      truth.failedAttempts += 1;
    }
    const first = slots[0]!;
    const booked = await book(first);
    if (booked.status !== 201) throw new Error(`call ${i}: booking a free slot answered ${booked.status}`);
    truth.bookings += 1;
    const appointment = String(booked.body.id);

    const cancel = async (callHeaders: Record<string, string>) => {
      const read = await call(`/fhir/${PROVIDER}/Appointment/${appointment}`, { headers: callHeaders });
      const put = await call(`/fhir/${PROVIDER}/Appointment/${appointment}`, {
        method: 'PUT',
        body: { ...read.body, status: 'cancelled' },
        headers: { ...callHeaders, 'If-Match': 'W/"1"' },
      });
      if (put.status !== 200) throw new Error(`call ${i}: the cancellation answered ${put.status}`);
      truth.cancellations += 1;
    };
    const choice = next();
    if (choice < 0.15 && slots.length > 1) {
      // Cancelled in the call and booked again: a re-booking.
      await cancel(headers);
      const again = await book(slots[1]!);
      if (again.status !== 201) throw new Error(`call ${i}: the re-booking answered ${again.status}`);
      truth.bookings += 1;
      truth.rebookings += 1;
      held.push(slots[1]!);
    } else if (choice < 0.25) {
      await cancel(headers); // cancelled in the call, not re-booked
      truth.cancelledSameEncounter += 1;
    } else if (choice < 0.35) {
      await cancel({ 'Ssp-TraceID': `${trace}-callback` }); // the patient called back
      truth.cancelledLater += 1;
    } else {
      held.push(first);
    }
    options.onProgress?.(i + 1);
  }

  /** Slots per disposition passing a test, added up over the dispositions (as rep-cons-10 and -11 count). */
  const countSlots = (test: (s: { within: boolean; beyond: boolean }) => boolean) =>
    [...breach.values()].reduce((sum, perSlot) => sum + [...perSlot.values()].filter(test).length, 0);
  return {
    calls: options.calls,
    counts: {
      'rep-prov-01': { bookings: truth.bookings },
      'rep-cons-01': { bookings: truth.bookings, referrals: truth.referrals },
      // The same numbers in the provider's view, by provider and service: their totals add up to these.
      'rep-prov-02': { bookings: truth.bookings, referrals: truth.referrals },
      'rep-cons-05': { topBookableRejected: truth.topBookableRejected, selections: truth.selections },
      'rep-prov-03': { bookings: truth.bookings, slotsOffered: offered.size },
      'rep-prov-04': { referralsNotBooked: truth.referralsNotBooked, referrals: truth.referrals },
      'rep-cons-10': { bookings: truth.bookings, slotsWithinDeadline: countSlots((s) => s.within) },
      'rep-cons-11': { bookings: truth.bookings, slotsBeyondDeadline: countSlots((s) => s.beyond) },
      'rep-cons-02': { referralsNotBooked: notBooked.noSlots, noSearch: 0 },
      'rep-cons-03': { referralsNotBooked: notBooked.slotsOffered },
      'rep-cons-12': { referralsNotBooked: notBooked.allBreach },
      'rep-cons-04': { slotUnavailable: truth.slotUnavailable },
      'rep-cons-06': { failedAttempts: truth.failedAttempts },
      'rep-cons-07': { cancelledSameEncounter: truth.cancelledSameEncounter },
      'rep-cons-08': { rebookings: truth.rebookings },
      'rep-cons-09': { cancelledLater: truth.cancelledLater },
      'rep-prov-05': { cancellations: truth.cancellations },
    },
  };
}
