import type { Request } from 'express';
import { isValidNhsNumber, NHS_NUMBER_SYSTEM } from '../fhir/nhs-number.js';
import type { CancelResult, StoredAppointment } from './diary.js';
import type { Interaction } from './faults.js';
import { object, objects, text, type Json } from '../fhir/json.js';
import { failure } from './outcomes.js';
import { appointmentResource, searchset, type Linker } from './resources.js';
import type { SandboxResponse } from './respond.js';
import type { SandboxContext } from './sandbox-context.js';

/*
 * The REST appointment interactions shared by the STU3 Booking Standard and GP Connect: book with
 * POST Appointment (201, Location, ETag), cancel or amend with PUT and If-Match, read, and a patient's
 * appointments. Where the two differ (GP Connect's booking organisation and cancellation reason, the
 * patient as a reference rather than a contained resource) the dialect decides.
 */

type RestDialect = 'stu3' | 'gpconnect';

const GPC_BOOKING_ORGANISATION = 'Extension-GPConnect-BookingOrganisation';
const GPC_CANCELLATION_REASON = 'Extension-GPConnect-AppointmentCancellationReason';

function hasExtension(resource: Json, fragment: string): boolean {
  return objects(resource.extension).some((e) => text(e.url).includes(fragment));
}

function contained(resource: Json, reference: string): Json | undefined {
  if (!reference.startsWith('#')) return undefined;
  return objects(resource.contained).find((c) => c.id === reference.slice(1));
}

function appointmentBody(dialect: RestDialect, req: Request): Json {
  const body = object(req.body);
  if (body?.resourceType !== 'Appointment') {
    throw failure(dialect, 'invalid', {
      diagnostics: 'The body must be a FHIR Appointment',
      expression: 'Appointment',
    });
  }
  return body;
}

