import { readFileSync } from 'node:fs';
import path from 'node:path';
import { sql, type Kysely } from 'kysely';
import { redactFhir } from '../src/capture/redact.js';
import { storeBody } from '../src/capture/stored-body.js';
import { RULE_VERSION } from '../src/derive/derive.js';
import { INTERACTION_KINDS, type Dialect, type Interaction } from '../src/fhir/classify.js';
import { isValidNhsNumber } from '../src/fhir/nhs-number.js';
import type { PatientHasher } from '../src/privacy/patient-hash.js';
import type { Database } from '../src/store/database.js';

/*
 * The inspection benchmark's store: exchanges as capture writes them (redacted bodies from the published
 * standards, Brotli-compressed as stored-body.ts does), spread evenly over the 60 days before SEED_END,
 * each with the event derivation gives it. Made by SQL (generate_series), one statement per chunk; every
 * choice is a hash of the row number, so the same count always gives the same rows.
 */

/** The seeded exchanges end here (the benchmark app's clock stands ten hours later). */
export const SEED_END = new Date('2026-11-22T00:00:00Z');
export const SEED_DAYS = 60;
/** Bump when the rows made change, so a kept database is seeded again. */
export const SEED_VERSION = 'inspect-seed-2';

const CHUNK = 100_000;
/** Distinct patients (keyed hashes); episodes draw their patient from them. */
const PATIENTS = 200_000;
/** Consecutive exchanges fall into groups of this many, split among ten episodes (about 5 each). */
const EPISODE_GROUP = 50;

export const PROVIDERS: { id: string; dialect: Dialect; share: number }[] = [
  { id: 'ed-north', dialect: 'stu3', share: 30 },
  { id: 'utc-east', dialect: 'stu3', share: 22 },
  { id: 'ooh-west', dialect: 'bars', share: 18 },
  { id: 'ed-south', dialect: 'bars', share: 14 },
  { id: 'gp-central', dialect: 'gpconnect', share: 10 },
  { id: 'pharmacy-first', dialect: 'stu3', share: 6 },
];

const INTERACTION_SHARES: Record<Interaction, number> = {
  'slot-search': 520,
  book: 120,
  'read-appointment': 80,
  'list-appointments': 60,
  cancel: 40,
  update: 15,
  referral: 40,
  capability: 60,
  other: 65,
};

/** 40 consumer organisations (111 services' ODS codes), the first few taking most of the traffic. */
export const CONSUMERS = Array.from(
  { length: 40 },
  (_, k) =>
    `${'NRY'[k % 3]}${String.fromCharCode(65 + ((k * 7) % 26))}${(k + 1).toString().padStart(2, '0')}`,
);

/** A lookup of 1000 entries: item k appears in proportion to its share. */
function weighted(shares: number[]): number[] {
  const total = shares.reduce((a, b) => a + b, 0);
  const lookup: number[] = [];
  let cumulative = 0;
  shares.forEach((share, k) => {
    cumulative += share;
    while (lookup.length < Math.round((cumulative / total) * 1000)) lookup.push(k + 1);
  });
  return lookup;
}

/** `count` valid NHS numbers (Modulus 11) in the 999 test range, always the same ones. */
export function benchNhsNumbers(count: number): string[] {
  const numbers: string[] = [];
  for (let base = 999_000_100; numbers.length < count; base += 37) {
    const digits = String(base);
    for (let check = 0; check <= 9; check++) {
      if (isValidNhsNumber(`${digits}${check}`)) {
        numbers.push(`${digits}${check}`);
        break;
      }
    }
  }
  return numbers;
}

