import type { Dialect } from '../config/config.types.js';
import type { SandboxService } from './catalogue.js';
import type { FaultPlan } from './faults.js';
import { dialectOutcome, failure } from './outcomes.js';
import { operationParams, searchParams, type RouteDefiner } from './dialect-router.js';
import {
  capabilityStatement,
  healthcareServiceResource,
  locationResource,
  organizationResource,
  practitionerResource,
  practitionerRoleResource,
  scheduleResource,
  searchset,
  slotResource,
  type Linker,
} from './resources.js';
import type { SandboxResponse } from './respond.js';
import type { SandboxContext } from './sandbox-context.js';
import { parseSlotSearch } from './slot-search.js';

type Resource = ReturnType<typeof slotResource>;

/** Adds each resource once, in first-seen order. */
class Included {
  readonly #seen = new Set<string>();
  readonly list: Resource[] = [];

  add(resource: Resource): void {
    const key = `${resource.resourceType}/${resource.id}`;
    if (this.#seen.has(key)) return;
    this.#seen.add(key);
    this.list.push(resource);
  }
}

/**
 * A slot search (`GET Slot?...`, `$find-slots`): the matching slots, earliest first, and the resources
 * the consumer asked to `_include` (schedules, then through them services, practitioners, roles,
 * locations and organisations).
 */
export function slotSearch(
  ctx: SandboxContext,
  dialect: Dialect,
  params: URLSearchParams,
  link: Linker,
  selfUrl: string,
  plan: FaultPlan,
): SandboxResponse {
  const search = parseSlotSearch(dialect, params);
  const known = ctx.diary.services(dialect).map((s) => s.id);
  if (search.serviceIds && !search.serviceIds.some((id) => known.includes(id))) {
    throw failure(dialect, 'not-found', {
      diagnostics: `No service ${search.serviceIds.join(', ')} here`,
      expression: 'schedule.actor:healthcareservice',
    });
  }
  const now = ctx.clock();
  const slots = plan.empty
    ? []
    : ctx.diary.findSlots({
        dialect,
        statuses: search.statuses,
        notBefore: now,
        ...(search.serviceIds ? { serviceIds: search.serviceIds } : {}),
        ...(search.from ? { from: search.from } : {}),
        ...(search.to ? { to: search.to } : {}),
        ...(search.endTo ? { endTo: search.endTo } : {}),
      });
  const has = (include: string): boolean => search.includes.has(include);
  const included = new Included();
  const services = new Map<string, SandboxService>();
  for (const slot of slots) services.set(slot.serviceId, ctx.diary.service(slot.serviceId)!);
  if (has('slot:schedule')) {
    for (const slot of slots) {
      const service = services.get(slot.serviceId)!;
      const schedule = service.schedules.find((s) => s.id === slot.scheduleId)!;
      included.add(scheduleResource(link, schedule, service));
      if (has('schedule:actor:healthcareservice')) included.add(healthcareServiceResource(link, service));
      if (has('schedule:actor:practitioner')) included.add(practitionerResource(link, schedule));
      if (has('schedule:actor:practitionerrole')) included.add(practitionerRoleResource(link, schedule));
      if (has('healthcareservice:location') || has('schedule:actor:location'))
        included.add(locationResource(link, service));
      if (has('location:managingorganization')) included.add(organizationResource(link, service));
    }
  }
  const outcome =
    plan.empty === 'with-outcome' && dialect === 'stu3'
      ? dialectOutcome(dialect, {
          issueCode: 'informational',
          diagnostics: 'No slots are available to this consumer in the window asked for',
        })
      : undefined;
  const body = searchset(
    link,
    selfUrl,
    slots.map((slot) => slotResource(link, slot, services.get(slot.serviceId)!)),
    included.list,
    now,
    outcome ? { ...outcome, resourceType: 'OperationOutcome' } : undefined,
  );
  return { status: 200, body };
}

/**
 * The routes every dialect has alike: `metadata`, `GET Slot`, and (STU3, BaRS) the custom
 * `$find-slots` operation some products expose, on `Slot/$find-slots` and `$find-slots`, by GET or POST.
 */
export function defineCommonRoutes(
  on: RouteDefiner,
  ctx: SandboxContext,
  dialect: Dialect,
  options: { findSlots: boolean },
): void {
  on('get', '/metadata', 'capability', (_req, link) => ({
    status: 200,
    body: capabilityStatement(link, ctx.clock()),
  }));
  on('get', '/Slot', 'slot-search', (req, link, plan) =>
    slotSearch(ctx, dialect, searchParams(req), link, `${link.base}${req.url}`, plan),
  );
  if (!options.findSlots) return;
  for (const path of ['/Slot/\\$find-slots', '/\\$find-slots']) {
    for (const method of ['get', 'post'] as const) {
      on(method, path, 'slot-search', (req, link, plan) =>
        slotSearch(ctx, dialect, operationParams(req), link, `${link.base}${req.url}`, plan),
      );
    }
  }
}
