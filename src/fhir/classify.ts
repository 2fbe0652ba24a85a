import { entryResources, isObject } from './json.js';
import { header } from '../http/headers.js';

/**
 * Classification: what one captured exchange was, from its method, path, query, headers, status and
 * bodies, in any of the three dialects. Pure. Headers that name the interaction (`Ssp-InteractionID`,
 * BaRS `use-context`) are read, never trusted alone: when they disagree with the request itself the
 * disagreement is returned as a data-quality finding.
 */

export type Dialect = 'stu3' | 'bars' | 'gpconnect';

export const INTERACTION_KINDS = [
  'slot-search',
  'book',
  'cancel',
  'update',
  'read-appointment',
  'list-appointments',
  'referral',
  'capability',
  'other',
] as const;

export type Interaction = (typeof INTERACTION_KINDS)[number];

/** A body as classification sees it: parsed JSON, XML text, or nothing readable. */
export type SeenBody =
  | { kind: 'json'; value: unknown }
  | { kind: 'xml'; text: string }
  | { kind: 'none' }
  | { kind: 'unreadable' };

export interface ClassifyInput {
  /** The provider's configured dialect, when the exchange went to a configured provider. */
  dialect?: Dialect | null;
  method: string;
  /** The upstream path (the provider's base path and the FHIR path after it). */
  path: string;
  query?: string | null;
  /** Request headers by lower-case name. */
  headers?: Record<string, string | string[] | undefined>;
  status?: number | null;
  request?: SeenBody;
  response?: SeenBody;
}

export type DataQualityFlag = 'body-unparseable' | 'header-disagrees' | 'dialect-disagrees';

export interface Classification {
  interaction: Interaction;
  dialect: Dialect;
  /** The BaRS message event (`booking-request`, `servicerequest-request`) when there was one. */
  messageEvent?: string;
  /** The Appointment status a book, cancel or update asked for. */
  appointmentStatus?: string;
  /** What the headers claimed, when they named an interaction. */
  claimed?: Interaction;
  dataQuality: DataQualityFlag[];
}

/** The path's last segments, whatever base path precedes them. */
function segments(path: string): string[] {
  return path
    .split('?', 1)[0]!
    .split('/')
    .filter((s) => s !== '')
    .map((s) => {
      try {
        return decodeURIComponent(s);
      } catch {
        return s;
      }
    });
}

/** A BaRS message: its event code and the focus resources (by reference, else every resource). */
function message(body: unknown): { event?: string; focus: Record<string, unknown>[] } {
  const all = entryResources(body);
  const header = all.find((r) => r.resourceType === 'MessageHeader');
  if (!header) return { focus: [] };
  const coding = header.eventCoding;
  const event = isObject(coding) && typeof coding.code === 'string' ? coding.code : undefined;
  const references = (Array.isArray(header.focus) ? header.focus : [])
    .map((f: unknown) => (isObject(f) && typeof f.reference === 'string' ? f.reference : undefined))
    .filter((r): r is string => r !== undefined);
  const entries = isObject(body) && Array.isArray(body.entry) ? body.entry : [];
  const focus = entries.flatMap((e: unknown) => {
    if (!isObject(e) || !isObject(e.resource)) return [];
    const resource = e.resource;
    const names = [
      typeof e.fullUrl === 'string' ? e.fullUrl : '',
      typeof resource.id === 'string' ? `${String(resource.resourceType)}/${resource.id}` : '',
    ];
    return references.some((ref) => names.some((n) => n !== '' && (n === ref || n.endsWith(`/${ref}`))))
      ? [resource]
      : [];
  });
  return { event, focus };
}

/** The status an Appointment in a request body asks for (JSON, or the first status outside contained resources in XML). */
function appointmentStatus(body: SeenBody | undefined): string | undefined {
  if (body?.kind === 'json') {
    const value = body.value;
    if (isObject(value) && value.resourceType === 'Appointment' && typeof value.status === 'string')
      return value.status;
    return undefined;
  }
  if (body?.kind === 'xml') {
    const outside = body.text.replace(/<contained>[\s\S]*?<\/contained>/g, '');
    return /<status\s+value="([^"]*)"/.exec(outside)?.[1];
  }
  return undefined;
}

const CANCELLED = new Set(['cancelled', 'entered-in-error']);

