import { randomUUID } from 'node:crypto';
import type { Request } from 'express';
import { isValidNhsNumber, NHS_NUMBER_SYSTEM } from '../../fhir/nhs-number.js';
import type { StoredAppointment } from '../diary.js';
import type { Interaction } from '../faults.js';
import { parseFhirDate } from '../../fhir/fhir-time.js';
import { object, objects, text, type Json } from '../../fhir/json.js';
import { failure } from '../outcomes.js';
import { appointmentResource, slotResource, type Linker } from '../resources.js';
import type { SandboxResponse } from '../respond.js';
import type { SandboxContext } from '../sandbox-context.js';

/*
 * BaRS `POST /$process-message`: a message Bundle whose MessageHeader says what it is.
 * booking-request with a booked Appointment books, with a cancelled or entered-in-error Appointment
 * cancels (the reason code varies between the guide and its examples, so the status decides);
 * servicerequest-request is a referral, kept. The response echoes the request's entries under a new
 * MessageHeader (`response.code` ok), with the provider's versions of the focus and the booked Slot, so
 * every reference in it still resolves, as in the published response example.
 */

interface Message {
  bundle: Json;
  header: Json;
  entries: Json[];
}

function readMessage(req: Request): Message {
  const bundle = object(req.body);
  if (bundle?.resourceType !== 'Bundle' || bundle.type !== 'message' || !Array.isArray(bundle.entry)) {
    throw failure('bars', 'invalid', {
      diagnostics: 'The body must be a message Bundle',
      expression: 'Bundle.type',
    });
  }
  const entries = objects(bundle.entry);
  const header = object(entries[0]?.resource);
  if (header?.resourceType !== 'MessageHeader') {
    throw failure('bars', 'invalid', {
      diagnostics: 'The first entry must be the MessageHeader',
      expression: 'Bundle.entry[0]',
    });
  }
  return { bundle, header, entries };
}

/** The entry a reference points at: by `fullUrl` (`urn:uuid:`) or by `Type/id`. */
function resolveEntry(message: Message, reference: unknown): Json | undefined {
  const ref = text(reference);
  if (!ref) return undefined;
  return message.entries.find((entry) => {
    const resource = object(entry.resource);
    return (
      resource && (entry.fullUrl === ref || `${text(resource.resourceType)}/${text(resource.id)}` === ref)
    );
  });
}

function resolve(message: Message, reference: unknown): Json | undefined {
  return object(resolveEntry(message, reference)?.resource);
}

/** The DoS service the message is for: `NHSD-Target-Identifier`, else the MessageHeader destination endpoint. */
function targetService(req: Request, message: Message): string | undefined {
  const header = req.get('nhsd-target-identifier');
  if (header) {
    let decoded: unknown;
    try {
      decoded = JSON.parse(Buffer.from(header, 'base64').toString('utf8'));
    } catch {
      decoded = undefined;
    }
    const value = text(object(decoded)?.value);
    if (!value) {
      throw failure('bars', 'invalid', {
        diagnostics: 'NHSD-Target-Identifier is not base64 JSON with a value',
        expression: 'NHSD-Target-Identifier',
      });
    }
    return value;
  }
  const endpoint = objects(message.header.destination)
    .map((d) => text(d.endpoint))
    .find((e) => e.includes('|'));
  return endpoint?.split('|').pop();
}

/** The target service, which must be one of this receiver's. */
function knownService(ctx: SandboxContext, req: Request, message: Message): string | undefined {
  const service = targetService(req, message);
  if (service && !ctx.diary.services('bars').some((s) => s.id === service)) {
    throw failure('bars', 'not-found', { diagnostics: `This receiver has no service ${service}` });
  }
  return service;
}

function eventCode(message: Message): string {
  return text(object(message.header.eventCoding)?.code);
}

function focusEntry(message: Message, type: string): Json {
  const entry = resolveEntry(message, object(objects(message.header.focus)[0])?.reference);
  if (object(entry?.resource)?.resourceType !== type) {
    throw failure('bars', 'invalid', {
      diagnostics: `The message focus must be a ${type}`,
      expression: 'MessageHeader.focus',
    });
  }
  return entry!;
}

