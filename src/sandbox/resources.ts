import { createHash } from 'node:crypto';
import type { Dialect } from '../config/config.types.js';
import type { SandboxSchedule, SandboxService } from './catalogue.js';
import type { DiarySlot, StoredAppointment } from './diary.js';
import { londonInstant } from '../fhir/fhir-time.js';

type Resource = Record<string, unknown> & { resourceType: string; id?: string };

/** A UUID made from a name, so the same resource always has the same `urn:uuid:` full URL. */
export function stableUuid(name: string): string {
  const h = createHash('sha1').update(name).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-5${h.slice(13, 16)}-${((parseInt(h[16]!, 16) & 3) | 8).toString(16)}${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

const PROFILES: Record<Dialect, (type: string) => string> = {
  stu3: (type) => `https://fhir.hl7.org.uk/STU3/StructureDefinition/CareConnect-${type}-1`,
  bars: (type) => `https://fhir.hl7.org.uk/StructureDefinition/UKCore-${type}`,
  gpconnect: (type) => `https://fhir.nhs.uk/STU3/StructureDefinition/GPConnect-${type}-1`,
};

/**
 * How one resource points at another. BaRS bundles use `urn:uuid:` full URLs and references (as the BaRS
 * examples do); the STU3 dialects use absolute full URLs and relative references.
 */
export class Linker {
  constructor(
    readonly dialect: Dialect,
    readonly base: string,
  ) {}

  reference(type: string, id: string): { reference: string } {
    return {
      reference: this.dialect === 'bars' ? `urn:uuid:${stableUuid(`${type}/${id}`)}` : `${type}/${id}`,
    };
  }

  fullUrl(resource: Resource): string {
    return this.dialect === 'bars'
      ? `urn:uuid:${stableUuid(`${resource.resourceType}/${resource.id}`)}`
      : `${this.base}/${resource.resourceType}/${resource.id}`;
  }

  instant(at: Date): string {
    // STU3 examples write milliseconds; GP Connect and BaRS write seconds; all with an offset.
    return londonInstant(at, this.dialect === 'stu3');
  }

  meta(type: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
    return { ...extra, profile: [PROFILES[this.dialect](type)] };
  }
}

/** A free or busy Slot. */
export function slotResource(link: Linker, slot: DiarySlot, service: SandboxService): Resource {
  const base: Resource = {
    resourceType: 'Slot',
    id: slot.id,
    meta: link.meta('Slot'),
    identifier: [{ system: 'https://tools.ietf.org/html/rfc4122', value: stableUuid(`slot/${slot.id}`) }],
    schedule: link.reference('Schedule', slot.scheduleId),
    status: slot.status,
    start: link.instant(slot.start),
    end: link.instant(slot.end),
  };
  if (link.dialect === 'stu3') return base;
  const category =
    service.kind === 'emergency-department'
      ? { code: '14', display: 'Emergency Department' }
      : service.kind === 'urgent-treatment-centre'
        ? { code: '35', display: 'Urgent Care' }
        : { code: '17', display: 'General Practice' };
  return {
    ...base,
    extension: [
      {
        url:
          link.dialect === 'bars'
            ? 'https://fhir.hl7.org.uk/StructureDefinition/Extension-UKCore-DeliveryChannel'
            : 'https://fhir.nhs.uk/STU3/StructureDefinition/Extension-GPConnect-DeliveryChannel-2',
        valueCode: 'In-person',
      },
    ],
    serviceCategory: [
      { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/service-category', ...category }] },
    ],
    appointmentType: {
      coding: [
        {
          system: 'http://terminology.hl7.org/CodeSystem/v2-0276',
          code: service.kind === 'gp-practice' ? 'ROUTINE' : 'EMERGENCY',
          display: service.kind === 'gp-practice' ? 'Routine appointment' : 'Emergency appointment',
        },
      ],
    },
  };
}

/** The Schedule (one clinician's diary) a slot belongs to. */
export function scheduleResource(link: Linker, schedule: SandboxSchedule, service: SandboxService): Resource {
  const actor =
    link.dialect === 'gpconnect'
      ? [
          link.reference('Location', service.locationId),
          link.reference('Practitioner', schedule.practitionerId),
        ]
      : [
          link.reference('HealthcareService', service.id),
          link.reference('Practitioner', schedule.practitionerId),
          link.reference('PractitionerRole', `role-${schedule.id}`),
        ];
  return {
    resourceType: 'Schedule',
    id: schedule.id,
    meta: link.meta('Schedule'),
    identifier: [{ system: 'https://sandbox.booking-event-collector.example/Id/diary', value: schedule.id }],
    actor,
  };
}

/** The service, with its DoS id as both logical id and identifier. */
export function healthcareServiceResource(link: Linker, service: SandboxService): Resource {
  return {
    resourceType: 'HealthcareService',
    id: service.id,
    meta: link.meta('HealthcareService'),
    identifier: [{ system: 'https://fhir.nhs.uk/Id/dos-service-id', value: service.id }],
    active: true,
    providedBy: {
      identifier: { system: 'https://fhir.nhs.uk/Id/ods-organization-code', value: service.odsCode },
    },
    location: [link.reference('Location', service.locationId)],
    name: service.name,
  };
}

export function practitionerResource(link: Linker, schedule: SandboxSchedule): Resource {
  return {
    resourceType: 'Practitioner',
    id: schedule.practitionerId,
    meta: link.meta('Practitioner'),
    name: [
      {
        family: schedule.practitionerName.family,
        given: [schedule.practitionerName.given],
        prefix: [schedule.practitionerName.prefix],
      },
    ],
  };
}

export function practitionerRoleResource(link: Linker, schedule: SandboxSchedule): Resource {
  return {
    resourceType: 'PractitionerRole',
    id: `role-${schedule.id}`,
    meta: link.meta('PractitionerRole'),
    practitioner: link.reference('Practitioner', schedule.practitionerId),
    code: [
      {
        coding: [
          {
            system:
              link.dialect === 'bars'
                ? 'http://terminology.hl7.org/CodeSystem/practitioner-role'
                : 'https://fhir.hl7.org.uk/STU3/CodeSystem/CareConnect-SDSJobRoleName-1',
            code: schedule.roleCode,
            display: schedule.roleDisplay,
          },
        ],
      },
    ],
  };
}

export function locationResource(link: Linker, service: SandboxService): Resource {
  return {
    resourceType: 'Location',
    id: service.locationId,
    meta: link.meta('Location'),
    name: service.locationName,
    ...(link.dialect === 'gpconnect'
      ? { managingOrganization: link.reference('Organization', service.odsCode) }
      : {}),
  };
}

export function organizationResource(link: Linker, service: SandboxService): Resource {
  return {
    resourceType: 'Organization',
    id: service.odsCode,
    meta: link.meta('Organization'),
    identifier: [{ system: 'https://fhir.nhs.uk/Id/ods-organization-code', value: service.odsCode }],
    name: service.name,
  };
}

/** The Appointment as the provider now holds it: what the consumer sent, with id, version and status. */
export function appointmentResource(link: Linker, stored: StoredAppointment): Resource {
  const sent = { ...stored.resource };
  delete sent.meta;
  return {
    ...sent,
    resourceType: 'Appointment',
    id: stored.id,
    meta: link.meta('Appointment', {
      versionId: String(stored.version),
      lastUpdated: link.instant(stored.lastUpdated),
    }),
    status: stored.status,
    start: link.instant(stored.start),
    end: link.instant(stored.end),
  };
}

/** A searchset Bundle: matches first, then the `_include`d resources. */
export function searchset(
  link: Linker,
  selfUrl: string,
  matches: Resource[],
  included: Resource[],
  now: Date,
  outcome?: Resource,
): Resource {
  const entry = [
    ...matches.map((resource) => ({ fullUrl: link.fullUrl(resource), resource, search: { mode: 'match' } })),
    ...included.map((resource) => ({
      fullUrl: link.fullUrl(resource),
      resource,
      search: { mode: 'include' },
    })),
    ...(outcome
      ? [
          {
            fullUrl: `urn:uuid:${stableUuid(`outcome/${selfUrl}`)}`,
            resource: outcome,
            search: { mode: 'outcome' },
          },
        ]
      : []),
  ];
  return {
    resourceType: 'Bundle',
    id: stableUuid(`searchset/${selfUrl}/${now.toISOString()}`),
    meta: { lastUpdated: link.instant(now) },
    type: 'searchset',
    ...(link.dialect === 'bars' ? { timestamp: link.instant(now) } : {}),
    total: matches.length,
    link: [{ relation: 'self', url: selfUrl }],
    // FHIR JSON has no empty arrays: an empty searchset has no entry element at all.
    ...(entry.length > 0 ? { entry } : {}),
  };
}

const INTERACTIONS: Record<Dialect, { type: string; interaction: string[]; search?: string[] }[]> = {
  stu3: [
    {
      type: 'Slot',
      interaction: ['search-type'],
      search: ['schedule.actor:healthcareservice', 'start', 'status'],
    },
    { type: 'Appointment', interaction: ['create', 'read', 'update', 'search-type'], search: ['identifier'] },
  ],
  bars: [
    {
      type: 'Slot',
      interaction: ['search-type'],
      search: ['Schedule.actor:HealthcareService', 'start', 'status'],
    },
    { type: 'Appointment', interaction: ['read', 'search-type'], search: ['patient:identifier'] },
  ],
  gpconnect: [
    { type: 'Slot', interaction: ['search-type'], search: ['start', 'end', 'status', 'searchFilter'] },
    { type: 'Appointment', interaction: ['create', 'read', 'update'] },
    { type: 'Patient', interaction: ['search-type'], search: ['identifier'] },
  ],
};

/** The server's CapabilityStatement in its FHIR version. */
export function capabilityStatement(link: Linker, now: Date): Resource {
  const r4 = link.dialect === 'bars';
  return {
    resourceType: 'CapabilityStatement',
    id: `sandbox-${link.dialect}`,
    ...(r4
      ? { meta: { profile: ['https://fhir.hl7.org.uk/StructureDefinition/UKCore-CapabilityStatement'] } }
      : {}),
    name: `Sandbox${link.dialect.toUpperCase()}SlotProvider`,
    status: 'active',
    date: link.instant(now),
    publisher: 'booking-event-collector sandbox',
    kind: 'instance',
    software: { name: 'booking-event-collector sandbox Slot Provider', version: '1' },
    implementation: { description: `Sandbox Slot Provider (${link.dialect})`, url: link.base },
    fhirVersion: r4 ? '4.0.1' : '3.0.1',
    ...(r4 ? {} : { acceptUnknown: 'no' }),
    format: ['application/fhir+json'],
    rest: [
      {
        mode: 'server',
        resource: INTERACTIONS[link.dialect].map((r) => ({
          type: r.type,
          interaction: r.interaction.map((code) => ({ code })),
          ...(r.search
            ? {
                searchParam: r.search.map((name) => ({
                  name,
                  type: name === 'start' || name === 'end' ? 'date' : 'token',
                })),
              }
            : {}),
        })),
        ...(r4
          ? {
              operation: [
                {
                  name: 'process-message',
                  definition: 'http://hl7.org/fhir/OperationDefinition/MessageHeader-process-message',
                },
              ],
            }
          : {}),
      },
    ],
  };
}
