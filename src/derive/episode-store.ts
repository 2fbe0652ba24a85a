import { sql, type Kysely, type Transaction } from 'kysely';
import type { Database } from '../store/database.js';
import type { NewEpisodeRow } from '../store/tables/episode.table.js';
import type { EventRow, NewEventRow } from '../store/tables/event.table.js';
import { EPISODE_ORDINAL, resolveEpisode, type EpisodeEvent } from './episodes.js';
import type { StitchOptions, StitchResult } from './stitch-episodes.js';
import type { DerivationTables } from './tables.js';

/*
 * The store side of episodes: reading an episode's events, merging episodes, and writing what a
 * resolution changed, set-wise (a statement per 500 rows, not per event).
 */

/** One stitcher at a time per database schema (two collectors, or a collector and `reprocess`). */
export async function lock(trx: Transaction<Database>): Promise<void> {
  await sql`select pg_advisory_xact_lock(hashtext(current_schema() || '.episode-stitching'))`.execute(trx);
}

/** A stored event row as the episode sees it. */
export function episodeEvent(row: EventRow): EpisodeEvent {
  return {
    ...row,
    occurred_at: new Date(row.occurred_at),
    deadline: row.deadline ? new Date(row.deadline) : null,
    attributes: row.attributes ?? {},
  };
}

/** The stored events of episodes, by episode. */
export async function storedEvents(
  trx: Transaction<Database>,
  ids: string[],
): Promise<Map<string, EpisodeEvent[]>> {
  const byEpisode = new Map<string, EpisodeEvent[]>(ids.map((id) => [id, []]));
  for (let i = 0; i < ids.length; i += 500)
    for (const row of await trx
      .selectFrom('events')
      .selectAll()
      .where('episode_id', 'in', ids.slice(i, i + 500))
      .execute())
      byEpisode.get(row.episode_id!)!.push(episodeEvent(row));
  return byEpisode;
}

/** Moves everything of the absorbed episodes (events, exchanges, keys) to the survivor, and drops them. */
export async function mergeEpisodes(
  trx: Transaction<Database>,
  survivor: string,
  absorbed: string[],
): Promise<void> {
  await trx.updateTable('events').set({ episode_id: survivor }).where('episode_id', 'in', absorbed).execute();
  await trx
    .updateTable('exchanges')
    .set({ episode_id: survivor })
    .where('episode_id', 'in', absorbed)
    .execute();
  await trx
    .updateTable('episode_keys')
    .set({ episode_id: survivor })
    .where('episode_id', 'in', absorbed)
    .execute();
  await trx.deleteFrom('episodes').where('id', 'in', absorbed).execute();
}

/** Sets the episode of exchanges by id, many at once. */
export async function assign(
  trx: Transaction<Database>,
  table: 'exchanges',
  pairs: [string, string][],
): Promise<void> {
  for (let i = 0; i < pairs.length; i += 1000) {
    const values = sql.join(pairs.slice(i, i + 1000).map(([id, ep]) => sql`(${id}::uuid, ${ep}::uuid)`));
    await sql`update ${sql.table(table)} set episode_id = v.episode_id from (values ${values}) as v(id, episode_id) where ${sql.ref(`${table}.id`)} = v.id`.execute(
      trx,
    );
  }
}

/** The row of an event an episode makes, as written. */
function madeRow(e: EpisodeEvent, episodeId: string): NewEventRow {
  return {
    id: e.id,
    occurred_at: e.occurred_at,
    type: e.type,
    source_kind: e.source_kind,
    source_id: e.source_id,
    ordinal: e.ordinal,
    rule_version: e.rule_version,
    provider_id: e.provider_id,
    service_id: e.service_id,
    consumer_org: e.consumer_org,
    disposition: e.disposition,
    deadline: e.deadline,
    deadline_source: e.deadline_source,
    episode_id: episodeId,
    encounter_id: e.encounter_id,
    patient_hash: e.patient_hash,
    correlation_keys: e.correlation_keys,
    attributes: JSON.stringify(e.attributes),
    data_quality: e.data_quality,
  };
}