/** The response message: the request's entries, with the focus (and the booked Slot) as now held. */
function responseMessage(
  link: Linker,
  message: Message,
  replaced: Map<Json, Json>,
  focusFullUrl: string,
  focusType: string,
  now: Date,
): Json {
  const headerId = randomUUID();
  const header = {
    resourceType: 'MessageHeader',
    id: headerId,
    eventCoding: message.header.eventCoding,
    ...(message.header.reason ? { reason: message.header.reason } : {}),
    ...(message.header.sender
      ? { destination: [{ endpoint: 'sender', receiver: message.header.sender }] }
      : {}),
    source: { endpoint: link.base, software: 'booking-event-collector sandbox' },
    response: { identifier: text(message.header.id) || text(message.bundle.id), code: 'ok' },
    focus: [{ reference: focusFullUrl, type: focusType }],
  };
  return {
    resourceType: 'Bundle',
    id: randomUUID(),
    meta: {
      lastUpdated: link.instant(now),
      profile: ['https://fhir.hl7.org.uk/StructureDefinition/UKCore-Bundle'],
    },
    type: 'message',
    timestamp: link.instant(now),
    entry: [
      { fullUrl: `urn:uuid:${headerId}`, resource: header },
      ...message.entries
        .slice(1)
        .map((entry) => ({ ...entry, resource: replaced.get(entry) ?? entry.resource })),
    ],
  };
}

function requestKey(req: Request, message: Message): string | undefined {
  return req.get('x-request-id') ?? (text(message.bundle.id) || undefined);
}

