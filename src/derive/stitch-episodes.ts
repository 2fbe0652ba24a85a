import { sql, type Kysely, type Transaction } from 'kysely';
import { newId } from '../ids.js';
import type { Database } from '../store/database.js';
import type { NewEpisodeRow } from '../store/tables/episode.table.js';
import type { EventRow, NewEventRow } from '../store/tables/event.table.js';
import { EPISODE_ORDINAL, resolveEpisode, type EpisodeEvent, type EpisodeRules } from './episodes.js';
import type { DerivationTables } from './tables.js';

/*
 * Stitching: events written without an episode (by capture, reprocessing or ingest) are joined to
 * episodes by their correlation keys and the patient hash, in batches, one transaction each, after they
 * are stored, never on the proxy's path. A batch:
 *   1. takes the oldest unstitched events;
 *   2. finds the episodes their keys already point at, and the episodes of the same patient within the
 *      window; events and episodes that share anything become one (episodes that turn out to be one are
 *      merged into the oldest: a referral that arrives after its booking still joins it);
 *   3. records the new keys, and the episode on the events and their exchanges;
 *   4. resolves every episode it touched again (episodes.ts) and writes what changed.
 * An advisory lock keeps two collectors on one database from stitching at once.
 */

export interface StitchOptions extends EpisodeRules {
  /** Events for the same patient this close join one episode. */
  windowMs: number;
  /** An episode with more events than this is joined but not resolved (a key reused for everything). */
  maxEvents: number;
  /** Events taken per transaction. */
  batchSize?: number;
}

export interface StitchResult {
  /** Events given an episode. */
  stitched: number;
  /** Episodes opened, and episodes merged away into another. */
  opened: number;
  merged: number;
  /** Episodes resolved again, and events whose resolved fields changed. */
  resolved: number;
  updated: number;
  /** Episodes too large to resolve (see `maxEvents`). */
  oversized: number;
}

const EMPTY: StitchResult = { stitched: 0, opened: 0, merged: 0, resolved: 0, updated: 0, oversized: 0 };

