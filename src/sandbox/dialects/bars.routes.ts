import type { Router } from 'express';
import { failure } from '../outcomes.js';
import { appointmentsSearchset, nhsNumberParam, readRest } from '../rest-appointments.js';
import type { SandboxContext } from '../sandbox-context.js';
import { defineCommonRoutes } from '../slot-search.handler.js';
import { dialectRouter, searchParams } from '../dialect-router.js';
import { messageInteraction, processMessage } from './bars.messages.js';

/** A BaRS (R4) receiver: slot search, `$process-message` for bookings, cancellations and referrals, reads. */
export function barsRoutes(ctx: SandboxContext): Router {
  return dialectRouter(ctx, 'bars', (on) => {
    defineCommonRoutes(on, ctx, 'bars', { findSlots: true });
    on('post', '/\\$process-message', messageInteraction, (req, link) => processMessage(ctx, req, link));
    on('get', '/Appointment/:id', 'read', (req, link) => readRest(ctx, 'bars', req, link));
    on('get', '/Appointment', 'list', (req, link) => {
      const nhsNumber = nhsNumberParam(searchParams(req), [
        'patient:identifier',
        'patient.identifier',
        'identifier',
      ]);
      if (!nhsNumber) {
        throw failure('bars', 'invalid', {
          diagnostics: 'Search by patient:identifier (NHS number)',
          expression: 'patient:identifier',
        });
      }
      return appointmentsSearchset(
        ctx,
        link,
        `${link.base}${req.url}`,
        ctx.diary.appointmentsFor('bars', { nhsNumber }),
      );
    });
    on('get', '/ServiceRequest/:id', 'read', (req, link) => {
      const referral = ctx.diary.referral(String(req.params.id));
      if (!referral)
        throw failure('bars', 'not-found', { diagnostics: `No ServiceRequest ${String(req.params.id)}` });
      return {
        status: 200,
        body: {
          ...referral.serviceRequest,
          id: referral.id,
          meta: { versionId: '1', lastUpdated: link.instant(referral.received) },
        },
      };
    });
  });
}
