import { readFileSync } from 'node:fs';
import { PUBLISHED_SCHEMAS } from '../../src/cli/write-schemas.js';

describe('the schemas published in fhir-profiles/', () => {
  it.each(Object.entries(PUBLISHED_SCHEMAS))(
    '%s is the schema the code validates with (run `npm run schemas`)',
    (file, schema) => {
      expect(JSON.parse(readFileSync(file, 'utf8'))).toEqual(schema);
    },
  );
});
