import express, { Router, type NextFunction, type Request, type Response } from 'express';
import type { Dialect } from '../config/config.types.js';
import { FAULT_HEADER, planFaults, plannedFailure, type FaultPlan, type Interaction } from './faults.js';
import { failure, SandboxError } from './outcomes.js';
import { Linker } from './resources.js';
import { sendSandbox, type SandboxResponse } from './respond.js';
import { text } from './json.js';
import type { SandboxContext } from './sandbox-context.js';

/** A sandbox handler: reads the request, answers, or throws a SandboxError. */
export type SandboxHandler = (
  req: Request,
  link: Linker,
  plan: FaultPlan,
) => SandboxResponse | Promise<SandboxResponse>;

export type RouteDefiner = (
  method: 'get' | 'post' | 'put',
  path: string,
  /** The interaction faults are aimed at; a function when the body decides it (BaRS messages). */
  interaction: Interaction | ((req: Request) => Interaction),
  handler: SandboxHandler,
) => void;

const FHIR_BODY_TYPES = [
  'application/fhir+json',
  'application/json',
  'application/json+fhir',
  'application/*+json',
];

function errorAnswer(error: SandboxError): SandboxResponse {
  return { status: error.status, ...(error.body ? { body: error.body } : {}) };
}

/**
 * A router for one dialect: FHIR JSON bodies, faults planned per interaction before the handler runs,
 * every error answered in the dialect's own OperationOutcome, unknown paths included.
 */
export function dialectRouter(
  ctx: SandboxContext,
  dialect: Dialect,
  define: (on: RouteDefiner) => void,
): Router {
  const router = Router();
  router.use(express.json({ type: FHIR_BODY_TYPES, limit: '5mb' }));
  router.use(express.urlencoded({ extended: false, limit: '1mb' }));

  const on: RouteDefiner = (method, path, interaction, handler) => {
    router[method](path, async (req: Request, res: Response) => {
      const link = new Linker(dialect, `${req.protocol}://${req.get('host') ?? 'localhost'}${req.baseUrl}`);
      let plan: FaultPlan = { latencyMs: 0 };
      let answer: SandboxResponse;
      try {
        const aimedAt = typeof interaction === 'function' ? interaction(req) : interaction;
        plan = planFaults(dialect, aimedAt, req.get(FAULT_HEADER), ctx.faults, ctx.random);
        const planned = plannedFailure(dialect, plan);
        answer = planned ? errorAnswer(planned) : await handler(req, link, plan);
      } catch (error) {
        if (!(error instanceof SandboxError)) throw error;
        answer = errorAnswer(error);
      }
      await sendSandbox(res, answer, plan);
    });
  };
  define(on);

  router.use((req: Request, res: Response) => {
    const error = failure(dialect, 'not-found', {
      diagnostics: `No ${req.method} ${req.path} on this ${dialect} server`,
    });
    void sendSandbox(res, errorAnswer(error), { latencyMs: 0 });
  });
  router.use((error: unknown, _req: Request, res: Response, next: NextFunction) => {
    const parseError = (error as { type?: string }).type === 'entity.parse.failed';
    if (res.headersSent) {
      next(error);
      return;
    }
    const answer = failure(dialect, parseError ? 'invalid' : 'server-error', {
      diagnostics: parseError ? 'The body is not valid JSON' : 'The sandbox failed unexpectedly',
    });
    void sendSandbox(res, errorAnswer(answer), { latencyMs: 0 });
  });
  return router;
}

/** The query string of a request as URLSearchParams (order and repeats kept, as FHIR search needs). */
export function searchParams(req: Request): URLSearchParams {
  const query = req.originalUrl.split('?', 2)[1] ?? '';
  return new URLSearchParams(query);
}

/**
 * The parameters of a `$find-slots` call: the query string, plus a form body or a FHIR Parameters
 * body when it is a POST.
 */
export function operationParams(req: Request): URLSearchParams {
  const params = searchParams(req);
  const body = req.body as Record<string, unknown> | undefined;
  if (req.method === 'POST' && body && typeof body === 'object') {
    if (body.resourceType === 'Parameters' && Array.isArray(body.parameter)) {
      for (const p of body.parameter as Record<string, unknown>[]) {
        const value = Object.entries(p).find(([k]) => k.startsWith('value'))?.[1];
        if (typeof p.name === 'string' && value !== undefined) params.append(p.name, text(value));
      }
    } else {
      // A form body: repeated names (start=ge…&start=le…) arrive as arrays.
      for (const [k, v] of Object.entries(body)) {
        for (const item of Array.isArray(v) ? v : [v]) if (typeof item === 'string') params.append(k, item);
      }
    }
  }
  return params;
}