/** Equal as JSON values, whatever the order of object keys (jsonb reorders them). */
function same(a: unknown, b: unknown): boolean {
  if (a instanceof Date || b instanceof Date)
    return a instanceof Date && b instanceof Date && a.getTime() === b.getTime();
  if (Array.isArray(a)) return Array.isArray(b) && a.length === b.length && a.every((v, i) => same(v, b[i]));
  if (a !== null && b !== null && typeof a === 'object' && typeof b === 'object') {
    const ka = Object.keys(a).filter((k) => (a as Record<string, unknown>)[k] !== undefined);
    const kb = Object.keys(b).filter((k) => (b as Record<string, unknown>)[k] !== undefined);
    return (
      ka.length === kb.length &&
      ka.every((k) => same((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k]))
    );
  }
  return a === b;
}

/** An event's new episode fields; attributes and flags only when they changed (else kept as stored). */
interface EventWrite {
  id: string;
  occurred_at: Date;
  episode_id: string;
  encounter_id: string | null;
  service_id: string | null;
  disposition: string | null;
  deadline: Date | null;
  deadline_source: string | null;
  data_quality: string[] | null;
  attributes: string | null;
}

/** An event joined to its episode, everything else left as it is (not resolved). */
function joinedOnly(e: EpisodeEvent, episodeId: string): EventWrite {
  return { ...e, episode_id: episodeId, encounter_id: null, data_quality: null, attributes: null };
}

/** Writes many events' episode fields, 500 per statement. */
async function writeEvents(trx: Transaction<Database>, writes: EventWrite[]): Promise<void> {
  for (let i = 0; i < writes.length; i += 500) {
    const values = sql.join(
      writes
        .slice(i, i + 500)
        .map(
          (w) =>
            sql`(${w.id}::uuid, ${w.occurred_at}::timestamptz, ${w.episode_id}::uuid, ${w.encounter_id}::text, ${w.service_id}::text, ${w.disposition}::text, ${w.deadline}::timestamptz, ${w.deadline_source}::text, ${w.data_quality}::text[], ${w.attributes}::jsonb)`,
        ),
    );
    await sql`update events set episode_id = v.episode_id, encounter_id = v.encounter_id, service_id = v.service_id,
        disposition = v.disposition,
        deadline = v.deadline, deadline_source = v.deadline_source,
        data_quality = coalesce(v.data_quality, events.data_quality), attributes = coalesce(v.attributes, events.attributes)
      from (values ${values}) as v(id, occurred_at, episode_id, encounter_id, service_id, disposition, deadline, deadline_source, data_quality, attributes)
      where events.id = v.id and events.occurred_at = v.occurred_at`.execute(trx);
  }
}

/**
 * Resolves episodes (their stored events and those arriving now) and writes, set-wise, what changed:
 * events' episode fields, the events episodes make, and the episode rows.
 */
