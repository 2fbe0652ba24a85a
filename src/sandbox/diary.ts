import type { Dialect } from '../config/config.types.js';
import { SANDBOX_SERVICES, type SandboxService } from './catalogue.js';
import { londonInstant, londonWallClock } from '../fhir/fhir-time.js';
import { seededRandom } from './random.js';

export type SlotStatus = 'free' | 'busy';

/** One bookable slot in one clinician's diary. */
export interface DiarySlot {
  id: string;
  serviceId: string;
  scheduleId: string;
  start: Date;
  end: Date;
  status: SlotStatus;
}

export type AppointmentStatus = 'booked' | 'cancelled' | 'entered-in-error';

/** An appointment the sandbox holds, with the resource as the consumer last sent it. */
export interface StoredAppointment {
  id: string;
  dialect: Dialect;
  serviceId: string;
  slotIds: string[];
  status: AppointmentStatus;
  version: number;
  patientNhsNumber?: string;
  patientRef?: string;
  /** When the appointment is: its slots' start and end, whatever the consumer wrote. */
  start: Date;
  end: Date;
  created: Date;
  lastUpdated: Date;
  resource: Record<string, unknown>;
}

/** A referral (BaRS ServiceRequest) the sandbox accepted. */
export interface StoredReferral {
  id: string;
  serviceId?: string;
  received: Date;
  serviceRequest: Record<string, unknown>;
}

export type BookResult =
  | { ok: true; appointment: StoredAppointment }
  | { ok: false; reason: 'slot-unknown' | 'slot-unavailable' | 'duplicate' | 'slot-in-past' };

export type CancelResult =
  | { ok: true; appointment: StoredAppointment }
  | { ok: false; reason: 'not-found' | 'version-conflict' | 'already-cancelled' | 'duplicate' };

export interface DiaryOptions {
  seed: number;
  /** How many days of slots, from today. */
  days: number;
  /** The moment the diaries are generated from (today = its London calendar day). */
  now: Date;
  /** Share of slots already taken when the diary is made (the world is busy), 0..1. */
  prebookedShare?: number;
}

export interface SlotQuery {
  dialect: Dialect;
  serviceIds?: string[];
  from?: Date;
  to?: Date;
  /** Latest end. */
  endTo?: Date;
  statuses: SlotStatus[];
  /** Slots starting before this are never offered. */
  notBefore: Date;
}

const SLOT_MINUTES = [10, 15, 20, 30];

/**
 * The sandbox's world: services, their slots, appointments and referrals. Every change is synchronous,
 * so two bookings of one slot racing through HTTP are decided here, one after the other: exactly one
 * wins. Made deterministically from a seed: the same seed on the same day gives the same diaries.
 */
export class Diary {
  readonly #slots = new Map<string, DiarySlot>();
  readonly #appointments = new Map<string, StoredAppointment>();
  readonly #referrals = new Map<string, StoredReferral>();
  readonly #requestKeys = new Map<string, string>();
  readonly #services: readonly SandboxService[];
  #nextAppointment = 1;
  readonly #seed: number;

