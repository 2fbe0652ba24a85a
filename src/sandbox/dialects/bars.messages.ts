import { randomUUID } from 'node:crypto';
import type { Request } from 'express';
import { isValidNhsNumber, NHS_NUMBER_SYSTEM } from '../../fhir/nhs-number.js';
import type { StoredAppointment } from '../diary.js';
import { text } from '../json.js';
import { failure } from '../outcomes.js';
import { appointmentResource, type Linker } from '../resources.js';
import type { SandboxResponse } from '../respond.js';
import type { SandboxContext } from '../sandbox-context.js';
import { parseFhirDate } from '../fhir-time.js';

/*
 * BaRS `POST /$process-message`: a message Bundle whose MessageHeader says what it is.
 * booking-request with a booked Appointment books, with a cancelled or entered-in-error Appointment
 * cancels (the reason code varies between the guide and its examples, so the status decides);
 * servicerequest-request is a referral, kept.
 */

type Json = Record<string, unknown>;

interface Message {
  bundle: Json;
  header: Json;
  entries: Json[];
}

function readMessage(req: Request): Message {
  const bundle = req.body as Json | undefined;
  if (
    !bundle ||
    bundle.resourceType !== 'Bundle' ||
    bundle.type !== 'message' ||
    !Array.isArray(bundle.entry)
  ) {
    throw failure('bars', 'invalid', {
      diagnostics: 'The body must be a message Bundle',
      expression: 'Bundle.type',
    });
  }
  const entries = bundle.entry as Json[];
  const header = entries[0]?.resource as Json | undefined;
  if (header?.resourceType !== 'MessageHeader') {
    throw failure('bars', 'invalid', {
      diagnostics: 'The first entry must be the MessageHeader',
      expression: 'Bundle.entry[0]',
    });
  }
  return { bundle, header, entries };
}

/** The entry a reference points at: by `fullUrl` (`urn:uuid:`) or by `Type/id`. */
function resolve(message: Message, reference: unknown): Json | undefined {
  if (typeof reference !== 'string') return undefined;
  for (const entry of message.entries) {
    const resource = entry.resource as Json | undefined;
    if (!resource) continue;
    if (
      entry.fullUrl === reference ||
      `${String(resource.resourceType)}/${String(resource.id)}` === reference
    )
      return resource;
  }
  return undefined;
}

/** The DoS service the message is for: `NHSD-Target-Identifier`, else the MessageHeader destination endpoint. */
function targetService(req: Request, message: Message): string | undefined {
  const header = req.get('nhsd-target-identifier');
  if (header) {
    try {
      const decoded = JSON.parse(Buffer.from(header, 'base64').toString('utf8')) as { value?: unknown };
      if (typeof decoded.value === 'string') return decoded.value;
    } catch {
      throw failure('bars', 'invalid', {
        diagnostics: 'NHSD-Target-Identifier is not base64 JSON',
        expression: 'NHSD-Target-Identifier',
      });
    }
  }
  const destinations = Array.isArray(message.header.destination)
    ? (message.header.destination as Json[])
    : [];
  const endpoint = destinations.map((d) => text(d.endpoint)).find((e) => e.includes('|'));
  return endpoint?.split('|').pop();
}

function eventCode(message: Message): string {
  return text((message.header.eventCoding as Json | undefined)?.code);
}

function focus(message: Message, type: string): Json {
  const refs = Array.isArray(message.header.focus) ? (message.header.focus as Json[]) : [];
  const resource = resolve(message, refs[0]?.reference);
  if (resource?.resourceType !== type) {
    throw failure('bars', 'invalid', {
      diagnostics: `The message focus must be a ${type}`,
      expression: 'MessageHeader.focus',
    });
  }
  return resource;
}

/** The response message: a MessageHeader answering the request (`response.code` ok), then the focus. */
function responseMessage(link: Linker, message: Message, focusResource: Json, now: Date): Json {
  const focusUrl = `urn:uuid:${randomUUID()}`;
  const headerId = randomUUID();
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
      {
        fullUrl: `urn:uuid:${headerId}`,
        resource: {
          resourceType: 'MessageHeader',
          id: headerId,
          eventCoding: message.header.eventCoding,
          ...(message.header.reason ? { reason: message.header.reason } : {}),
          source: { endpoint: link.base, software: 'booking-event-collector sandbox' },
          response: { identifier: text(message.header.id) || text(message.bundle.id), code: 'ok' },
          focus: [{ reference: focusUrl, type: String(focusResource.resourceType) }],
        },
      },
      { fullUrl: focusUrl, resource: focusResource },
    ],
  };
}

function requestKey(req: Request, message: Message): string | undefined {
  return req.get('x-request-id') ?? (typeof message.bundle.id === 'string' ? message.bundle.id : undefined);
}

