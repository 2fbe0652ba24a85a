import type { Dialect } from '../../config/config.types.js';
import type { Json } from '../../fhir/json.js';
import type { DerivationTables } from '../../derive/tables.js';
import { SANDBOX_SERVICES } from '../catalogue.js';
import { seededRandom, type Random } from '../random.js';
import { barsClient } from './bars.client.js';
import { CallMix, uuid } from './call-mix.js';
import { DemoHttp } from './demo-http.js';
import type { BookedAppointment, DemoCall, DialectClient, OfferedSlot } from './dialect-client.js';
import { gpconnectClient } from './gpconnect.client.js';
import { TruthKeeper, type GroundTruth } from './ground-truth.js';
import { stu3Client } from './stu3.client.js';

/*
 * Simulated 111 call handlers working against the sandbox through a running collector (`npm run demo`),
 * keeping a ground truth of what they did, counted per national metric. Each call is in one dialect
 * (STU3, BaRS or GP Connect, a seeded mix) with a disposition of the bundled table: the referral (BaRS on
 * the wire, the others through the ingest API) and the directory's ranked list the handler chose from;
 * then no search at all, a failed search, or a search in the window the disposition gives; then nothing
 * offered, abandoning, or one of the first few slots chosen, with now and then a slot-taken race, a
 * booking error from the provider (given up, or booked on retry), a booking sent twice; and the booking
 * kept, cancelled in the call (re-booking, or not), or cancelled in a later call. Every patient, call and
 * case is new, so calls never join each other's episodes.
 */

export type { GroundTruth } from './ground-truth.js';

export interface DemoOptions {
  /** The collector's base URL. */
  collector: string;
  calls: number;
  seed: number;
  /** A token with role ingest (and report, to read back what the calls did). */
  token: string;
  /** The disposition table and bank holidays the collector derives with (windows follow them). */
  tables: DerivationTables;
  /** Told after each call: calls done. */
  onProgress?: (done: number) => void;
}

/** Errors a provider answers a booking with (asked of the sandbox by `X-Sandbox-Fault`), and their outcome. */
const BOOKING_ERRORS: { fault: string; status: number; outcome: string }[] = [
  { fault: 'status=500', status: 500, outcome: 'provider_error' },
  { fault: 'status=503', status: 503, outcome: 'provider_error' },
  { fault: 'status=504', status: 504, outcome: 'provider_error' },
  { fault: 'status=401', status: 401, outcome: 'unauthorised' },
  { fault: 'status=403', status: 403, outcome: 'unauthorised' },
  { fault: 'error=invalid', status: 400, outcome: 'rejected' },
  { fault: 'error=unprocessable', status: 422, outcome: 'rejected' },
];

const DAY_MS = 86_400_000;
const HOUR_MS = 3_600_000;
const MINUTE_MS = 60_000;

function pick<T>(next: Random, list: readonly T[]): T {
  return list[Math.floor(next() * list.length)]!;
}

/** The calls of one run: the generator, the dialects' clients, the slots booked so far, the truth. */
class DemoRun {
  readonly truth = new TruthKeeper();
  readonly #next: Random;
  readonly #mix: CallMix;
  readonly #http: DemoHttp;
  readonly #clients: Record<Dialect, DialectClient>;
  /** Slots booked and still held, per dialect: another call may race for one of them. */
  readonly #held: Record<Dialect, OfferedSlot[]> = { stu3: [], bars: [], gpconnect: [] };

