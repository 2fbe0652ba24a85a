import type { Response } from 'express';
import type { FaultPlan } from './faults.js';

/** What a sandbox handler answers, before faults are applied to the way it is sent. */
export interface SandboxResponse {
  status: number;
  headers?: Record<string, string>;
  body?: unknown;
}

export const FHIR_JSON = 'application/fhir+json; charset=utf-8';

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Writes the answer, misbehaving as the plan says: late, cut off mid-body (`reset`), never finished
 * (`hang`), never started (`stall`), or trickled out a few bytes at a time.
 */
export async function sendSandbox(res: Response, answer: SandboxResponse, plan: FaultPlan): Promise<void> {
  if (plan.latencyMs > 0) await sleep(plan.latencyMs);
  if (plan.transport === 'stall') return; // the request stays open until the client gives up
  const body = answer.body === undefined ? Buffer.alloc(0) : Buffer.from(JSON.stringify(answer.body), 'utf8');
  const headers: Record<string, string | number> = { ...answer.headers, 'Content-Length': body.length };
  if (answer.body !== undefined) headers['Content-Type'] = FHIR_JSON;
  res.writeHead(answer.status, headers);

  if (plan.transport === 'reset' || plan.transport === 'hang') {
    const part = body.subarray(0, Math.max(1, Math.floor(body.length / 2)));
    res.write(part, () => {
      // reset: the connection dies with the body half sent; hang: it stays open and silent.
      if (plan.transport === 'reset') res.socket?.destroy();
    });
    return;
  }
  if (plan.trickle) {
    const { bytes, everyMs } = plan.trickle;
    for (let offset = 0; offset < body.length; offset += bytes) {
      if (res.destroyed) return;
      res.write(body.subarray(offset, offset + bytes));
      await sleep(everyMs);
    }
    res.end();
    return;
  }
  res.end(body);
}