/** Union-find over string nodes. */
class Links {
  readonly #parent = new Map<string, string>();
  find(node: string): string {
    let root = node;
    while (this.#parent.has(root) && this.#parent.get(root) !== root) root = this.#parent.get(root)!;
    this.#parent.set(node, root);
    return root;
  }
  union(a: string, b: string): void {
    const ra = this.find(a);
    const rb = this.find(b);
    if (ra !== rb) this.#parent.set(ra, rb);
  }
}

function splitKey(key: string): [string, string] {
  const colon = key.indexOf(':');
  return [key.slice(0, colon), key.slice(colon + 1)];
}

function episodeEvent(row: EventRow): EpisodeEvent {
  return {
    ...row,
    occurred_at: new Date(row.occurred_at),
    deadline: row.deadline ? new Date(row.deadline) : null,
    attributes: row.attributes ?? {},
  };
}

/** One stitcher at a time per database schema (two collectors, or a collector and `reprocess`). */
async function lock(trx: Transaction<Database>): Promise<void> {
  await sql`select pg_advisory_xact_lock(hashtext(current_schema() || '.episode-stitching'))`.execute(trx);
}

/** Stitches one batch of unstitched events; returns what it did (all zero when nothing waited). */
export async function stitchBatch(
  db: Kysely<Database>,
  tables: DerivationTables,
  options: StitchOptions,
): Promise<StitchResult> {
  return db.transaction().execute(async (trx) => {
    await lock(trx);
    const pending = await trx
      .selectFrom('events')
      .selectAll()
      .where('episode_id', 'is', null)
      .orderBy('occurred_at')
      .orderBy('id')
      .limit(options.batchSize ?? 500)
      .execute();
    if (pending.length === 0) return EMPTY;
    const links = new Links();
    const event = (id: string) => `e:${id}`;
    const episode = (id: string) => `p:${id}`;

    // Keys: shared with known episodes, or among the batch.
    const linked = new Set<string>();
    const keys = [...new Set(pending.flatMap((e) => e.correlation_keys))];
    const known = new Map<string, string>();
    for (let i = 0; i < keys.length; i += 1000) {
      const slice = keys.slice(i, i + 1000).map(splitKey);
      const rows = await trx
        .selectFrom('episode_keys')
        .select(['kind', 'value', 'episode_id'])
        .where((eb) =>
          eb(
            eb.refTuple('kind', 'value'),
            'in',
            slice.map(([kind, value]) => eb.tuple(kind, value)),
          ),
        )
        .execute();
      for (const row of rows) known.set(`${row.kind}:${row.value}`, row.episode_id);
    }
    const firstWithKey = new Map<string, string>();
    for (const e of pending)
      for (const key of e.correlation_keys) {
        const owner = known.get(key);
        if (owner) {
          links.union(event(e.id), episode(owner));
          linked.add(owner);
        }
        const first = firstWithKey.get(key);
        if (first) links.union(event(e.id), event(first));
        else firstWithKey.set(key, e.id);
      }

    // The patient: episodes of the same hash whose time reaches within the window, and the batch's own.
    const time = (at: Date | string) => new Date(at).getTime();
    const byPatient = new Map<string, typeof pending>();
    for (const e of pending)
      if (e.patient_hash) {
        const list = byPatient.get(e.patient_hash);
        if (list) list.push(e);
        else byPatient.set(e.patient_hash, [e]);
      }
    if (byPatient.size > 0) {
      const times = pending.map((e) => time(e.occurred_at));
      const near = await trx
        .selectFrom('episodes')
        .select(['id', 'patient_hash', 'opened_at', 'last_activity_at'])
        .where('patient_hash', 'in', [...byPatient.keys()])
        .where('last_activity_at', '>=', new Date(Math.min(...times) - options.windowMs))
        .where('opened_at', '<=', new Date(Math.max(...times) + options.windowMs))
        .execute();
      for (const p of near)
        for (const e of byPatient.get(p.patient_hash!) ?? []) {
          const t = time(e.occurred_at);
          if (t >= time(p.opened_at) - options.windowMs && t <= time(p.last_activity_at) + options.windowMs) {
            links.union(event(e.id), episode(p.id));
            linked.add(p.id);
          }
        }
      for (const list of byPatient.values())
        for (let i = 1; i < list.length; i += 1)
          if (time(list[i]!.occurred_at) - time(list[i - 1]!.occurred_at) <= options.windowMs)
            links.union(event(list[i]!.id), event(list[i - 1]!.id));
    }

    // Each group of linked events and episodes becomes one episode: the oldest of its episodes, or a new one.
    const opened = new Map<string, number>();
    if (linked.size > 0)
      for (const row of await trx
        .selectFrom('episodes')
        .select(['id', 'opened_at'])
        .where('id', 'in', [...linked])
        .execute())
        opened.set(row.id, time(row.opened_at));
    const groups = new Map<
      string,
      { events: string[]; sources: string[]; keys: Set<string>; episodes: string[] }
    >();
    const groupOf = (node: string) => {
      const root = links.find(node);
      let group = groups.get(root);
      if (!group) groups.set(root, (group = { events: [], sources: [], keys: new Set(), episodes: [] }));
      return group;
    };
    for (const e of pending) {
      const group = groupOf(event(e.id));
      group.events.push(e.id);
      if (e.source_kind === 'exchange') group.sources.push(e.source_id);
      for (const key of e.correlation_keys) group.keys.add(key);
    }
    for (const id of linked) groupOf(episode(id)).episodes.push(id);

    const result: StitchResult = { ...EMPTY, stitched: pending.length };
    const sourceAssignments: [string, string][] = [];
    const newKeys: { kind: string; value: string; episode_id: string; first_seen_at: Date }[] = [];
    const newEpisodes = new Set<string>();
    /** Per episode the batch touched: its events from this batch. */
    const arriving = new Map<string, EpisodeEvent[]>();
    const byId = new Map(pending.map((e) => [e.id, e]));
    const now = new Date();
    for (const group of groups.values()) {
      const ordered = group.episodes.sort((a, b) => opened.get(a)! - opened.get(b)! || (a < b ? -1 : 1));
      let survivor = ordered[0];
      if (!survivor) {
        survivor = newId();
        newEpisodes.add(survivor);
        result.opened += 1;
      }
      const absorbed = ordered.slice(1);
      if (absorbed.length > 0) {
        await mergeEpisodes(trx, survivor, absorbed);
        result.merged += absorbed.length;
      }
      arriving.set(
        survivor,
        group.events.map((id) => episodeEvent(byId.get(id)!)),
      );
      for (const id of group.sources) sourceAssignments.push([id, survivor]);
      for (const key of group.keys)
        if (!known.has(key)) {
          const [kind, value] = splitKey(key);
          newKeys.push({ kind, value, episode_id: survivor, first_seen_at: now });
        }
    }
    await assign(trx, 'exchanges', sourceAssignments);
    const stored = await storedEvents(
      trx,
      [...arriving.keys()].filter((id) => !newEpisodes.has(id)),
    );
    // Episodes first (keys refer to them), then their keys.
    const outcome = await resolveAndWrite(trx, arriving, stored, tables, options);
    for (let i = 0; i < newKeys.length; i += 1000)
      await trx
        .insertInto('episode_keys')
        .values(newKeys.slice(i, i + 1000))
        .onConflict((oc) => oc.columns(['kind', 'value']).doNothing())
        .execute();
    return { ...result, ...outcome };
  });
}

/** The stored events of episodes, by episode. */
async function storedEvents(trx: Transaction<Database>, ids: string[]): Promise<Map<string, EpisodeEvent[]>> {
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
async function mergeEpisodes(
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
async function assign(
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
            sql`(${w.id}::uuid, ${w.occurred_at}::timestamptz, ${w.episode_id}::uuid, ${w.encounter_id}::text, ${w.disposition}::text, ${w.deadline}::timestamptz, ${w.deadline_source}::text, ${w.data_quality}::text[], ${w.attributes}::jsonb)`,
        ),
    );
    await sql`update events set episode_id = v.episode_id, encounter_id = v.encounter_id, disposition = v.disposition,
        deadline = v.deadline, deadline_source = v.deadline_source,
        data_quality = coalesce(v.data_quality, events.data_quality), attributes = coalesce(v.attributes, events.attributes)
      from (values ${values}) as v(id, occurred_at, episode_id, encounter_id, disposition, deadline, deadline_source, data_quality, attributes)
      where events.id = v.id and events.occurred_at = v.occurred_at`.execute(trx);
  }
}

/**
 * Resolves episodes (their stored events and those arriving now) and writes, set-wise, what changed:
 * events' episode fields, the events episodes make, and the episode rows.
 */
async function resolveAndWrite(
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

/** Stitches until nothing waits; returns the totals. */
export async function stitchAll(
  db: Kysely<Database>,
  tables: DerivationTables,
  options: StitchOptions,
  onBatch?: (result: StitchResult) => void,
): Promise<StitchResult> {
  const total = { ...EMPTY };
  for (;;) {
    const batch = await stitchBatch(db, tables, options);
    if (batch.stitched === 0) return total;
    for (const key of Object.keys(total) as (keyof StitchResult)[]) total[key] += batch[key];
    onBatch?.(batch);
  }
}