  constructor(options: DiaryOptions) {
    this.#seed = options.seed;
    this.#services = SANDBOX_SERVICES;
    const random = seededRandom(options.seed);
    const prebooked = options.prebookedShare ?? 0.25;
    // Today is the London calendar day (between midnight and 01:00 BST it is still yesterday in UTC).
    const today = new Date(`${londonInstant(options.now).slice(0, 10)}T00:00:00Z`);
    for (const service of this.#services) {
      const minutes = SLOT_MINUTES[Math.floor(random() * SLOT_MINUTES.length)]!;
      for (let day = 0; day < options.days; day++) {
        const date = new Date(today.getTime() + day * 86_400_000);
        const [open, close] = service.openHours;
        for (const schedule of service.schedules) {
          for (let t = open * 60; t + minutes <= close * 60; t += minutes) {
            const start = londonWallClock(date, Math.floor(t / 60), t % 60);
            const id = `${service.id}-${schedule.id.replace('sched-', '')}-${start.toISOString().slice(0, 16).replace(/[-T:]/g, '')}`;
            this.#slots.set(id, {
              id,
              serviceId: service.id,
              scheduleId: schedule.id,
              start,
              end: new Date(start.getTime() + minutes * 60_000),
              status: random() < prebooked ? 'busy' : 'free',
            });
          }
        }
      }
    }
  }

  /** The services of one dialect (or all). */
  services(dialect?: Dialect): SandboxService[] {
    return this.#services.filter((s) => !dialect || s.dialect === dialect);
  }

  service(id: string): SandboxService | undefined {
    return this.#services.find((s) => s.id === id);
  }

  slot(id: string): DiarySlot | undefined {
    return this.#slots.get(id);
  }

  /** A slot of a service by its start time (for consumers that send the slot without its id). */
  slotAt(serviceId: string, start: Date): DiarySlot | undefined {
    let busy: DiarySlot | undefined;
    for (const slot of this.#slots.values()) {
      if (slot.serviceId !== serviceId || slot.start.getTime() !== start.getTime()) continue;
      if (slot.status === 'free') return slot;
      busy ??= slot;
    }
    return busy;
  }

  /** Slots matching a search, earliest first. */
  findSlots(query: SlotQuery): DiarySlot[] {
    const services = new Set(
      this.services(query.dialect)
        .filter((s) => !query.serviceIds || query.serviceIds.includes(s.id))
        .map((s) => s.id),
    );
    const found: DiarySlot[] = [];
    for (const slot of this.#slots.values()) {
      if (!services.has(slot.serviceId) || !query.statuses.includes(slot.status)) continue;
      if (slot.start < query.notBefore) continue;
      if (query.from && slot.start < query.from) continue;
      if (query.to && slot.start > query.to) continue;
      if (query.endTo && slot.end > query.endTo) continue;
      found.push(slot);
    }
    return found.sort((a, b) => a.start.getTime() - b.start.getTime() || a.id.localeCompare(b.id));
  }

  /**
   * Books the slots for a patient, all or nothing. `requestKey` (the consumer's request id) makes a
   * repeat of an accepted booking a duplicate rather than a second appointment.
   */
  book(input: {
    dialect: Dialect;
    slotIds: string[];
    now: Date;
    requestKey?: string;
    patientNhsNumber?: string;
    patientRef?: string;
    resource: Record<string, unknown>;
  }): BookResult {
    if (input.requestKey && this.#requestKeys.has(`${input.dialect}:${input.requestKey}`)) {
      return { ok: false, reason: 'duplicate' };
    }
    const slots = input.slotIds.map((id) => this.#slots.get(id));
    if (slots.length === 0 || slots.some((s) => !s || this.service(s.serviceId)?.dialect !== input.dialect)) {
      return { ok: false, reason: 'slot-unknown' };
    }
    const found = slots as DiarySlot[];
    if (found.some((s) => s.start < input.now)) return { ok: false, reason: 'slot-in-past' };
    if (found.some((s) => s.status !== 'free')) return { ok: false, reason: 'slot-unavailable' };
    for (const slot of found) slot.status = 'busy';
    const start = new Date(Math.min(...found.map((s) => s.start.getTime())));
    const end = new Date(Math.max(...found.map((s) => s.end.getTime())));
    const id = `${this.#seed.toString(36)}-${input.dialect}-${String(this.#nextAppointment++).padStart(6, '0')}`;
    const appointment: StoredAppointment = {
      id,
      dialect: input.dialect,
      serviceId: found[0]!.serviceId,
      slotIds: found.map((s) => s.id),
      status: 'booked',
      version: 1,
      start,
      end,
      created: input.now,
      lastUpdated: input.now,
      resource: input.resource,
      ...(input.patientNhsNumber ? { patientNhsNumber: input.patientNhsNumber } : {}),
      ...(input.patientRef ? { patientRef: input.patientRef } : {}),
    };
    this.#appointments.set(id, appointment);
    if (input.requestKey) this.#requestKeys.set(`${input.dialect}:${input.requestKey}`, id);
    return { ok: true, appointment };
  }

  /**
   * Cancels an appointment and frees its slots. `expectedVersion`, when given, must be the current
   * version (optimistic locking, as `If-Match` asks).
   */
  cancel(input: {
    id: string;
    dialect: Dialect;
    now: Date;
    status: 'cancelled' | 'entered-in-error';
    expectedVersion?: number;
    /** The consumer's request id: a cancellation sent again is a duplicate, not a conflict. */
    requestKey?: string;
    resource?: Record<string, unknown>;
  }): CancelResult {
    const key = input.requestKey ? `${input.dialect}:cancel:${input.requestKey}` : undefined;
    if (key && this.#requestKeys.has(key)) return { ok: false, reason: 'duplicate' };
    const found = this.#changeable(input.id, input.dialect, input.expectedVersion);
    if (!found.ok) return found;
    const appointment = found.appointment;
    appointment.status = input.status;
    appointment.version += 1;
    appointment.lastUpdated = input.now;
    if (input.resource) appointment.resource = input.resource;
    for (const slotId of appointment.slotIds) {
      const slot = this.#slots.get(slotId);
      if (slot) slot.status = 'free';
    }
    if (key) this.#requestKeys.set(key, appointment.id);
    return { ok: true, appointment };
  }

  /** Changes a booked appointment without moving it (GP Connect's amend), under the same version check. */
  amend(input: {
    id: string;
    dialect: Dialect;
    now: Date;
    expectedVersion?: number;
    resource: Record<string, unknown>;
  }): CancelResult {
    const found = this.#changeable(input.id, input.dialect, input.expectedVersion);
    if (!found.ok) return found;
    const appointment = found.appointment;
    appointment.version += 1;
    appointment.lastUpdated = input.now;
    appointment.resource = input.resource;
    return { ok: true, appointment };
  }

  /** A booked appointment that may change: it exists in this dialect, at the version the caller expects. */
  #changeable(id: string, dialect: Dialect, expectedVersion: number | undefined): CancelResult {
    const appointment = this.#appointments.get(id);
    if (!appointment || appointment.dialect !== dialect) return { ok: false, reason: 'not-found' };
    if (expectedVersion !== undefined && expectedVersion !== appointment.version) {
      return { ok: false, reason: 'version-conflict' };
    }
    if (appointment.status !== 'booked') return { ok: false, reason: 'already-cancelled' };
    return { ok: true, appointment };
  }

  appointment(id: string, dialect: Dialect): StoredAppointment | undefined {
    const found = this.#appointments.get(id);
    return found?.dialect === dialect ? found : undefined;
  }

  /** A patient's appointments in one dialect, by NHS number or by the provider's patient reference. */
  appointmentsFor(
    dialect: Dialect,
    patient: { nhsNumber?: string; patientRef?: string },
  ): StoredAppointment[] {
    return [...this.#appointments.values()].filter(
      (a) =>
        a.dialect === dialect &&
        ((patient.nhsNumber !== undefined && a.patientNhsNumber === patient.nhsNumber) ||
          (patient.patientRef !== undefined && a.patientRef === patient.patientRef)),
    );
  }

  /** Keeps a referral; a repeated request key is refused as a duplicate. */
  addReferral(input: {
    now: Date;
    serviceId?: string;
    requestKey?: string;
    serviceRequest: Record<string, unknown>;
  }): { ok: true; referral: StoredReferral } | { ok: false; reason: 'duplicate' } {
    if (input.requestKey && this.#requestKeys.has(`referral:${input.requestKey}`)) {
      return { ok: false, reason: 'duplicate' };
    }
    const id = `${this.#seed.toString(36)}-sr-${String(this.#referrals.size + 1).padStart(6, '0')}`;
    const referral: StoredReferral = {
      id,
      received: input.now,
      serviceRequest: input.serviceRequest,
      ...(input.serviceId ? { serviceId: input.serviceId } : {}),
    };
    this.#referrals.set(id, referral);
    if (input.requestKey) this.#requestKeys.set(`referral:${input.requestKey}`, id);
    return { ok: true, referral };
  }

  referral(id: string): StoredReferral | undefined {
    return this.#referrals.get(id);
  }
}