/** What `Ssp-InteractionID` or BaRS `use-context` claim the exchange is. */
export function claimedInteraction(headers: ClassifyInput['headers']): Interaction | undefined {
  const id = header(headers, 'ssp-interactionid')?.toLowerCase();
  if (id) {
    if (/:search:slot/.test(id)) return 'slot-search';
    if (/:create:appointment/.test(id)) return 'book';
    if (/:cancel:appointment/.test(id)) return 'cancel';
    if (/:(update|amend):appointment/.test(id)) return 'update';
    if (/:read:appointment/.test(id)) return 'read-appointment';
    if (/:search:(appointment|patient_appointments)/.test(id)) return 'list-appointments';
    if (/:read:metadata/.test(id)) return 'capability';
    return 'other';
  }
  const context = header(headers, 'use-context')?.toLowerCase();
  if (context) {
    const parts = context.split('|');
    if (parts.includes('servicerequest-request')) return 'referral';
    if (parts.includes('booking-request')) {
      if (parts.some((p) => CANCELLED.has(p))) return 'cancel';
      if (parts.includes('booked')) return 'book';
      return 'update';
    }
  }
  return undefined;
}

/** Whether a claim agrees with what the exchange turned out to be (a cancel is also an update). */
function agrees(claimed: Interaction, actual: Interaction): boolean {
  return claimed === actual || (claimed === 'update' && actual === 'cancel');
}

/** The dialect the exchange itself points to, when something in it does. */
function dialectSeen(input: ClassifyInput, parts: string[]): Dialect | undefined {
  const id = header(input.headers, 'ssp-interactionid')?.toLowerCase() ?? '';
  if (id.includes(':gpconnect:')) return 'gpconnect';
  if (id.includes(':careconnect:')) return 'stu3';
  if (
    parts.includes('$process-message') ||
    header(input.headers, 'nhsd-target-identifier') !== undefined ||
    header(input.headers, 'use-context') !== undefined
  )
    return 'bars';
  return undefined;
}

/** Classifies one exchange. Never throws. */
export function classify(input: ClassifyInput): Classification {
  const method = input.method.toUpperCase();
  const parts = segments(input.path);
  const last = parts[parts.length - 1] ?? '';
  const before = parts[parts.length - 2] ?? '';
  const dataQuality: DataQualityFlag[] = [];
  if (input.request?.kind === 'unreadable' || input.response?.kind === 'unreadable')
    dataQuality.push('body-unparseable');
  let interaction: Interaction = 'other';
  let messageEvent: string | undefined;
  let status: string | undefined;

  if (last === 'metadata' && method === 'GET') {
    interaction = 'capability';
  } else if (
    (last === 'Slot' && (method === 'GET' || method === 'POST')) ||
    (last === '_search' && before === 'Slot' && method === 'POST') ||
    (last === '$find-slots' && (method === 'GET' || method === 'POST'))
  ) {
    interaction = 'slot-search';
  } else if (last === 'Appointment' && method === 'POST') {
    interaction = 'book';
    status = appointmentStatus(input.request);
  } else if (last === 'Appointment' && method === 'GET') {
    interaction = 'list-appointments';
  } else if (before === 'Appointment' && method === 'PUT') {
    status = appointmentStatus(input.request);
    interaction = status && CANCELLED.has(status) ? 'cancel' : 'update';
  } else if (
    method === 'GET' &&
    (before === 'Appointment' || (before === '_history' && parts[parts.length - 4] === 'Appointment'))
  ) {
    interaction = 'read-appointment';
  } else if (last === '$process-message' && method === 'POST') {
    const body = input.request?.kind === 'json' ? input.request.value : undefined;
    const { event, focus } = message(body);
    messageEvent = event;
    if (event === 'servicerequest-request') {
      interaction = 'referral';
    } else if (event === 'booking-request') {
      const appointment =
        focus.find((r) => r.resourceType === 'Appointment') ??
        entryResources(body).find((r) => r.resourceType === 'Appointment');
      status = typeof appointment?.status === 'string' ? appointment.status : undefined;
      interaction = status === 'booked' ? 'book' : status && CANCELLED.has(status) ? 'cancel' : 'update';
    }
  }

  const claimed = claimedInteraction(input.headers);
  if (claimed !== undefined && !agrees(claimed, interaction)) dataQuality.push('header-disagrees');
  const seen = dialectSeen(input, parts);
  const dialect = input.dialect ?? seen ?? 'stu3';
  if (input.dialect && seen && seen !== input.dialect) dataQuality.push('dialect-disagrees');
  return {
    interaction,
    dialect,
    ...(messageEvent ? { messageEvent } : {}),
    ...(status ? { appointmentStatus: status } : {}),
    ...(claimed ? { claimed } : {}),
    dataQuality,
  };
}

/** How classification sees a stored or tapped body: JSON when it parses, XML by its look, else unreadable. */
export function seenBody(text: string | null | undefined, contentType?: string): SeenBody {
  if (text === null || text === undefined || text === '') return { kind: 'none' };
  const trimmed = text.trimStart();
  if (trimmed.startsWith('<') || /xml/i.test(contentType ?? '')) return { kind: 'xml', text };
  try {
    return { kind: 'json', value: JSON.parse(text) as unknown };
  } catch {
    return { kind: 'unreadable' };
  }
}
