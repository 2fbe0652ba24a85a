import express, { Router, type NextFunction, type Request, type Response } from 'express';
import type { Dialect } from '../config/config.types.js';
import { FAULT_HEADER, planFaults, plannedFailure, type FaultPlan, type Interaction } from './faults.js';
import { failure, FAILURE_FOR_STATUS, SandboxError } from './outcomes.js';
import { Linker } from './resources.js';
import { sendSandbox, type SandboxResponse } from './respond.js';
import { object, objects, text } from '../fhir/json.js';
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

  const methods = new Map<string, Set<string>>();
  const on: RouteDefiner = (method, path, interaction, handler) => {
    methods.set(path, (methods.get(path) ?? new Set()).add(method.toUpperCase()));
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
  for (const [path, allowed] of methods) {
    router.all(path, (_req: Request, res: Response) => {
      const answer = errorAnswer(failure(dialect, 'method-not-allowed'));
      void sendSandbox(res, { ...answer, headers: { Allow: [...allowed].join(', ') } }, { latencyMs: 0 });
    });
  }

  router.use((req: Request, res: Response) => {
    const error = failure(dialect, 'not-found', {
      diagnostics: `No ${req.method} ${req.path} on this ${dialect} server`,
    });
    void sendSandbox(res, errorAnswer(error), { latencyMs: 0 });
  });
  router.use((error: unknown, _req: Request, res: Response, next: NextFunction) => {
    if (res.headersSent) {
      next(error);
      return;
    }
    // Client mistakes (unparseable JSON, an oversize body, an unknown charset, a path that does not
    // decode) keep their 4xx status, in the dialect's words; only the unexpected is a 500.
    const { status, type } = error as { status?: number; type?: string };
    const kind =
      type === 'entity.parse.failed'
        ? 'invalid'
        : status !== undefined && status >= 400 && status < 500
          ? (FAILURE_FOR_STATUS[status] ?? 'invalid')
          : 'server-error';
    const diagnostics =
      kind === 'server-error'
        ? 'The sandbox failed unexpectedly'
        : (error as Error).message || 'The request is not valid';
    void sendSandbox(res, errorAnswer(failure(dialect, kind, { diagnostics })), { latencyMs: 0 });
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
  const body = object(req.body);
  if (req.method === 'POST' && body) {
    if (body.resourceType === 'Parameters') {
      for (const p of objects(body.parameter)) {
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
