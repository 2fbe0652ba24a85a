import type { Dialect, SandboxFaultConfig } from '../config/config.types.js';
import { failure, FAILURE_FOR_STATUS, FAILURES, type Failure, type SandboxError } from './outcomes.js';
import { normalSample, type Random } from './random.js';

/** The interactions a fault can be aimed at. */
export type Interaction = NonNullable<SandboxFaultConfig['interaction']>;

/** What the sandbox will do wrong on one request. */
export interface FaultPlan {
  latencyMs: number;
  /** Answer with this failure instead of the real answer. */
  failure?: Failure;
  /** Break the transport: cut the connection mid-body, never finish the body, or never answer at all. */
  transport?: 'reset' | 'hang' | 'stall';
  /** Send the body in small pieces, slowly. */
  trickle?: { bytes: number; everyMs: number };
  /** Searches: no slots (STU3 may add an OperationOutcome entry saying why). */
  empty?: 'plain' | 'with-outcome';
}

/** A configured fault: applied to matching requests with the given probability. */
export type FaultRule = SandboxFaultConfig;

/** The test header that asks for faults on one request. */
export const FAULT_HEADER = 'x-sandbox-fault';

/** The longest delay a fault may ask for: ten minutes (timers cannot wait much beyond 24 days anyway). */
const MAX_DELAY_MS = 600_000;

function number(value: string | undefined, directive: string, max = Number.MAX_SAFE_INTEGER): number {
  const n = Number(value);
  if (value === undefined || value === '' || !Number.isFinite(n) || n < 0) {
    throw new Error(`fault directive "${directive}" needs non-negative numbers`);
  }
  if (n > max) throw new Error(`fault directive "${directive}": at most ${max}`);
  return n;
}

function latency(spec: string, random: Random, directive: string): number {
  const [kind, a, b] = spec.split(':');
  switch (kind) {
    case 'normal':
      return Math.max(
        0,
        normalSample(random, number(a, directive, MAX_DELAY_MS), number(b, directive, MAX_DELAY_MS)),
      );
    case 'uniform': {
      const low = number(a, directive, MAX_DELAY_MS);
      return low + random() * (number(b, directive, MAX_DELAY_MS) - low);
    }
    case 'exp':
      return -Math.log(1 - random()) * number(a, directive, MAX_DELAY_MS);
    default:
      return number(kind, directive, MAX_DELAY_MS);
  }
}

/**
 * Reads a fault specification: directives separated by `;`, e.g. `latency=250`, `latency=normal:200:50`,
 * `latency=uniform:100:300`, `latency=exp:200`, `status=503`, `error=slot-unavailable`, `reset`, `hang`,
 * `stall`, `trickle=64:50` (64 bytes every 50 ms), `empty`, `empty-with-outcome`. Throws on anything else.
 */
export function parseFault(spec: string, random: Random, into: FaultPlan = { latencyMs: 0 }): FaultPlan {
  for (const directive of spec
    .split(/[;,]/)
    .map((d) => d.trim())
    .filter(Boolean)) {
    const [name, value] = directive.split('=', 2).map((p) => p.trim()) as [string, string | undefined];
    switch (name) {
      case 'latency':
        into.latencyMs = Math.min(MAX_DELAY_MS, into.latencyMs + latency(value ?? '', random, directive));
        break;
      case 'status': {
        const kind = FAILURE_FOR_STATUS[number(value, directive)];
        if (!kind)
          throw new Error(`fault directive "${directive}": no dialect answer is defined for that status`);
        into.failure = kind;
        break;
      }
      case 'error':
        if (!value || !isFailure(value))
          throw new Error(`fault directive "${directive}": unknown error name`);
        into.failure = value;
        break;
      case 'reset':
      case 'hang':
      case 'stall':
        into.transport = name;
        break;
      case 'trickle': {
        const [bytes, everyMs] = (value ?? '').split(':');
        into.trickle = {
          bytes: Math.max(1, number(bytes, directive)),
          everyMs: number(everyMs, directive, 60_000),
        };
        break;
      }
      case 'empty':
        into.empty = 'plain';
        break;
      case 'empty-with-outcome':
        into.empty = 'with-outcome';
        break;
      default:
        throw new Error(`unknown fault directive "${directive}"`);
    }
  }
  return into;
}

function isFailure(value: string): value is Failure {
  return (FAILURES as readonly string[]).includes(value);
}

/**
 * The faults for one request: the configured rules that match its dialect and interaction (each drawn
 * with its probability from the seeded generator), then the request's own `X-Sandbox-Fault` header.
 * A malformed header is answered 400 in the dialect's own words.
 */
export function planFaults(
  dialect: Dialect,
  interaction: Interaction,
  header: string | undefined,
  rules: readonly FaultRule[],
  random: Random,
): FaultPlan {
  const plan: FaultPlan = { latencyMs: 0 };
  for (const rule of rules) {
    if (rule.dialect && rule.dialect !== dialect) continue;
    if (rule.interaction && rule.interaction !== interaction) continue;
    if (random() < rule.probability) parseFault(rule.fault, random, plan);
  }
  if (header) {
    try {
      parseFault(header, random, plan);
    } catch (error) {
      throw failure(dialect, 'invalid', { diagnostics: `X-Sandbox-Fault: ${(error as Error).message}` });
    }
  }
  return plan;
}

/** The failure of a plan as an error to answer with, if it has one. */
export function plannedFailure(dialect: Dialect, plan: FaultPlan): SandboxError | undefined {
  return plan.failure ? failure(dialect, plan.failure) : undefined;
}