export async function resolveAndWrite(
  trx: Transaction<Database>,
  arriving: Map<string, EpisodeEvent[]>,
  stored: Map<string, EpisodeEvent[]>,
  tables: DerivationTables,
  options: StitchOptions,
): Promise<Pick<StitchResult, 'resolved' | 'updated' | 'oversized'>> {
  const writes: EventWrite[] = [];
  const made: NewEventRow[] = [];
  const stale: string[] = [];
  const episodes: NewEpisodeRow[] = [];
  let oversized = 0;
  const ids = new Set([...arriving.keys(), ...stored.keys()]);
  for (const episodeId of ids) {
    const fresh = arriving.get(episodeId) ?? [];
    const freshIds = new Set(fresh.map((e) => e.id));
    const events = [...(stored.get(episodeId) ?? []), ...fresh];
    if (events.length > options.maxEvents) {
      oversized += 1;
      for (const e of fresh) writes.push(joinedOnly(e, episodeId));
      const times = events.map((e) => e.occurred_at.getTime());
      episodes.push({
        id: episodeId,
        opened_at: new Date(Math.min(...times)),
        last_activity_at: new Date(Math.max(...times)),
        patient_hash: events.find((e) => e.patient_hash)?.patient_hash ?? null,
        attributes: JSON.stringify({ events: events.length, oversized: true }),
      });
      continue;
    }
    const resolution = resolveEpisode(events, tables, options);
    for (const e of events) {
      const next = resolution.events.get(e.id);
      if (!next) {
        // Not resolved (an older rule version's event, waiting for reprocessing): joined all the same,
        // or it would be taken again by every batch.
        if (freshIds.has(e.id)) writes.push(joinedOnly(e, episodeId));
        continue;
      }
      const attributesChanged = !same(e.attributes, next.attributes);
      const flagsChanged = !same(e.data_quality, next.data_quality);
      if (
        !freshIds.has(e.id) &&
        !attributesChanged &&
        !flagsChanged &&
        e.encounter_id === next.encounter_id &&
        e.service_id === next.service_id &&
        e.disposition === next.disposition &&
        e.deadline_source === next.deadline_source &&
        (e.deadline?.getTime() ?? null) === (next.deadline?.getTime() ?? null)
      )
        continue;
      writes.push({
        id: e.id,
        occurred_at: e.occurred_at,
        episode_id: episodeId,
        encounter_id: next.encounter_id,
        service_id: next.service_id,
        disposition: next.disposition,
        deadline: next.deadline,
        deadline_source: next.deadline_source,
        data_quality: flagsChanged ? next.data_quality : null,
        attributes: attributesChanged ? JSON.stringify(next.attributes) : null,
      });
    }
    // Events the episode makes: those no longer made go; new or changed ones are written afresh.
    const wanted = new Map(resolution.made.map((e) => [e.id, e]));
    for (const e of events) if (e.ordinal >= EPISODE_ORDINAL && !wanted.has(e.id)) stale.push(e.id);
    for (const e of wanted.values()) {
      const had = events.find((r) => r.id === e.id);
      if (
        had &&
        same(
          { ...madeRow(had, episodeId), attributes: had.attributes },
          { ...madeRow(e, episodeId), attributes: e.attributes },
        )
      )
        continue;
      if (had) stale.push(had.id);
      made.push(madeRow(e, episodeId));
    }
    const { episode } = resolution;
    episodes.push({ id: episodeId, ...episode, attributes: JSON.stringify(episode.attributes) });
  }
  // Every episode in one statement: new ones inserted, known ones rewritten.
  const now = new Date();
  for (let i = 0; i < episodes.length; i += 500)
    await trx
      .insertInto('episodes')
      .values(episodes.slice(i, i + 500).map((e) => ({ ...e, updated_at: now })))
      .onConflict((oc) =>
        oc.column('id').doUpdateSet((eb) => ({
          opened_at: eb.ref('excluded.opened_at'),
          last_activity_at: eb.ref('excluded.last_activity_at'),
          patient_hash: eb.ref('excluded.patient_hash'),
          disposition: eb.ref('excluded.disposition'),
          deadline: eb.ref('excluded.deadline'),
          deadline_source: eb.ref('excluded.deadline_source'),
          attributes: eb.ref('excluded.attributes'),
          updated_at: eb.ref('excluded.updated_at'),
        })),
      )
      .execute();
  await writeEvents(trx, writes);
  if (stale.length > 0) await trx.deleteFrom('events').where('id', 'in', stale).execute();
  for (let i = 0; i < made.length; i += 500)
    await trx
      .insertInto('events')
      .values(made.slice(i, i + 500))
      .execute();
  return { resolved: ids.size - oversized, updated: writes.length + made.length + stale.length, oversized };
}

/**
 * Resolves the given episodes again, dropping those left without events (after their events were
 * rebuilt by `reprocess` and went elsewhere).
 */
export async function refreshEpisodes(
  db: Kysely<Database>,
  ids: string[],
  tables: DerivationTables,
  options: StitchOptions,
): Promise<void> {
  for (let i = 0; i < ids.length; i += 200)
    await db.transaction().execute(async (trx) => {
      await lock(trx);
      const stored = await storedEvents(trx, ids.slice(i, i + 200));
      const empty = [...stored].filter(([, events]) => events.length === 0).map(([id]) => id);
      if (empty.length > 0) await trx.deleteFrom('episodes').where('id', 'in', empty).execute();
      for (const id of empty) stored.delete(id);
      await resolveAndWrite(trx, new Map(), stored, tables, options);
    });
}
