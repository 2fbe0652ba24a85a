import type { Router } from 'express';
import { failure } from '../outcomes.js';
import { capabilityStatement } from '../resources.js';
import {
  appointmentsSearchset,
  bookRest,
  nhsNumberParam,
  readRest,
  updateRest,
} from '../rest-appointments.js';
import type { SandboxContext } from '../sandbox-context.js';
import { slotSearch } from '../slot-search.handler.js';
import { dialectRouter, operationParams, searchParams } from '../dialect-router.js';

/** The STU3 Booking Standard (CareConnect) provider: `[base]/metadata`, `Slot`, `Appointment`. */
export function stu3Routes(ctx: SandboxContext): Router {
  return dialectRouter(ctx, 'stu3', (on) => {
    on('get', '/metadata', 'capability', (_req, link) => ({
      status: 200,
      body: capabilityStatement(link, ctx.clock()),
    }));
    on('get', '/Slot', 'slot-search', (req, link, plan) =>
      slotSearch(ctx, 'stu3', searchParams(req), link, `${link.base}${req.url}`, plan),
    );
    // Not in the standard, but some products expose it; the answer is the same searchset.
    for (const path of ['/Slot/\\$find-slots', '/\\$find-slots']) {
      for (const method of ['get', 'post'] as const) {
        on(method, path, 'slot-search', (req, link, plan) =>
          slotSearch(ctx, 'stu3', operationParams(req), link, `${link.base}${req.url}`, plan),
        );
      }
    }
    on('post', '/Appointment', 'book', (req, link) => bookRest(ctx, 'stu3', req, link));
    on('put', '/Appointment/:id', 'cancel', (req, link) => updateRest(ctx, 'stu3', req, link));
    on('get', '/Appointment/:id', 'read', (req, link) => readRest(ctx, 'stu3', req, link));
    on('get', '/Appointment', 'list', (req, link) => {
      const nhsNumber = nhsNumberParam(searchParams(req), [
        'identifier',
        'patient.identifier',
        'patient:identifier',
      ]);
      if (!nhsNumber) {
        throw failure('stu3', 'invalid', {
          diagnostics: 'Search by the patient NHS number identifier',
          expression: 'identifier',
        });
      }
      return appointmentsSearchset(
        ctx,
        link,
        `${link.base}${req.url}`,
        ctx.diary.appointmentsFor('stu3', { nhsNumber }),
      );
    });
  });
}
