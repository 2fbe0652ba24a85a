import type { Router } from 'express';
import { failure } from '../outcomes.js';
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

/** The STU3 Booking Standard (CareConnect) provider: `[base]/metadata`, `Slot`, `Appointment`. */
export function stu3Routes(ctx: SandboxContext): Router {
  return dialectRouter(ctx, 'stu3', (on) => {
    defineCommonRoutes(on, ctx, 'stu3', { findSlots: true });
    on('post', '/Appointment', 'book', (req, link) => bookRest(ctx, 'stu3', req, link));
    on('put', '/Appointment/:id', updateInteraction, (req, link) => updateRest(ctx, 'stu3', req, link));
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
