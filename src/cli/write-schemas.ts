import { writeFileSync } from 'node:fs';
import { configSchema } from '../config/config.schema.js';
import { INGEST_SCHEMAS } from '../ingest/ingest.schema.js';

/** The published JSON Schemas under fhir-profiles/, generated from the ones the code compiles. */
export const PUBLISHED_SCHEMAS: Record<string, unknown> = {
  'fhir-profiles/config.schema.json': configSchema,
  ...Object.fromEntries(
    Object.values(INGEST_SCHEMAS).map((schema) => [
      `fhir-profiles/${(schema as { $id: string }).$id.split('/').pop()}`,
      schema,
    ]),
  ),
};

/** The file text of a published schema. */
export function schemaText(schema: unknown): string {
  return `${JSON.stringify(schema, null, 2)}\n`;
}

// `npm run schemas` rewrites them; a test fails when a committed copy is stale.
if (process.argv[1]?.endsWith('write-schemas.ts')) {
  for (const [file, schema] of Object.entries(PUBLISHED_SCHEMAS)) {
    writeFileSync(file, schemaText(schema));
    process.stdout.write(`wrote ${file}\n`);
  }
}