  constructor(private readonly options: DemoOptions) {
    this.#next = seededRandom(options.seed);
    this.#mix = new CallMix(this.#next, options.tables.dispositions, options.tables.bankHolidays);
    this.#http = new DemoHttp(options.collector, options.token);
    const context = { http: this.#http, uuid: () => uuid(this.#next) };
    this.#clients = {
      stu3: stu3Client(context),
      bars: barsClient(context, (code) => this.#mix.describe(code)),
      gpconnect: gpconnectClient(context),
    };
  }

  /** One call, from the referral to the booking's fate. */
  async call(index: number): Promise<void> {
    const next = this.#next;
    const { dialect, call } = this.#mix.draw(`demo-${this.options.seed}-${index}`, new Date());
    const client = this.#clients[dialect];
    const truth = this.truth;
    truth.call(dialect);
    await client.refer(call, [this.#selection(call, client)]);
    truth.referral(client.provider, call.service);

    // Now and then no search at all (the patient would rather go elsewhere), or the provider is down.
    const roll = next();
    if (roll < 0.04) return truth.notBooked('no-search');
    if (roll < 0.08) {
      const failed = await client.search(call, call.now, new Date(call.now.getTime() + DAY_MS), 'status=503');
      if (failed.status !== 503)
        throw new Error(`call ${index}: a search asked to fail answered ${failed.status}`);
      return truth.notBooked('no-slots');
    }
    const { from, to } = this.#window(call);
    const search = await client.search(call, from, to);
    if (search.status !== 200) throw new Error(`call ${index}: a search answered ${search.status}`);
    const slots = search.slots;
    truth.offered(call.disposition.code, call.disposition.deadline, slots);
    if (slots.length === 0) return truth.notBooked('no-slots');
    const deadline = call.disposition.deadline.getTime();
    const notBooked = () =>
      truth.notBooked(slots.every((s) => Date.parse(s.start) > deadline) ? 'all-breach' : 'slots-offered');
    if (next() < 0.15) return notBooked(); // abandoned: nothing suited the patient

    // The handler offers the patient the first few times; the patient picks one.
    const first = slots[Math.floor(next() * Math.min(3, slots.length))]!;
    let attempt = 0;
    const requestId = () => `${call.key}-${(attempt += 1)}`;
    // A slot-taken race now and then: another handler booked the slot first.
    const held = this.#held[dialect];
    // Only slots that have not started: a provider refuses a slot in the past for that reason instead.
    const racing = held.filter((s) => Date.parse(s.start) > Date.now() + 10 * MINUTE_MS);
    if (racing.length > 0 && next() < 0.15) {
      const taken = await client.book(call, pick(next, racing), { requestId: requestId() });
      if (taken.status !== 409 && taken.status !== 422)
        throw new Error(`call ${index}: booking a held slot answered ${taken.status}`);
      truth.failed('slot_unavailable');
    }
    // The provider answers with an error now and then; the handler gives up, or tries again.
    if (next() < 0.12) {
      const error = pick(next, BOOKING_ERRORS);
      const failed = await client.book(call, first, { requestId: requestId(), fault: error.fault });
      if (failed.status !== error.status)
        throw new Error(
          `call ${index}: a booking asked to fail with ${error.status} answered ${failed.status}`,
        );
      truth.failed(error.outcome);
      if (next() < 0.4) return notBooked();
    }
    const bookingId = requestId();
    const appointment = await this.#book(index, client, call, first, bookingId);
    // A booking sent twice (a double click, a retry after a timeout): the repeat is refused.
    if (client.keepsRequestIds && next() < 0.08) {
      const again = await client.book(call, first, { requestId: bookingId });
      if (again.status !== 409) throw new Error(`call ${index}: a repeated booking answered ${again.status}`);
      truth.failed('duplicate');
    }

    const fate = next();
    if (fate < 0.15 && slots.length > 1) {
      // Another time suits the patient better: booked again and the first cancelled, in the call.
      const second = slots.find((s) => s !== first)!;
      if (client.replacesOnRebooking) {
        await this.#book(index, client, call, second, requestId(), appointment);
        await client.cancel(call, appointment, requestId());
      } else if (next() < 0.5) {
        await this.#book(index, client, call, second, requestId());
        await client.cancel(call, appointment, requestId());
      } else {
        await client.cancel(call, appointment, requestId());
        await this.#book(index, client, call, second, requestId());
      }
      truth.cancelled('rebooking');
      truth.rebooked();
      held.push(second);
    } else if (fate < 0.25) {
      await client.cancel(call, appointment, requestId()); // cancelled in the call, not re-booked
      truth.cancelled('same-call');
    } else if (fate < 0.35) {
      // The patient called back to cancel: a call of its own.
      const callback: DemoCall = { ...call, key: `${call.key}-callback`, now: new Date() };
      await client.cancel(callback, appointment, `${callback.key}-1`);
      truth.cancelled('later-call');
    } else {
      held.push(first);
    }
  }

  /** A booking that must succeed; counted. */
  async #book(
    index: number,
    client: DialectClient,
    call: DemoCall,
    slot: OfferedSlot,
    requestId: string,
    replaces?: BookedAppointment,
  ): Promise<BookedAppointment> {
    const booked = await client.book(call, slot, { requestId, ...(replaces ? { replaces } : {}) });
    if (!booked.appointment) throw new Error(`call ${index}: booking a free slot answered ${booked.status}`);
    this.truth.booked(client.provider, call.service, call.disposition.code);
    return booked.appointment;
  }

  /**
   * The Directory of Services' ranked list the handler chose from (posted with the referral): the
   * service first, or second after another (bookable or not), as the handler saw it.
   */
  #selection(call: DemoCall, client: DialectClient): Json {
    const next = this.#next;
    const other = pick(
      next,
      SANDBOX_SERVICES.filter((s) => s.id !== call.service),
    ).id;
    const chosenFirst = next() < 0.5;
    const otherEntry = { serviceId: other, bookable: next() < 0.5 };
    const ranked = chosenFirst
      ? [{ serviceId: call.service, bookable: true }, otherEntry]
      : [otherEntry, { serviceId: call.service, bookable: true }];
    this.truth.selection(!chosenFirst && otherEntry.bookable);
    return {
      id: `${call.key}-selection`,
      type: 'service.selected',
      occurredAt: call.now.toISOString(),
      correlation: client.selectionKeys(call),
      disposition: { code: call.disposition.spelled, at: call.disposition.at.toISOString() },
      ranked,
      chosenServiceId: call.service,
    };
  }

  /**
   * The search window: mostly from now until a day past the deadline; now and then only after the
   * deadline (the patient cannot come sooner: every slot offered would breach), or a month ahead,
   * beyond the sandbox's diary (nothing offered).
   */
  #window(call: DemoCall): { from: Date; to: Date } {
    const roll = this.#next();
    const now = call.now.getTime();
    const deadline = call.disposition.deadline.getTime();
    if (roll < 0.1) return { from: new Date(now + 30 * DAY_MS), to: new Date(now + 31 * DAY_MS) };
    // From a few minutes ahead: a slot starting while it is being booked would be refused as past.
    return {
      from: new Date(roll < 0.25 ? deadline + HOUR_MS : now + 5 * MINUTE_MS),
      to: new Date(deadline + DAY_MS),
    };
  }
}

/** Runs the calls; resolves with the ground truth. */
export async function runDemo(options: DemoOptions): Promise<GroundTruth> {
  const run = new DemoRun(options);
  for (let i = 0; i < options.calls; i++) {
    await run.call(i);
    options.onProgress?.(i + 1);
  }
  return run.truth.truth(options.calls, options.seed);
}
