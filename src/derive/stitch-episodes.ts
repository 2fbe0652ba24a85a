import type { Kysely } from 'kysely';
import { newId } from '../ids.js';
import type { Database } from '../store/database.js';
import { assign, episodeEvent, lock, mergeEpisodes, resolveAndWrite, storedEvents } from './episode-store.js';
import type { EpisodeEvent, EpisodeRules } from './episodes.js';
import { UnionFind } from './union-find.js';
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

function splitKey(key: string): [string, string] {
  const colon = key.indexOf(':');
  return [key.slice(0, colon), key.slice(colon + 1)];
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
    const links = new UnionFind();
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
