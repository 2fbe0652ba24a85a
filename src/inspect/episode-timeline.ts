import { sql, type Kysely } from 'kysely';
import type { Database } from '../store/database.js';
import type { EventRow } from '../store/tables/event.table.js';
import type { IngestRecordRow } from '../store/tables/ingest-record.table.js';
import { eventJson } from './exchange-detail.js';
import { currentEvents, iso, SUMMARY_COLUMNS, targetOf, type SummaryRow } from './stored-exchange.js';

/**
 * One patient contact (a 111 case) in order: each wire exchange and each ingested event it was stitched
 * from, with the events derived from it, and the episode's disposition and deadline. An exchange that
 * retention has since removed keeps its place (its events remain), marked as removed.
 */
export async function episodeTimeline(db: Kysely<Database>, id: string) {
  const episode = await db.selectFrom('episodes').selectAll().where('id', '=', id).executeTakeFirst();
  if (!episode) return undefined;
  const [keys, events] = await Promise.all([
    db
      .selectFrom('episode_keys')
      .select(['kind', 'value', 'first_seen_at'])
      .where('episode_id', '=', id)
      .orderBy('first_seen_at')
      .orderBy('kind')
      .execute(),
    db
      .selectFrom('events')
      .selectAll()
      .where('episode_id', '=', id)
      .orderBy('occurred_at')
      .orderBy('source_id')
      .orderBy('ordinal')
      .execute(),
  ]);
  // In the store's order (to the microsecond): each source where its first event falls.
  const sources = new Map<string, { kind: EventRow['source_kind']; id: string; events: EventRow[] }>();
  for (const e of currentEvents(events)) {
    const key = `${e.source_kind}:${e.source_id}`;
    const source = sources.get(key) ?? { kind: e.source_kind, id: e.source_id, events: [] };
    source.events.push(e);
    sources.set(key, source);
  }
  const ids = (kind: EventRow['source_kind']) =>
    [...sources.values()].filter((s) => s.kind === kind).map((s) => s.id);
  const exchangeIds = ids('exchange');
  const ingestIds = ids('ingest');
  const [exchanges, ingested] = await Promise.all([
    exchangeIds.length === 0
      ? []
      : sql<Omit<SummaryRow, 'at'>>`select ${SUMMARY_COLUMNS}
          from exchanges x where x.id in (${sql.join(exchangeIds.map((x) => sql`${x}::uuid`))})`
          .execute(db)
          .then((r) => r.rows),
    ingestIds.length === 0
      ? []
      : db
          .selectFrom('ingest_records')
          .select(['id', 'type', 'token_name', 'client_event_id', 'occurred_at', 'received_at', 'late'])
          .where('id', 'in', ingestIds)
          .execute(),
  ]);
  const exchangeById = new Map(exchanges.map((x) => [x.id, x]));
  const ingestById = new Map<string, Omit<IngestRecordRow, 'payload'>>(ingested.map((r) => [r.id, r]));
  const timeline = [...sources.values()].map((source) => {
    const at = iso(source.events[0]!.occurred_at);
    const derived = source.events.map(eventJson);
    if (source.kind === 'exchange') {
      const x = exchangeById.get(source.id);
      return {
        at,
        kind: 'exchange' as const,
        id: source.id,
        ...(x
          ? {
              exchange: {
                provider: x.provider_id,
                dialect: x.dialect,
                interaction: x.interaction,
                method: x.method,
                path: targetOf(x),
                status: x.response_status,
                transport: x.transport_outcome,
                totalMs: x.total_ms,
                href: `/api/exchanges/${x.id}`,
              },
            }
          : { exchange: null, removed: 'the exchange is no longer stored (retention); its events remain' }),
        events: derived,
      };
    }
    const record = ingestById.get(source.id);
    return {
      at,
      kind: 'ingest' as const,
      id: source.id,
      ingest: record
        ? {
            type: record.type,
            token: record.token_name,
            clientEventId: record.client_event_id,
            receivedAt: iso(record.received_at),
            late: record.late,
          }
        : null,
      events: derived,
    };
  });
  return {
    id: episode.id,
    openedAt: iso(episode.opened_at),
    lastActivityAt: iso(episode.last_activity_at),
    disposition: episode.disposition,
    deadline: iso(episode.deadline),
    deadlineSource: episode.deadline_source,
    patientHash: episode.patient_hash,
    attributes: episode.attributes,
    keys: keys.map((k) => ({ kind: k.kind, value: k.value, firstSeenAt: iso(k.first_seen_at) })),
    timeline,
    events: events.length,
  };
}
