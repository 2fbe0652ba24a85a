import { isDeepStrictEqual } from 'node:util';
import { eventsJson } from '../capture/captured.js';
import type { DerivationTables } from '../derive/tables.js';
import { newId } from '../ids.js';
import { insertEventsJson } from '../store/json-inserts.js';
import type { Store } from '../store/store.js';
import { ingestEvents } from './ingest-events.js';
import type { PreparedEvent } from './prepare.js';

/** What became of one posted event. */
export interface IngestOutcome {
  /** The client's id for it. */
  id: string;
  /** `created`: stored now; `duplicate`: stored before under the same id, with the same content. */
  status: 'created' | 'duplicate';
  /** The collector's id of the ingest record (the events' `source_id`). */
  ingestId: string;
  late: boolean;
}

/** Events posted again under ids already used, with different content: the batch is refused. */
export class IngestConflictError extends Error {
  constructor(readonly clientIds: string[]) {
    super(`event ids already used for different content: ${clientIds.join(', ')}`);
    this.name = 'IngestConflictError';
  }
}

/**
 * Stores a batch of prepared events for one token, all or nothing, in one transaction: an ingest record
 * each (unique per token and client id) and the metric events derived from it. An id stored before with
 * the same content is a duplicate (a retry: answered as before, counted once); with other content it is
 * a conflict, and nothing of the batch is kept. Two identical posts racing each other meet at the unique
 * key: the second waits for the first and then finds its record.
 */
export async function storeIngested(
  store: Store,
  tokenName: string,
  prepared: PreparedEvent[],
  tables: DerivationTables,
  receivedAt: Date,
): Promise<IngestOutcome[]> {
  return store.db.transaction().execute(async (trx) => {
    // In order of client id: batches that overlap take the unique key's locks in one order (no deadlock).
    const ordered = [...prepared].sort((a, b) =>
      a.clientId < b.clientId ? -1 : a.clientId > b.clientId ? 1 : 0,
    );
    const candidates = ordered.map((event) => ({
      id: newId(),
      token_name: tokenName,
      client_event_id: event.clientId,
      type: event.type,
      occurred_at: event.occurredAt,
      received_at: receivedAt,
      late: event.late,
      payload: JSON.stringify(event.payload),
    }));
    const inserted = await trx
      .insertInto('ingest_records')
      .values(candidates)
      .onConflict((oc) => oc.columns(['token_name', 'client_event_id']).doNothing())
      .returning(['id', 'client_event_id'])
      .execute();
    const created = new Map(inserted.map((row) => [row.client_event_id, row.id]));
    const earlier = prepared.filter((event) => !created.has(event.clientId));
    const existing =
      earlier.length === 0
        ? []
        : await trx
            .selectFrom('ingest_records')
            .select(['id', 'client_event_id', 'late', 'payload'])
            .where('token_name', '=', tokenName)
            .where(
              'client_event_id',
              'in',
              earlier.map((event) => event.clientId),
            )
            .execute();
    const before = new Map(existing.map((row) => [row.client_event_id, row]));
    const conflicts = earlier.filter(
      (event) => !isDeepStrictEqual(before.get(event.clientId)?.payload, event.payload),
    );
    if (conflicts.length > 0) throw new IngestConflictError(conflicts.map((event) => event.clientId));

    const events = ordered.flatMap((event, i) => {
      const record = candidates[i]!;
      if (created.get(event.clientId) !== record.id) return [];
      return ingestEvents({ ...record, payload: event.payload }, tables);
    });
    if (events.length > 0) await insertEventsJson(trx, eventsJson(events));
    return prepared.map((event): IngestOutcome => {
      const createdId = created.get(event.clientId);
      if (createdId) return { id: event.clientId, status: 'created', ingestId: createdId, late: event.late };
      const row = before.get(event.clientId)!;
      return { id: event.clientId, status: 'duplicate', ingestId: row.id, late: row.late };
    });
  });
}
