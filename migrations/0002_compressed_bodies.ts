import { sql, type Kysely } from 'kysely';

/*
 * Captured bodies are stored compressed (Brotli, made by the capture worker) in bytea columns kept out
 * of line and not compressed again by PostgreSQL: a 53 KB slot searchset becomes about 5 KB, written
 * ten times faster than as text that PostgreSQL compresses itself (`npm run bench -- proxy`).
 *
 * `*_body_encoding` says how to read a body: `br+utf8` (compressed UTF-8 text: redacted FHIR JSON, or a
 * textual body a provider opted in to keep whole), `br+binary` (compressed bytes, opted in), and for rows
 * written before this migration `utf8` (plain UTF-8) and `binary` (plain bytes, formerly base64 text).
 */

const BODIES = ['request', 'response'] as const;

export async function up(db: Kysely<any>): Promise<void> {
  for (const side of BODIES) {
    await sql
      .raw(
        `alter table exchanges alter column ${side}_body type bytea using (case ${side}_body_encoding when 'base64' then decode(${side}_body, 'base64') else convert_to(${side}_body, 'UTF8') end)`,
      )
      .execute(db);
    await sql
      .raw(`update exchanges set ${side}_body_encoding = 'binary' where ${side}_body_encoding = 'base64'`)
      .execute(db);
    await sql.raw(`alter table exchanges alter column ${side}_body set storage external`).execute(db);
  }
}

export async function down(db: Kysely<any>): Promise<void> {
  // Compressed bodies cannot be decompressed in SQL: they are dropped, the rest of each row kept.
  for (const side of BODIES) {
    await sql
      .raw(
        `update exchanges set ${side}_body = null, ${side}_body_encoding = null where ${side}_body_encoding like 'br+%'`,
      )
      .execute(db);
    await sql
      .raw(
        `alter table exchanges alter column ${side}_body type text using (case ${side}_body_encoding when 'binary' then encode(${side}_body, 'base64') else convert_from(${side}_body, 'UTF8') end)`,
      )
      .execute(db);
    await sql
      .raw(`update exchanges set ${side}_body_encoding = 'base64' where ${side}_body_encoding = 'binary'`)
      .execute(db);
    await sql.raw(`alter table exchanges alter column ${side}_body set storage extended`).execute(db);
  }
}
