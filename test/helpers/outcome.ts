import type { OperationOutcome } from 'fhir/r4.js';
import { ERROR_CODE_SYSTEM } from '../../src/fhir/error-codes.js';

/** The catalogue code of an OperationOutcome body, asserting its FHIR shape on the way. */
export function outcomeCode(body: unknown): string | undefined {
  const outcome = body as OperationOutcome;
  expect(outcome.resourceType).toBe('OperationOutcome');
  expect(outcome.issue.length).toBeGreaterThan(0);
  for (const issue of outcome.issue) {
    expect(['fatal', 'error', 'warning', 'information']).toContain(issue.severity);
    expect(typeof issue.code).toBe('string');
  }
  return outcome.issue[0]!.details?.coding?.find((c) => c.system === ERROR_CODE_SYSTEM)?.code;
}
