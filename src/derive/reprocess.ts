import { sql, type Kysely } from 'kysely';
import { eventsJson, eventsOfStored } from '../capture/captured.js';
import { ingestEvents, isIngestPayload } from '../ingest/ingest-events.js';
import { insertEventsJson } from '../store/json-inserts.js';
import type { NewEventRow } from '../store/tables/event.table.js';
import type { ExchangeRow } from '../store/tables/exchange.table.js';
import type { IngestRecordRow } from '../store/tables/ingest-record.table.js';
import type { Database } from '../store/database.js';
import { refreshEpisodes } from './episode-store.js';
import { stitchAll, type StitchOptions } from './stitch-episodes.js';
import type { DerivationTables } from './tables.js';

export interface ReprocessOptions {
  /** Exchanges captured (and events ingested) from (inclusive) … */
  from: Date;
  /** … to (exclusive). */
  to: Date;
  /** Exchanges (or ingest records) read and rewritten per transaction. */
  pageSize?: number;
  /** Told after every page: exchanges and ingest records done so far, of how many, and events written. */
  onProgress?: (progress: { done: number; total: number; events: number }) => void;
  /** Episode stitching of the rebuilt events (without it they wait for a running collector to stitch them). */
  stitch?: StitchOptions;
  /** Told after every stitched batch: events stitched so far. */
  onStitched?: (stitched: number) => void;
}

/** Where events come from, read page by page in order of arrival. */
interface Source {
  kind: 'exchange' | 'ingest';
  count(): Promise<number>;
  /** The next page after `after` (in order of received_at, id), each row with its rebuilt events. */
  page(
    after: { at: Date; id: string } | undefined,
    limit: number,
  ): Promise<{ id: string; received_at: Date | string; events: NewEventRow[] | undefined }[]>;
}

/** A table of sources read page by page in [from, to), in order of (received_at, id), each row with its events. */
function source<Row extends { id: string; received_at: Date | string }>(
  db: Kysely<Database>,
  table: 'exchanges' | 'ingest_records',
  kind: Source['kind'],
  range: { from: Date; to: Date },
  derive: (row: Row) => NewEventRow[] | undefined,
): Source {
  const within = sql`received_at >= ${range.from} and received_at < ${range.to}`;
  return {
    kind,
    count: async () =>
      Number(
        (
          await sql<{
            total: string;
          }>`select count(*) as total from ${sql.table(table)} where ${within}`.execute(db)
        ).rows[0]!.total,
      ),
    page: async (at, limit) => {
      const next = at ? sql`and (received_at, id) > (${at.at}, ${at.id})` : sql``;
      const { rows } = await sql<Row>`select * from ${sql.table(table)} where ${within} ${next}
                                      order by received_at, id limit ${limit}`.execute(db);
      return rows.map((row) => ({ id: row.id, received_at: row.received_at, events: derive(row) }));
    },
  };
}

function sources(db: Kysely<Database>, tables: DerivationTables, range: { from: Date; to: Date }): Source[] {
  return [
    source<ExchangeRow>(db, 'exchanges', 'exchange', range, (row) => eventsOfStored(row, tables)),
    source<IngestRecordRow>(db, 'ingest_records', 'ingest', range, (row) =>
      // A payload this version cannot read keeps the events it has.
      isIngestPayload(row.payload) ? ingestEvents({ ...row, payload: row.payload }, tables) : undefined,
    ),
  ];
}

/**
 * Rebuilds the events of the exchanges captured and the events ingested in [from, to) from what is
 * stored, page by page: each page's old events (of any rule version) are replaced by the current rules'
 * events in one transaction. Idempotent: event ids depend only on the source, the rule version and the
 * event's place, so running it twice gives the same events. With `stitch`, the new events are then
 * stitched into episodes (the same ones as before, through their keys) and the episodes resolved
 * again. Returns the totals.
 */
export async function reprocess(
  db: Kysely<Database>,
  tables: DerivationTables,
  options: ReprocessOptions,
): Promise<{ exchanges: number; ingested: number; events: number; stitched: number }> {
  const pageSize = options.pageSize ?? 500;
  const all = sources(db, tables, { from: options.from, to: options.to });
  let total = 0;
  for (const source of all) total += await source.count();
  const done = { exchange: 0, ingest: 0 };
  let events = 0;
  /** Episodes that lost events: resolved again (or dropped when left empty) once the new events are stitched. */
  const episodes = new Set<string>();
  for (const source of all) {
    let at: { at: Date; id: string } | undefined;
    for (;;) {
      const page = await source.page(at, pageSize);
      if (page.length === 0) break;
      const rebuilt = page.filter((row) => row.events !== undefined);
      const ids = rebuilt.map((row) => row.id);
      const derived = rebuilt.flatMap((row) => row.events!);
      if (ids.length > 0)
        await db.transaction().execute(async (trx) => {
          for (const row of await trx
            .selectFrom('events')
            .select('episode_id')
            .distinct()
            .where('source_kind', '=', source.kind)
            .where('source_id', 'in', ids)
            .where('episode_id', 'is not', null)
            .execute())
            episodes.add(row.episode_id!);
          await trx
            .deleteFrom('events')
            .where('source_kind', '=', source.kind)
            .where('source_id', 'in', ids)
            .execute();
          if (derived.length > 0) await insertEventsJson(trx, eventsJson(derived));
        });
      done[source.kind] += page.length;
      events += derived.length;
      options.onProgress?.({ done: done.exchange + done.ingest, total, events });
      const last = page[page.length - 1]!;
      at = { at: new Date(last.received_at), id: last.id };
    }
  }
  const counts = { exchanges: done.exchange, ingested: done.ingest, events };
  if (!options.stitch) return { ...counts, stitched: 0 };
  let stitched = 0;
  await stitchAll(db, tables, options.stitch, (batch) => {
    stitched += batch.stitched;
    options.onStitched?.(stitched);
  });
  await refreshEpisodes(db, [...episodes], tables, options.stitch);
  return { ...counts, stitched };
}