function slotFor(
  ctx: SandboxContext,
  req: Request,
  message: Message,
  appointment: Json,
): { id: string; entry?: Json } {
  const ref = object(objects(appointment.slot)[0])?.reference;
  const entry = resolveEntry(message, ref);
  const slot = object(entry?.resource);
  const direct = text(slot?.id) || text(ref).replace(/^.*Slot\//, '');
  if (direct && ctx.diary.slot(direct)) return { id: direct, ...(entry ? { entry } : {}) };
  // The BaRS examples send the Slot without the provider's id: find it by service and start.
  const service = knownService(ctx, req, message);
  const start = parseFhirDate(text(slot?.start));
  const found = service && start ? ctx.diary.slotAt(service, start) : undefined;
  if (!found) {
    throw failure('bars', 'unprocessable', {
      diagnostics: 'The slot is not known to this provider',
      expression: 'Appointment.slot',
    });
  }
  return { id: found.id, ...(entry ? { entry } : {}) };
}

function patientNhsNumber(message: Message, appointment: Json): string {
  for (const participant of objects(appointment.participant)) {
    const patient = resolve(message, object(participant.actor)?.reference);
    if (patient?.resourceType !== 'Patient') continue;
    const nhs = objects(patient.identifier).find((i) => i.system === NHS_NUMBER_SYSTEM);
    if (isValidNhsNumber(text(nhs?.value))) return text(nhs?.value);
    throw failure('bars', 'invalid-nhs-number', {
      diagnostics: 'The patient has no valid NHS number',
      expression: 'Patient.identifier',
    });
  }
  throw failure('bars', 'unprocessable', {
    diagnostics: 'The Appointment has no patient',
    expression: 'Appointment.participant',
  });
}

function bookingResponse(
  ctx: SandboxContext,
  link: Linker,
  message: Message,
  focus: Json,
  stored: StoredAppointment,
  slotEntry: Json | undefined,
  now: Date,
): SandboxResponse {
  const replaced = new Map<Json, Json>([[focus, appointmentResource(link, stored)]]);
  const slot = ctx.diary.slot(stored.slotIds[0]!);
  if (slotEntry && slot)
    replaced.set(slotEntry, slotResource(link, slot, ctx.diary.service(slot.serviceId)!));
  return {
    status: 200,
    body: responseMessage(link, message, replaced, text(focus.fullUrl), 'Appointment', now),
  };
}

function book(
  ctx: SandboxContext,
  req: Request,
  link: Linker,
  message: Message,
  focus: Json,
): SandboxResponse {
  const appointment = object(focus.resource)!;
  const slot = slotFor(ctx, req, message, appointment);
  const nhsNumber = patientNhsNumber(message, appointment);
  const key = requestKey(req, message);
  const now = ctx.clock();
  const result = ctx.diary.book({
    dialect: 'bars',
    slotIds: [slot.id],
    now,
    patientNhsNumber: nhsNumber,
    resource: appointment,
    ...(key ? { requestKey: key } : {}),
  });
  if (!result.ok) {
    switch (result.reason) {
      case 'duplicate':
        throw failure('bars', 'duplicate');
      case 'slot-unavailable':
        throw failure('bars', 'slot-unavailable');
      case 'slot-in-past':
      case 'slot-unknown':
        throw failure('bars', 'unprocessable', {
          diagnostics: 'The slot cannot be booked',
          expression: 'Appointment.slot',
        });
    }
  }
  return bookingResponse(ctx, link, message, focus, result.appointment, slot.entry, now);
}

function cancel(
  ctx: SandboxContext,
  req: Request,
  link: Linker,
  message: Message,
  focus: Json,
): SandboxResponse {
  const appointment = object(focus.resource)!;
  const id = text(appointment.id);
  if (!id) {
    throw failure('bars', 'unprocessable', {
      diagnostics: 'A cancellation names the Appointment id',
      expression: 'Appointment.id',
    });
  }
  const versionId = text(object(appointment.meta)?.versionId);
  const key = requestKey(req, message);
  const now = ctx.clock();
  const result = ctx.diary.cancel({
    id,
    dialect: 'bars',
    now,
    status: appointment.status as 'cancelled' | 'entered-in-error',
    resource: appointment,
    ...(/^\d+$/.test(versionId) ? { expectedVersion: Number(versionId) } : {}),
    ...(key ? { requestKey: key } : {}),
  });
  if (!result.ok) {
    switch (result.reason) {
      case 'not-found':
        throw failure('bars', 'not-found', { diagnostics: `No Appointment ${id}` });
      case 'duplicate':
        throw failure('bars', 'duplicate');
      case 'version-conflict':
      case 'already-cancelled':
        throw failure('bars', 'version-conflict');
    }
  }
  return bookingResponse(ctx, link, message, focus, result.appointment, undefined, now);
}

function referral(ctx: SandboxContext, req: Request, link: Linker, message: Message): SandboxResponse {
  const focus = focusEntry(message, 'ServiceRequest');
  const service = knownService(ctx, req, message);
  const key = requestKey(req, message);
  const now = ctx.clock();
  const result = ctx.diary.addReferral({
    now,
    serviceRequest: object(focus.resource)!,
    ...(service ? { serviceId: service } : {}),
    ...(key ? { requestKey: key } : {}),
  });
  if (!result.ok) throw failure('bars', 'duplicate');
  const accepted = {
    ...result.referral.serviceRequest,
    id: result.referral.id,
    meta: { versionId: '1', lastUpdated: link.instant(now) },
  };
  const replaced = new Map<Json, Json>([[focus, accepted]]);
  return {
    status: 200,
    body: responseMessage(link, message, replaced, text(focus.fullUrl), 'ServiceRequest', now),
  };
}

/** `POST /$process-message`: books, cancels or takes a referral, by the message's event and focus. */
export function processMessage(ctx: SandboxContext, req: Request, link: Linker): SandboxResponse {
  const message = readMessage(req);
  switch (eventCode(message)) {
    case 'booking-request': {
      const focus = focusEntry(message, 'Appointment');
      const status = object(focus.resource)!.status;
      if (status === 'booked') return book(ctx, req, link, message, focus);
      if (status === 'cancelled' || status === 'entered-in-error')
        return cancel(ctx, req, link, message, focus);
      throw failure('bars', 'unprocessable', {
        diagnostics: `A booking-request Appointment cannot have status ${text(status) || '(none)'}`,
        expression: 'Appointment.status',
      });
    }
    case 'servicerequest-request':
      return referral(ctx, req, link, message);
    default:
      throw failure('bars', 'unprocessable', {
        diagnostics: `Event ${eventCode(message) || '(none)'} is not handled by this receiver`,
        expression: 'MessageHeader.eventCoding',
      });
  }
}

/** The interaction a message is, for aiming faults before it is processed. */
export function messageInteraction(req: Request): Interaction {
  const entries = objects(object(req.body)?.entry);
  const header = object(entries[0]?.resource);
  if (object(header?.eventCoding)?.code === 'servicerequest-request') return 'referral';
  const statuses = entries.map((e) => object(e.resource)?.status);
  return statuses.includes('cancelled') || statuses.includes('entered-in-error') ? 'cancel' : 'book';
}
