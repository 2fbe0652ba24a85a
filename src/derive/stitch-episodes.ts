import { sql, type Kysely, type Transaction } from 'kysely';
import { newId } from '../ids.js';
import type { Database } from '../store/database.js';
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
      .select(['id', 'occurred_at', 'source_kind', 'source_id', 'correlation_keys', 'patient_hash'])
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
    const assignments: [string, string][] = [];
    const sourceAssignments: [string, string][] = [];
    const newKeys: { kind: string; value: string; episode_id: string; first_seen_at: Date }[] = [];
    const touched = new Set<string>();
    const now = new Date();
    for (const group of groups.values()) {
      const ordered = group.episodes.sort((a, b) => opened.get(a)! - opened.get(b)! || (a < b ? -1 : 1));
      let survivor = ordered[0];
      if (!survivor) {
        survivor = newId();
        const first = new Date(
          Math.min(...group.events.map((id) => time(pending.find((e) => e.id === id)!.occurred_at))),
        );
        await trx
          .insertInto('episodes')
          .values({ id: survivor, opened_at: first, last_activity_at: first })
          .execute();
        result.opened += 1;
      }
      const absorbed = ordered.slice(1);
      if (absorbed.length > 0) {
        await mergeEpisodes(trx, survivor, absorbed);
        result.merged += absorbed.length;
      }
      touched.add(survivor);
      for (const id of group.events) assignments.push([id, survivor]);
      for (const id of group.sources) sourceAssignments.push([id, survivor]);
      for (const key of group.keys)
        if (!known.has(key)) {
          const [kind, value] = splitKey(key);
          newKeys.push({ kind, value, episode_id: survivor, first_seen_at: now });
        }
    }
    await assign(trx, 'events', assignments);
    await assign(trx, 'exchanges', sourceAssignments);
    for (let i = 0; i < newKeys.length; i += 1000)
      await trx
        .insertInto('episode_keys')
        .values(newKeys.slice(i, i + 1000))
        .onConflict((oc) => oc.columns(['kind', 'value']).doNothing())
        .execute();

    for (const id of touched) {
      const outcome = await resolveStored(trx, id, tables, options);
      result.resolved += 1;
      result.updated += outcome.updated;
      if (outcome.oversized) result.oversized += 1;
    }
    return result;
  });
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

/** Sets the episode of rows by id, many at once. */
async function assign(
  trx: Transaction<Database>,
  table: 'events' | 'exchanges',
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

/** Resolves one stored episode again and writes the fields that changed; returns how many events changed. */
export async function resolveStored(
  trx: Transaction<Database>,
  episodeId: string,
  tables: DerivationTables,
  options: StitchOptions,
): Promise<{ updated: number; oversized: boolean }> {
  const { count } = await trx
    .selectFrom('events')
    .select((eb) => eb.fn.countAll<number>().as('count'))
    .where('episode_id', '=', episodeId)
    .executeTakeFirstOrThrow();
  if (Number(count) > options.maxEvents) {
    await trx
      .updateTable('episodes')
      .set({ attributes: JSON.stringify({ events: Number(count), oversized: true }), updated_at: new Date() })
      .where('id', '=', episodeId)
      .execute();
    return { updated: 0, oversized: true };
  }
  const rows = (await trx.selectFrom('events').selectAll().where('episode_id', '=', episodeId).execute()).map(
    episodeEvent,
  );
  const resolution = resolveEpisode(rows, tables, options);
  let updated = 0;
  for (const row of rows) {
    const next = resolution.events.get(row.id);
    if (!next) continue;
    if (
      row.encounter_id === next.encounter_id &&
      row.disposition === next.disposition &&
      row.deadline_source === next.deadline_source &&
      (row.deadline?.getTime() ?? null) === (next.deadline?.getTime() ?? null) &&
      same(row.data_quality, next.data_quality) &&
      same(row.attributes, next.attributes)
    )
      continue;
    await trx
      .updateTable('events')
      .set({
        encounter_id: next.encounter_id,
        disposition: next.disposition,
        deadline: next.deadline,
        deadline_source: next.deadline_source,
        data_quality: next.data_quality,
        attributes: JSON.stringify(next.attributes),
      })
      .where('id', '=', row.id)
      .where('occurred_at', '=', row.occurred_at)
      .execute();
    updated += 1;
  }
  // Events the episode makes: those no longer made go, new ones come, changed ones are rewritten.
  const made = new Map(resolution.made.map((e) => [e.id, e]));
  const stale = rows.filter((r) => r.ordinal >= EPISODE_ORDINAL && !made.has(r.id)).map((r) => r.id);
  if (stale.length > 0) await trx.deleteFrom('events').where('id', 'in', stale).execute();
  for (const e of made.values()) {
    const had = rows.find((r) => r.id === e.id);
    if (
      had &&
      same(
        { ...madeRow(had, episodeId), attributes: had.attributes },
        { ...madeRow(e, episodeId), attributes: e.attributes },
      )
    )
      continue;
    if (had) await trx.deleteFrom('events').where('id', '=', e.id).execute();
    await trx.insertInto('events').values(madeRow(e, episodeId)).execute();
    updated += 1;
  }
  const { episode } = resolution;
  await trx
    .updateTable('episodes')
    .set({ ...episode, attributes: JSON.stringify(episode.attributes), updated_at: new Date() })
    .where('id', '=', episodeId)
    .execute();
  return { updated: updated + stale.length, oversized: false };
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
  for (const id of ids)
    await db.transaction().execute(async (trx) => {
      await lock(trx);
      const any = await trx
        .selectFrom('events')
        .select('id')
        .where('episode_id', '=', id)
        .limit(1)
        .executeTakeFirst();
      if (!any) await trx.deleteFrom('episodes').where('id', '=', id).execute();
      else await resolveStored(trx, id, tables, options);
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
