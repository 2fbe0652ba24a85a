import type { Kysely } from 'kysely';
import { eventsOfStored } from '../capture/captured.js';
import type { Database } from '../store/database.js';
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
}

/**
 * Rebuilds the events of the exchanges received in [from, to) from the stored exchanges, page by
 * page: each page's old events (of any rule version) are replaced by the current rules' events in one
 * transaction. Idempotent: event ids depend only on the exchange, the rule version and the event's
 * place, so running it twice gives the same events. Returns the totals.
 */
export async function reprocess(
  db: Kysely<Database>,
  tables: DerivationTables,
  options: ReprocessOptions,
): Promise<{ exchanges: number; events: number }> {
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
  return { exchanges: done, events };
}
