import type { Kysely } from 'kysely';
import { eventsOfStored } from '../capture/captured.js';
import type { Database } from '../store/database.js';
import { refreshEpisodes } from './episode-store.js';
import { stitchAll, type StitchOptions } from './stitch-episodes.js';
import type { DerivationTables } from './tables.js';

export interface ReprocessOptions {
  /** Exchanges received from (inclusive) … */
  from: Date;
  /** … to (exclusive). */
  to: Date;
  /** Exchanges read and rewritten per transaction. */
  pageSize?: number;
  /** Told after every page: exchanges done so far, of how many, and events written. */
  onProgress?: (progress: { done: number; total: number; events: number }) => void;
  /** Episode stitching of the rebuilt events (without it they wait for a running collector to stitch them). */
  stitch?: StitchOptions;
  /** Told after every stitched batch: events stitched so far. */
  onStitched?: (stitched: number) => void;
}

/**
 * Rebuilds the events of the exchanges received in [from, to) from the stored exchanges, page by
 * page: each page's old events (of any rule version) are replaced by the current rules' events in one
 * transaction. Idempotent: event ids depend only on the exchange, the rule version and the event's
 * place, so running it twice gives the same events. With `stitch`, the new events are then stitched
 * into episodes (the same ones as before, through their keys) and the episodes resolved again. Returns
 * the totals.
 */
export async function reprocess(
  db: Kysely<Database>,
  tables: DerivationTables,
  options: ReprocessOptions,
): Promise<{ exchanges: number; events: number; stitched: number }> {
  const pageSize = options.pageSize ?? 500;
  const { total } = await db
    .selectFrom('exchanges')
    .select((eb) => eb.fn.countAll<number>().as('total'))
    .where('received_at', '>=', options.from)
    .where('received_at', '<', options.to)
    .executeTakeFirstOrThrow();
  let done = 0;
  let events = 0;
  let after: { at: Date; id: string } | undefined;
  /** Episodes that lost events: resolved again (or dropped when left empty) once the new events are stitched. */
  const episodes = new Set<string>();
  for (;;) {
    let query = db
      .selectFrom('exchanges')
      .selectAll()
      .where('received_at', '>=', options.from)
      .where('received_at', '<', options.to)
      .orderBy('received_at')
      .orderBy('id')
      .limit(pageSize);
    if (after) {
      const { at, id } = after;
      query = query.where((eb) =>
        eb.or([eb('received_at', '>', at), eb.and([eb('received_at', '=', at), eb('id', '>', id)])]),
      );
    }
    const page = await query.execute();
    if (page.length === 0) break;
    const derived = page.flatMap((row) => eventsOfStored(row, tables));
    await db.transaction().execute(async (trx) => {
      for (const row of await trx
        .selectFrom('events')
        .select('episode_id')
        .distinct()
        .where('source_kind', '=', 'exchange')
        .where(
          'source_id',
          'in',
          page.map((row) => row.id),
        )
        .where('episode_id', 'is not', null)
        .execute())
        episodes.add(row.episode_id!);
      await trx
        .deleteFrom('events')
        .where('source_kind', '=', 'exchange')
        .where(
          'source_id',
          'in',
          page.map((row) => row.id),
        )
        .execute();
      if (derived.length > 0) await trx.insertInto('events').values(derived).execute();
    });
    done += page.length;
    events += derived.length;
    options.onProgress?.({ done, total: Number(total), events });
    const last = page[page.length - 1]!;
    after = { at: new Date(last.received_at), id: last.id };
  }
  if (!options.stitch) return { exchanges: done, events, stitched: 0 };
  let stitched = 0;
  await stitchAll(db, tables, options.stitch, (batch) => {
    stitched += batch.stitched;
    options.onStitched?.(stitched);
  });
  await refreshEpisodes(db, [...episodes], tables, options.stitch);
  return { exchanges: done, events, stitched };
}