/** The stored bodies, keyed `family:interaction:side` or `error:<status>`: redacted, then compressed. */
function benchBodies(hash: PatientHasher): { keys: string[]; bodies: Buffer[]; sizes: number[] } {
  const read = (name: string): unknown =>
    JSON.parse(readFileSync(path.resolve('..', 'shared', 'fixtures', name), 'utf8'));
  const appointment = read('stu3/appointment-audit-example.json');
  const sources: Record<string, unknown> = {
    'stu3:slot-search:response': read('stu3/slot-search-response.json'),
    'stu3:book:request': read('stu3/appointment-book-request.json'),
    'stu3:book:response': appointment,
    'stu3:cancel:request': read('stu3/appointment-cancel-request.json'),
    'stu3:cancel:response': read('stu3/appointment-cancel-request.json'),
    'stu3:update:request': appointment,
    'stu3:update:response': appointment,
    'stu3:read-appointment:response': appointment,
    'stu3:list-appointments:response': {
      resourceType: 'Bundle',
      type: 'searchset',
      total: 1,
      entry: [{ fullUrl: 'urn:uuid:7b1a2f4e-8c1d-4f5e-9a3b-2c4d6e8f0a1b', resource: appointment }],
    },
    'bars:slot-search:response': read('bars/slot-search-response.json'),
    'bars:book:request': read('bars/process-message-booking-request.json'),
    'bars:book:response': read('bars/process-message-booking-response.json'),
    'bars:referral:request': read('bars/process-message-referral-validation-request.json'),
    'bars:referral:response': read('bars/process-message-booking-response.json'),
    'bars:read-appointment:response': read('bars/appointment-read-response.json'),
    'error:400': read('bars/operation-outcomes/400-REC_BAD_REQUEST-invariant.json'),
    'error:401': read('bars/operation-outcomes/401-SEND_UNAUTHORIZED-expired.json'),
    'error:404': read('bars/operation-outcomes/404-REC_NOT_FOUND-not-found.json'),
    'error:409': read('bars/operation-outcomes/409-REC_CONFLICT-conflict.json'),
    'error:409-duplicate': read('bars/operation-outcomes/409-REC_CONFLICT-duplicate.json'),
    'error:422': read('bars/operation-outcomes/422-REC_UNPROCESSABLE_ENTITY-too-costly.json'),
    'error:429': read('bars/operation-outcomes/429-SEND_TOO_MANY_REQUESTS-throttled.json'),
    'error:500': read('bars/operation-outcomes/500-REC_SERVER_ERROR-exception.json'),
    'error:502': read('bars/operation-outcomes/503-REC_SERVICE_UNAVAILABLE-transient.json'),
    'error:503': read('bars/operation-outcomes/503-REC_SERVICE_UNAVAILABLE-transient.json'),
  };
  const keys = Object.keys(sources);
  const texts = keys.map((key) =>
    JSON.stringify(redactFhir(sources[key], { hash, birthDateAsYear: true }).value),
  );
  return {
    keys,
    bodies: texts.map((text) => storeBody(text).body),
    sizes: texts.map((text) => Buffer.byteLength(text)),
  };
}