/** The diary slot ids an Appointment asks for: `#contained` Slots (by id) or `Slot/{id}` references. */
function requestedSlots(ctx: SandboxContext, dialect: RestDialect, appointment: Json): string[] {
  const refs = Array.isArray(appointment.slot) ? (appointment.slot as unknown[]) : [];
  if (refs.length === 0) {
    throw failure(dialect, 'unprocessable', {
      diagnostics: 'The Appointment names no slot',
      expression: 'Appointment.slot',
    });
  }
  return refs.map((ref, i) => {
    const reference = text(object(ref)?.reference);
    const slot = contained(appointment, reference);
    const id = slot ? text(slot.id) : reference.replace(/^.*Slot\//, '');
    if (!id || !ctx.diary.slot(id)) {
      throw failure(dialect, 'unprocessable', {
        diagnostics: `Slot ${id || reference || '(none)'} is not known to this provider`,
        expression: `Appointment.slot[${i}]`,
      });
    }
    return id;
  });
}

/** STU3: the patient is a contained Patient (`#P1`) with an NHS number; GP Connect: a `Patient/{id}` reference. */
function patientOf(dialect: RestDialect, appointment: Json): { nhsNumber?: string; patientRef?: string } {
  for (const participant of objects(appointment.participant)) {
    const reference = text(object(participant.actor)?.reference);
    if (dialect === 'gpconnect' && reference.startsWith('Patient/')) {
      const patientRef = reference.slice('Patient/'.length);
      const nhsNumber = /^P(\d{10})$/.exec(patientRef)?.[1];
      return { patientRef, ...(nhsNumber ? { nhsNumber } : {}) };
    }
    const patient = contained(appointment, reference);
    if (patient?.resourceType === 'Patient') {
      const nhs = objects(patient.identifier).find((id) => id.system === NHS_NUMBER_SYSTEM);
      const value = text(nhs?.value).replace(/\s/g, '');
      if (!isValidNhsNumber(value)) {
        throw failure(dialect, 'invalid-nhs-number', {
          diagnostics: 'The patient has no valid NHS number',
          expression: 'Patient.identifier',
        });
      }
      return { nhsNumber: value };
    }
  }
  throw failure(dialect, 'unprocessable', {
    diagnostics: 'The Appointment has no patient participant',
    expression: 'Appointment.participant',
  });
}

function versioned(
  link: Linker,
  stored: StoredAppointment,
  status: number,
  location = false,
): SandboxResponse {
  return {
    status,
    headers: {
      ETag: `W/"${stored.version}"`,
      'Last-Modified': stored.lastUpdated.toUTCString(),
      ...(location ? { Location: `${link.base}/Appointment/${stored.id}/_history/${stored.version}` } : {}),
    },
    body: appointmentResource(link, stored),
  };
}

/** POST Appointment. */
export function bookRest(
  ctx: SandboxContext,
  dialect: RestDialect,
  req: Request,
  link: Linker,
): SandboxResponse {
  const appointment = appointmentBody(dialect, req);
  if (appointment.status !== 'booked') {
    throw failure(dialect, 'unprocessable', {
      diagnostics: 'A new Appointment must have status booked',
      expression: 'Appointment.status',
    });
  }
  if (dialect === 'gpconnect' && !hasExtension(appointment, GPC_BOOKING_ORGANISATION)) {
    throw failure(dialect, 'unprocessable', {
      diagnostics: 'GP Connect bookings carry the booking organisation extension',
      expression: 'Appointment.extension',
    });
  }
  const slotIds = requestedSlots(ctx, dialect, appointment);
  const patient = patientOf(dialect, appointment);
  // GP Connect has no duplicate-request answer (booking-standards.md); STU3 keys on X-Request-ID.
  const requestKey = dialect === 'stu3' ? req.get('x-request-id') : undefined;
  const result = ctx.diary.book({
    dialect,
    slotIds,
    now: ctx.clock(),
    resource: appointment,
    ...(patient.nhsNumber ? { patientNhsNumber: patient.nhsNumber } : {}),
    ...(patient.patientRef ? { patientRef: patient.patientRef } : {}),
    ...(requestKey ? { requestKey } : {}),
  });
  if (!result.ok) {
    switch (result.reason) {
      case 'duplicate':
        throw failure(dialect, 'duplicate');
      case 'slot-unavailable':
        throw failure(dialect, 'slot-unavailable', { stu3SlotConflictStatus: ctx.stu3SlotConflictStatus });
      case 'slot-in-past':
        throw failure(dialect, 'unprocessable', {
          diagnostics: 'The slot has already started',
          expression: 'Appointment.slot',
        });
      case 'slot-unknown':
        throw failure(dialect, 'unprocessable', {
          diagnostics: 'The slot is not known to this provider',
          expression: 'Appointment.slot',
        });
    }
  }
  return versioned(link, result.appointment, 201, true);
}

/** `W/"3"`, `"3"` or `3` → 3. */
function ifMatchVersion(dialect: RestDialect, req: Request): number {
  const header = req.get('if-match');
  if (!header) throw failure(dialect, 'precondition-required');
  const match = /^(?:W\/)?"?(\d+)"?$/.exec(header.trim());
  if (!match) {
    throw failure(dialect, 'invalid', {
      diagnostics: `If-Match is not a version: ${header}`,
      expression: 'If-Match',
    });
  }
  return Number(match[1]);
}

/** Faults on a PUT are aimed by what it does: `cancel`, or `update` for an amend that keeps it booked. */
export function updateInteraction(req: Request): Interaction {
  return object(req.body)?.status === 'booked' ? 'update' : 'cancel';
}

function changeFailed(dialect: RestDialect, id: string, result: Extract<CancelResult, { ok: false }>): never {
  switch (result.reason) {
    case 'not-found':
      throw failure(dialect, 'not-found', { diagnostics: `No Appointment ${id}` });
    case 'version-conflict':
      throw failure(dialect, 'version-conflict');
    case 'duplicate':
      throw failure(dialect, 'duplicate');
    case 'already-cancelled':
      throw failure(dialect, 'unprocessable', {
        diagnostics: 'The appointment is already cancelled',
        expression: 'Appointment.status',
      });
  }
}

/** PUT Appointment/{id}: cancel (status cancelled) or, keeping status booked and its slots, amend. */
export function updateRest(
  ctx: SandboxContext,
  dialect: RestDialect,
  req: Request,
  link: Linker,
): SandboxResponse {
  const id = String(req.params.id);
  const stored = ctx.diary.appointment(id, dialect);
  if (!stored) throw failure(dialect, 'not-found', { diagnostics: `No Appointment ${id}` });
  const appointment = appointmentBody(dialect, req);
  if (appointment.id !== undefined && appointment.id !== id) {
    throw failure(dialect, 'invalid', {
      diagnostics: 'The body id differs from the URL',
      expression: 'Appointment.id',
    });
  }
  const expectedVersion = ifMatchVersion(dialect, req);
  const now = ctx.clock();
  let result: CancelResult;
  if (appointment.status === 'cancelled' || appointment.status === 'entered-in-error') {
    if (dialect === 'gpconnect' && !hasExtension(appointment, GPC_CANCELLATION_REASON)) {
      throw failure(dialect, 'unprocessable', {
        diagnostics: 'A GP Connect cancellation carries the cancellation reason extension',
        expression: 'Appointment.extension',
      });
    }
    result = ctx.diary.cancel({
      id,
      dialect,
      now,
      status: appointment.status,
      expectedVersion,
      resource: appointment,
    });
  } else if (appointment.status === 'booked') {
    // An amend changes details, never the time: moving a booking is a cancel and a new booking.
    const slots = requestedSlots(ctx, dialect, appointment);
    if (slots.join() !== stored.slotIds.join()) {
      throw failure(dialect, 'unprocessable', {
        diagnostics: 'An amendment cannot move the appointment to other slots; cancel it and book again',
        expression: 'Appointment.slot',
      });
    }
    result = ctx.diary.amend({ id, dialect, now, expectedVersion, resource: appointment });
  } else {
    throw failure(dialect, 'unprocessable', {
      diagnostics: `Status ${text(appointment.status) || '(none)'} cannot be set here`,
      expression: 'Appointment.status',
    });
  }
  if (!result.ok) changeFailed(dialect, id, result);
  return versioned(link, result.appointment, 200);
}

/** GET Appointment/{id}. */
export function readRest(
  ctx: SandboxContext,
  dialect: 'stu3' | 'gpconnect' | 'bars',
  req: Request,
  link: Linker,
): SandboxResponse {
  const stored = ctx.diary.appointment(String(req.params.id), dialect);
  if (!stored)
    throw failure(dialect, 'not-found', { diagnostics: `No Appointment ${String(req.params.id)}` });
  return versioned(link, stored, 200);
}

/** A patient's appointments as a searchset. */
export function appointmentsSearchset(
  ctx: SandboxContext,
  link: Linker,
  selfUrl: string,
  appointments: StoredAppointment[],
): SandboxResponse {
  return {
    status: 200,
    body: searchset(
      link,
      selfUrl,
      appointments.map((a) => appointmentResource(link, a)),
      [],
      ctx.clock(),
    ),
  };
}

/** The NHS number in `identifier=https://fhir.nhs.uk/Id/nhs-number|943...` (any of the parameter names). */
export function nhsNumberParam(params: URLSearchParams, names: string[]): string | undefined {
  for (const name of names) {
    for (const [key, value] of params) {
      if (key.toLowerCase() !== name) continue;
      const [system, number] = value.includes('|') ? value.split('|', 2) : [NHS_NUMBER_SYSTEM, value];
      if (system === NHS_NUMBER_SYSTEM && number) return number.replace(/\s/g, '');
    }
  }
  return undefined;
}