function slotIdFor(ctx: SandboxContext, req: Request, message: Message, appointment: Json): string {
  const refs = Array.isArray(appointment.slot) ? (appointment.slot as Json[]) : [];
  const slot = resolve(message, refs[0]?.reference);
  const direct = typeof slot?.id === 'string' ? slot.id : text(refs[0]?.reference).replace(/^.*Slot\//, '');
  if (direct && ctx.diary.slot(direct)) return direct;
  // The BaRS examples send the Slot without the provider's id: find it by service and start.
  const service = targetService(req, message);
  const start = typeof slot?.start === 'string' ? parseFhirDate(slot.start) : undefined;
  const found = service && start ? ctx.diary.slotAt(service, start) : undefined;
  if (!found) {
    throw failure('bars', 'unprocessable', {
      diagnostics: 'The slot is not known to this provider',
      expression: 'Appointment.slot',
    });
  }
  return found.id;
}

function patientNhsNumber(message: Message, appointment: Json): string {
  const participants = Array.isArray(appointment.participant) ? (appointment.participant as Json[]) : [];
  for (const participant of participants) {
    const patient = resolve(message, (participant.actor as Json | undefined)?.reference);
    if (patient?.resourceType !== 'Patient') continue;
    const nhs = (Array.isArray(patient.identifier) ? (patient.identifier as Json[]) : []).find(
      (i) => i.system === NHS_NUMBER_SYSTEM,
    );
    if (typeof nhs?.value === 'string' && isValidNhsNumber(nhs.value)) return nhs.value;
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
  link: Linker,
  message: Message,
  stored: StoredAppointment,
  now: Date,
): SandboxResponse {
  return { status: 200, body: responseMessage(link, message, appointmentResource(link, stored), now) };
}

function book(
  ctx: SandboxContext,
  req: Request,
  link: Linker,
  message: Message,
  appointment: Json,
): SandboxResponse {
  const slotId = slotIdFor(ctx, req, message, appointment);
  const nhsNumber = patientNhsNumber(message, appointment);
  const key = requestKey(req, message);
  const now = ctx.clock();
  const result = ctx.diary.book({
    dialect: 'bars',
    slotIds: [slotId],
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
  return bookingResponse(link, message, result.appointment, now);
}

function cancel(ctx: SandboxContext, link: Linker, message: Message, appointment: Json): SandboxResponse {
  if (typeof appointment.id !== 'string') {
    throw failure('bars', 'unprocessable', {
      diagnostics: 'A cancellation names the Appointment id',
      expression: 'Appointment.id',
    });
  }
  const versionId = (appointment.meta as Json | undefined)?.versionId;
  const now = ctx.clock();
  const result = ctx.diary.cancel({
    id: appointment.id,
    dialect: 'bars',
    now,
    status: appointment.status as 'cancelled' | 'entered-in-error',
    resource: appointment,
    ...(typeof versionId === 'string' && /^\d+$/.test(versionId)
      ? { expectedVersion: Number(versionId) }
      : {}),
  });
  if (!result.ok) {
    switch (result.reason) {
      case 'not-found':
        throw failure('bars', 'not-found', { diagnostics: `No Appointment ${appointment.id}` });
      case 'version-conflict':
      case 'already-cancelled':
        throw failure('bars', 'version-conflict');
    }
  }
  return bookingResponse(link, message, result.appointment, now);
}

function referral(ctx: SandboxContext, req: Request, link: Linker, message: Message): SandboxResponse {
  const serviceRequest = focus(message, 'ServiceRequest');
  const key = requestKey(req, message);
  const service = targetService(req, message);
  const now = ctx.clock();
  const result = ctx.diary.addReferral({
    now,
    bundle: message.bundle,
    ...(service ? { serviceId: service } : {}),
    ...(key ? { requestKey: key } : {}),
  });
  if (!result.ok) throw failure('bars', 'duplicate');
  const accepted = {
    ...serviceRequest,
    id: result.referral.id,
    meta: { versionId: '1', lastUpdated: link.instant(now) },
  };
  return { status: 200, body: responseMessage(link, message, accepted, now) };
}

/** `POST /$process-message`: books, cancels or takes a referral, by the message's event and focus. */
export function processMessage(ctx: SandboxContext, req: Request, link: Linker): SandboxResponse {
  const message = readMessage(req);
  switch (eventCode(message)) {
    case 'booking-request': {
      const appointment = focus(message, 'Appointment');
      if (appointment.status === 'booked') return book(ctx, req, link, message, appointment);
      if (appointment.status === 'cancelled' || appointment.status === 'entered-in-error') {
        return cancel(ctx, link, message, appointment);
      }
      throw failure('bars', 'unprocessable', {
        diagnostics: `A booking-request Appointment cannot have status ${String(appointment.status)}`,
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
export function messageInteraction(req: Request): 'book' | 'cancel' | 'referral' {
  const bundle = req.body as Json | undefined;
  const entries = Array.isArray(bundle?.entry) ? (bundle.entry as Json[]) : [];
  const header = entries[0]?.resource as Json | undefined;
  if ((header?.eventCoding as Json | undefined)?.code === 'servicerequest-request') return 'referral';
  const statuses = entries.map((e) => (e.resource as Json | undefined)?.status);
  return statuses.includes('cancelled') || statuses.includes('entered-in-error') ? 'cancel' : 'book';
}