/** Seeds `total` exchanges and their events in chunks, then resolves episodes and analyses the tables. */
export async function seedExchanges(
  db: Kysely<Database>,
  total: number,
  hash: PatientHasher,
  say: (line: string) => void,
): Promise<void> {
  const { keys, bodies, sizes } = benchBodies(hash);
  // Patients 0..29 are the benchmark's known NHS numbers, so the nhsNumber filter finds them.
  const known = benchNhsNumbers(30).map(hash);
  const providerOf = weighted(PROVIDERS.map((p) => p.share));
  const interactionOf = weighted(INTERACTION_KINDS.map((kind) => INTERACTION_SHARES[kind]));
  const consumerOf = weighted(CONSUMERS.map((_, k) => 1 / (k + 1)));
  const start = new Date(SEED_END.getTime() - SEED_DAYS * 86_400_000).toISOString();
  const stepMs = (SEED_DAYS * 86_400_000) / total;
  for (let from = 0; from < total; from += CHUNK) {
    const to = Math.min(total, from + CHUNK) - 1;
    await sql`with g as materialized (
        select i, t, family, transport, provider_id, dialect, interaction, consumer_org, episode, r_status,
          case
            when transport in ('timeout', 'reset', 'refused') then null
            -- A booking: the slot taken (409, draws 0-49) or a duplicate (409, 50-52), refused, unauthorised,
            -- the provider failing; otherwise booked (and one draw in a thousand unclassified, below).
            when interaction = 'book' then case
              when r_status < 53 then 409 when r_status < 63 then 400
              when r_status < 65 then 401 when r_status < 75 then 500 when r_status < 80 then 503
              when dialect = 'bars' then 200 else 201 end
            else case
              when r_status < 5 then 400 when r_status < 12 then 404 when r_status < 16 then 422
              when r_status < 20 then 429 when r_status < 28 then 500 when r_status < 31 then 502
              when r_status < 35 then 503 else 200 end
          end as status,
          case when interaction in ('book', 'cancel', 'update', 'read-appointment', 'list-appointments', 'referral')
            then case when episode % ${PATIENTS} < 30 then (${known}::text[])[episode % ${PATIENTS} + 1]
              else translate(rtrim(encode(sha256(convert_to('patient-' || episode % ${PATIENTS}, 'UTF8')), 'base64'), '='), '+/', '-_')
            end end as patient_hash,
          md5('episode-' || episode)::uuid as episode_id
        from (
          select i, t, transport, consumer_org, episode, r_status,
            (${PROVIDERS.map((p) => p.id)}::text[])[p] as provider_id,
            (${PROVIDERS.map((p) => p.dialect)}::text[])[p] as dialect,
            case when (${PROVIDERS.map((p) => p.dialect)}::text[])[p] = 'bars' then 'bars' else 'stu3' end as family,
            -- Referrals are BaRS messages; elsewhere those draws are searches.
            case when kind = 'referral' and (${PROVIDERS.map((p) => p.dialect)}::text[])[p] <> 'bars'
              then 'slot-search' else kind end as interaction
          from (
            select i,
              ${start}::timestamptz + i * (interval '1 millisecond' * ${stepMs}::float8) as t,
              (${providerOf}::int[])[abs(hashint8extended(i, 1) % 1000) + 1] as p,
              (${INTERACTION_KINDS}::text[])[(${interactionOf}::int[])[abs(hashint8extended(i, 2) % 1000) + 1]] as kind,
              case abs(hashint8extended(i, 3) % 1000) / 4 when 0 then 'timeout' when 1 then 'timeout'
                when 2 then 'reset' when 3 then 'refused' when 4 then 'client_aborted' else 'ok' end as transport,
              abs(hashint8extended(i, 4) % 1000) as r_status,
              (${CONSUMERS}::text[])[(${consumerOf}::int[])[abs(hashint8extended(i, 5) % 1000) + 1]] as consumer_org,
              (i / ${EPISODE_GROUP}) * 10 + abs(hashint8extended(i, 6) % 10) as episode
            from generate_series(${from}::bigint, ${to}::bigint) i
          ) drawn
        ) placed
      ),
      x as (
        select g.*,
          case when family = 'bars' then 'bars' when dialect = 'gpconnect' then 'ssp' else 'fhir' end as route,
          -- UUIDv7 (src/ids.ts): the millisecond of receipt, then hashed bits.
          (lpad(to_hex((extract(epoch from t) * 1000)::bigint), 12, '0') || '7' || substr(md5('x' || i), 1, 3)
            || '8' || substr(md5('x' || i), 4, 15))::uuid as id,
          (lpad(to_hex((extract(epoch from t) * 1000)::bigint), 12, '0') || '7' || substr(md5('e' || i), 1, 3)
            || '8' || substr(md5('e' || i), 4, 15))::uuid as event_id,
          case when status is null then case when transport = 'timeout' then 10000.0 else 2.0 + i % 40 end
            else 60.0 + abs(hashint8extended(i, 7) % 900) + case when interaction = 'slot-search' then 250 else 0 end
          end as total_ms,
          case when status >= 400 then 'error:' || status || case when status = 409 and r_status >= 50 then '-duplicate' else '' end
            when status is not null then family || ':' || interaction || ':response' end as response_key
        from g
      ),
      b as (select * from unnest(${keys}::text[], ${bodies}::bytea[], ${sizes}::int[]) as b(key, body, size)),
      written as (
        insert into exchanges (id, received_at, route, provider_id, dialect, interaction, method, path, query,
          request_headers, request_body, request_body_encoding, request_size, response_status, response_headers,
          response_body, response_body_encoding, response_size, transport_outcome, consumer_org, consumer_asid,
          provider_asid, trace_id, correlation_id, request_id, upstream_started_at, first_byte_at, ended_at,
          total_ms, upstream_ms, patient_hash, captured_at, episode_id)
        select x.id, t, route, provider_id, dialect, interaction,
          case when interaction in ('book', 'referral') then 'POST' when interaction in ('cancel', 'update') then 'PUT' else 'GET' end,
          case when family = 'bars' and interaction in ('book', 'referral') then '/bars/' || provider_id || '/$process-message'
            else '/' || route || '/' || provider_id || case interaction
              when 'slot-search' then '/Slot' when 'capability' then '/metadata' when 'list-appointments' then '/Appointment'
              when 'other' then '/HealthcareService' when 'book' then '/Appointment'
              else '/Appointment/' || substr(md5('a' || episode), 1, 8) end end,
          case interaction when 'slot-search' then 'schedule.actor%3AHealthcareService=' || (1000 + episode % 300)
            || '&status=free&_include=Slot%3Aschedule' when 'list-appointments' then 'patient.identifier=hash%3A'
            || coalesce(patient_hash, '') end,
          case when family = 'bars' then jsonb_build_object('accept', 'application/fhir+json',
              'x-correlation-id', md5('c' || i)::uuid, 'x-request-id', md5('r' || i)::uuid,
              'nhsd-end-user-organisation-ods', consumer_org, 'nhsd-target-identifier', provider_id)
            else jsonb_build_object('accept', 'application/fhir+json', 'ssp-traceid', md5('t' || i)::uuid,
              'ssp-from', '2000' || (10000 + abs(hashint8extended(i, 8) % 40)), 'ssp-to', '918999' || (100000 + episode % 6),
              'ssp-interactionid', 'urn:nhs:names:services:gpconnect:fhir:rest:' || interaction) end,
          req.body, case when req.body is not null then 'br+utf8' end, coalesce(req.size, 0),
          status,
          case when status is not null then jsonb_build_object('content-type', 'application/fhir+json;charset=utf-8') else '{}'::jsonb end,
          res.body, case when res.body is not null then 'br+utf8' end, coalesce(res.size, 0),
          transport, consumer_org,
          case when family <> 'bars' then '2000' || (10000 + abs(hashint8extended(i, 8) % 40)) end,
          case when family <> 'bars' then '918999' || (100000 + episode % 6) end,
          case when family <> 'bars' then md5('t' || i)::uuid::text end,
          case when family = 'bars' then md5('c' || i)::uuid::text end,
          case when family = 'bars' then md5('r' || i)::uuid::text end,
          t + interval '1 millisecond',
          case when status is not null then t + (total_ms - 5) * interval '1 millisecond' end,
          t + total_ms * interval '1 millisecond',
          total_ms, total_ms - 1, patient_hash, t + interval '40 milliseconds', episode_id
        from x
        left join b req on req.key = family || ':' || interaction || ':request'
        left join b res on res.key = response_key
      )
      insert into events (id, occurred_at, type, source_kind, source_id, ordinal, rule_version, provider_id,
        consumer_org, episode_id, patient_hash, attributes, correlation_keys, encounter_id)
      select event_id, t,
        case interaction when 'slot-search' then 'slot.searched' when 'book' then 'booking.attempted'
          when 'cancel' then 'booking.cancelled' when 'update' then 'appointment.updated'
          when 'read-appointment' then 'appointment.read' when 'list-appointments' then 'appointments.listed'
          when 'referral' then 'referral.made' else 'capability.read' end,
        'exchange', id, 0, ${RULE_VERSION}, provider_id, consumer_org, episode_id, patient_hash,
        jsonb_build_object('succeeded', status between 200 and 299, 'status', status, 'upstreamMs', total_ms - 1)
          || case when interaction = 'book' then jsonb_build_object('outcome', case
            when status is null then 'transport_error' when status = 409 and r_status < 50 then 'slot_unavailable'
            when status = 409 then 'duplicate' when status = 400 then 'rejected' when status = 401 then 'unauthorised'
            when status >= 500 then 'provider_error' when r_status = 80 then 'unclassified' else 'booked' end)
            else '{}'::jsonb end,
        array['trace:' || i], md5('encounter-' || episode)::text
      from x
      -- Every exchange but the odd unclassified request yields an event.
      where interaction <> 'other'`.execute(db);
    say(`  seeded ${to + 1} / ${total} exchanges`);
  }
  await sql`insert into episodes (id, opened_at, last_activity_at, patient_hash, attributes)
    select episode_id, min(occurred_at), max(occurred_at), max(patient_hash), jsonb_build_object('events', count(*))
    from events group by episode_id`.execute(db);
  say('  episodes resolved');
  await sql`vacuum (analyze) exchanges`.execute(db);
  await sql`vacuum (analyze) events`.execute(db);
  await sql`vacuum (analyze) episodes`.execute(db);
}
