import { sql, type Kysely } from 'kysely';

/*
 * The first schema: captured exchanges, metric events, episodes and the keys that stitch them, off-wire
 * ingest records and the access audit.
 *
 * Ids are UUIDv7 (time-ordered, made by the application). The two tables that grow with traffic,
 * exchanges and events, have primary keys that include their time column, so they can later be turned
 * into tables partitioned by month (PostgreSQL requires every unique key of a partitioned table to
 * include the partition key) without changing a single query.
 *
 * One statement per execute(): PGlite's extended protocol runs one statement at a time.
 */

export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('exchanges')
    .addColumn('id', 'uuid', (c) => c.notNull())
    .addColumn('received_at', 'timestamptz', (c) => c.notNull())
    .addColumn('route', 'text', (c) => c.notNull())
    .addColumn('provider_id', 'text')
    .addColumn('dialect', 'text')
    .addColumn('interaction', 'text')
    .addColumn('method', 'text', (c) => c.notNull())
    .addColumn('path', 'text', (c) => c.notNull())
    .addColumn('query', 'text')
    .addColumn('request_headers', 'jsonb', (c) => c.notNull().defaultTo(sql`'{}'::jsonb`))
    .addColumn('request_body', 'text')
    .addColumn('request_body_encoding', 'text')
    .addColumn('request_size', 'bigint', (c) => c.notNull().defaultTo(0))
    .addColumn('request_truncated', 'boolean', (c) => c.notNull().defaultTo(false))
    .addColumn('response_status', 'integer')
    .addColumn('response_headers', 'jsonb', (c) => c.notNull().defaultTo(sql`'{}'::jsonb`))
    .addColumn('response_body', 'text')
    .addColumn('response_body_encoding', 'text')
    .addColumn('response_size', 'bigint', (c) => c.notNull().defaultTo(0))
    .addColumn('response_truncated', 'boolean', (c) => c.notNull().defaultTo(false))
    .addColumn('transport_outcome', 'text', (c) => c.notNull())
    .addColumn('consumer_org', 'text')
    .addColumn('consumer_asid', 'text')
    .addColumn('provider_asid', 'text')
    .addColumn('trace_id', 'text')
    .addColumn('correlation_id', 'text')
    .addColumn('request_id', 'text')
    .addColumn('upstream_started_at', 'timestamptz')
    .addColumn('first_byte_at', 'timestamptz')
    .addColumn('ended_at', 'timestamptz')
    .addColumn('total_ms', 'double precision')
    .addColumn('upstream_ms', 'double precision')
    .addColumn('episode_id', 'uuid')
    .addColumn('patient_hash', 'text')
    .addColumn('captured_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addPrimaryKeyConstraint('exchanges_pkey', ['id', 'received_at'])
    .execute();
  await db.schema.createIndex('exchanges_received_at_idx').on('exchanges').column('received_at').execute();
  await db.schema
    .createIndex('exchanges_provider_received_at_idx')
    .on('exchanges')
    .columns(['provider_id', 'received_at'])
    .execute();
  await db.schema
    .createIndex('exchanges_interaction_received_at_idx')
    .on('exchanges')
    .columns(['interaction', 'received_at'])
    .execute();
  await db.schema.createIndex('exchanges_trace_id_idx').on('exchanges').column('trace_id').execute();
  await db.schema
    .createIndex('exchanges_correlation_id_idx')
    .on('exchanges')
    .column('correlation_id')
    .execute();
  await db.schema.createIndex('exchanges_episode_id_idx').on('exchanges').column('episode_id').execute();
  await db.schema
    .createIndex('exchanges_patient_hash_idx')
    .on('exchanges')
    .columns(['patient_hash', 'received_at'])
    .execute();

  await db.schema
    .createTable('events')
    .addColumn('id', 'uuid', (c) => c.notNull())
    .addColumn('occurred_at', 'timestamptz', (c) => c.notNull())
    .addColumn('type', 'text', (c) => c.notNull())
    .addColumn('source_kind', 'text', (c) => c.notNull())
    .addColumn('source_id', 'uuid', (c) => c.notNull())
    .addColumn('ordinal', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('rule_version', 'text', (c) => c.notNull())
    .addColumn('provider_id', 'text')
    .addColumn('service_id', 'text')
    .addColumn('consumer_org', 'text')
    .addColumn('disposition', 'text')
    .addColumn('deadline', 'timestamptz')
    .addColumn('deadline_source', 'text')
    .addColumn('episode_id', 'uuid')
    .addColumn('patient_hash', 'text')
    .addColumn('attributes', 'jsonb', (c) => c.notNull().defaultTo(sql`'{}'::jsonb`))
    .addColumn('data_quality', sql`text[]`, (c) => c.notNull().defaultTo(sql`'{}'::text[]`))
    .addColumn('recorded_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addPrimaryKeyConstraint('events_pkey', ['id', 'occurred_at'])
    .addUniqueConstraint('events_source_rule_ordinal_key', [
      'source_id',
      'rule_version',
      'ordinal',
      'occurred_at',
    ])
    .addCheckConstraint('events_source_kind_check', sql`source_kind in ('exchange', 'ingest')`)
    .execute();
  await db.schema
    .createIndex('events_type_occurred_at_idx')
    .on('events')
    .columns(['type', 'occurred_at'])
    .execute();
  await db.schema
    .createIndex('events_provider_type_occurred_at_idx')
    .on('events')
    .columns(['provider_id', 'type', 'occurred_at'])
    .execute();
  await db.schema.createIndex('events_episode_id_idx').on('events').column('episode_id').execute();
  await db.schema.createIndex('events_source_id_idx').on('events').column('source_id').execute();

  await db.schema
    .createTable('episodes')
    .addColumn('id', 'uuid', (c) => c.primaryKey())
    .addColumn('opened_at', 'timestamptz', (c) => c.notNull())
    .addColumn('last_activity_at', 'timestamptz', (c) => c.notNull())
    .addColumn('patient_hash', 'text')
    .addColumn('disposition', 'text')
    .addColumn('deadline', 'timestamptz')
    .addColumn('deadline_source', 'text')
    .addColumn('attributes', 'jsonb', (c) => c.notNull().defaultTo(sql`'{}'::jsonb`))
    .addColumn('updated_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .execute();
  await db.schema.createIndex('episodes_opened_at_idx').on('episodes').column('opened_at').execute();
  await db.schema
    .createIndex('episodes_patient_hash_idx')
    .on('episodes')
    .columns(['patient_hash', 'last_activity_at'])
    .execute();

  await db.schema
    .createTable('episode_keys')
    .addColumn('kind', 'text', (c) => c.notNull())
    .addColumn('value', 'text', (c) => c.notNull())
    .addColumn('episode_id', 'uuid', (c) => c.notNull().references('episodes.id').onDelete('cascade'))
    .addColumn('first_seen_at', 'timestamptz', (c) => c.notNull())
    .addPrimaryKeyConstraint('episode_keys_pkey', ['kind', 'value'])
    .execute();
  await db.schema
    .createIndex('episode_keys_episode_id_idx')
    .on('episode_keys')
    .column('episode_id')
    .execute();

  await db.schema
    .createTable('ingest_records')
    .addColumn('id', 'uuid', (c) => c.primaryKey())
    .addColumn('token_name', 'text', (c) => c.notNull())
    .addColumn('client_event_id', 'text', (c) => c.notNull())
    .addColumn('type', 'text', (c) => c.notNull())
    .addColumn('occurred_at', 'timestamptz', (c) => c.notNull())
    .addColumn('received_at', 'timestamptz', (c) => c.notNull())
    .addColumn('late', 'boolean', (c) => c.notNull().defaultTo(false))
    .addColumn('payload', 'jsonb', (c) => c.notNull())
    .addUniqueConstraint('ingest_records_client_event_key', ['token_name', 'client_event_id'])
    .execute();
  await db.schema
    .createIndex('ingest_records_type_occurred_at_idx')
    .on('ingest_records')
    .columns(['type', 'occurred_at'])
    .execute();

  await db.schema
    .createTable('access_audit')
    .addColumn('id', 'uuid', (c) => c.primaryKey())
    .addColumn('at', 'timestamptz', (c) => c.notNull())
    .addColumn('token_name', 'text', (c) => c.notNull())
    .addColumn('roles', sql`text[]`, (c) => c.notNull())
    .addColumn('method', 'text', (c) => c.notNull())
    .addColumn('path', 'text', (c) => c.notNull())
    .addColumn('query', 'jsonb', (c) => c.notNull().defaultTo(sql`'{}'::jsonb`))
    .addColumn('resource_ids', sql`text[]`, (c) => c.notNull().defaultTo(sql`'{}'::text[]`))
    .addColumn('result_count', 'integer')
    .addColumn('status', 'integer', (c) => c.notNull())
    .addColumn('request_id', 'text')
    .execute();
  await db.schema.createIndex('access_audit_at_idx').on('access_audit').column('at').execute();
  await db.schema
    .createIndex('access_audit_token_at_idx')
    .on('access_audit')
    .columns(['token_name', 'at'])
    .execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('access_audit').execute();
  await db.schema.dropTable('ingest_records').execute();
  await db.schema.dropTable('episode_keys').execute();
  await db.schema.dropTable('episodes').execute();
  await db.schema.dropTable('events').execute();
  await db.schema.dropTable('exchanges').execute();
}
