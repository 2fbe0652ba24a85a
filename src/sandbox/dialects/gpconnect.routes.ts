import type { Router } from 'express';
import { isValidNhsNumber } from '../../fhir/nhs-number.js';
import { failure } from '../outcomes.js';
import { searchset } from '../resources.js';
import {
  appointmentsSearchset,
  bookRest,
  nhsNumberParam,
  readRest,
  updateInteraction,
  updateRest,
} from '../rest-appointments.js';
import type { SandboxContext } from '../sandbox-context.js';
import { defineCommonRoutes } from '../slot-search.handler.js';
import { dialectRouter, searchParams } from '../dialect-router.js';
import { parseFhirDate } from '../../fhir/fhir-time.js';

/**
 * A GP Connect Appointment Management provider. Patients are found by NHS number first
 * (`GET Patient?identifier=`) and then named by their logical id (`P` + NHS number here).
 */
export function gpconnectRoutes(ctx: SandboxContext): Router {
  return dialectRouter(ctx, 'gpconnect', (on) => {
    defineCommonRoutes(on, ctx, 'gpconnect', { findSlots: false });
    on('post', '/Appointment', 'book', (req, link) => bookRest(ctx, 'gpconnect', req, link));
    on('put', '/Appointment/:id', updateInteraction, (req, link) => updateRest(ctx, 'gpconnect', req, link));
    on('get', '/Appointment/:id', 'read', (req, link) => readRest(ctx, 'gpconnect', req, link));
    on('get', '/Patient', 'patient-search', (req, link) => {
      const nhsNumber = nhsNumberParam(searchParams(req), ['identifier']);
      if (!nhsNumber || !isValidNhsNumber(nhsNumber)) {
        throw failure('gpconnect', 'invalid-nhs-number', {
          diagnostics: 'Search by a valid NHS number',
          expression: 'identifier',
        });
      }
      const patient = {
        resourceType: 'Patient',
        id: `P${nhsNumber}`,
        meta: link.meta('Patient', { versionId: '1' }),
        identifier: [{ system: 'https://fhir.nhs.uk/Id/nhs-number', value: nhsNumber }],
      };
      return { status: 200, body: searchset(link, `${link.base}${req.url}`, [patient], [], ctx.clock()) };
    });
    on('get', '/Patient/:id/Appointment', 'list', (req, link) => {
      const params = searchParams(req);
      const bounds = params
        .getAll('start')
        .map((v) => ({ prefix: v.slice(0, 2), at: parseFhirDate(v.slice(2)) }));
      if (bounds.some((b) => !b.at)) {
        throw failure('gpconnect', 'unprocessable', {
          diagnostics: 'start must be a date with ge/le',
          expression: 'start',
        });
      }
      const from = bounds.find((b) => b.prefix === 'ge')?.at;
      const to = bounds.find((b) => b.prefix === 'le')?.at;
      const appointments = ctx.diary
        .appointmentsFor('gpconnect', { patientRef: String(req.params.id) })
        .filter((a) => {
          const start = ctx.diary.slot(a.slotIds[0]!)?.start;
          return start !== undefined && (!from || start >= from) && (!to || start <= to);
        });
      return appointmentsSearchset(ctx, link, `${link.base}${req.url}`, appointments);
    });
  });
}
