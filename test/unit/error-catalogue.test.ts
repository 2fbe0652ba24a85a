import { readFileSync } from 'node:fs';
import { ERROR_CODES } from '../../src/fhir/error-codes.js';
import { operationOutcome } from '../../src/fhir/operation-outcome.js';
import { outcomeCode } from '../helpers/outcome.js';

/** The rows of the table in docs/errors.md: code, status, issue type. */
function documentedCodes(): Map<string, { status: number; issueType: string }> {
  const rows = readFileSync('docs/errors.md', 'utf8')
    .split('\n')
    .map((line) => /^\|\s*`([A-Z_]+)`\s*\|\s*(\d{3})\s*\|\s*([a-z-]+)\s*\|/.exec(line))
    .filter((match): match is RegExpExecArray => match !== null);
  return new Map(
    rows.map(([, code, status, issueType]) => [code!, { status: Number(status), issueType: issueType! }]),
  );
}

describe('the error catalogue', () => {
  it('is documented in docs/errors.md, code for code, with the same status and issue type', () => {
    const documented = documentedCodes();
    expect([...documented.keys()].sort()).toEqual(Object.keys(ERROR_CODES).sort());
    for (const [code, definition] of Object.entries(ERROR_CODES)) {
      expect({ code, ...documented.get(code) }).toEqual({
        code,
        status: definition.status,
        issueType: definition.issueType,
      });
    }
  });

  it('builds an R4 OperationOutcome per code, one issue per detail', () => {
    for (const code of Object.keys(ERROR_CODES) as (keyof typeof ERROR_CODES)[]) {
      const outcome = operationOutcome(code, [
        { diagnostics: 'first', expression: 'Bundle.entry[0]' },
        { diagnostics: 'second', issueType: 'value' },
      ]);
      expect(outcomeCode(outcome)).toBe(code);
      expect(outcome.issue.map((i) => [i.diagnostics, i.code, i.expression])).toEqual([
        ['first', ERROR_CODES[code].issueType, ['Bundle.entry[0]']],
        ['second', 'value', undefined],
      ]);
    }
  });
});
