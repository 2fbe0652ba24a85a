import { randomUUID } from 'node:crypto';
import { brotliDecompressSync } from 'node:zlib';
import harValidator from 'har-validator';
import { sql } from 'kysely';
import type { RunningCollector } from '../../src/server.js';
import { TEST_TOKENS } from '../helpers/app.js';
import { simulateCalls, startTestCollector } from '../helpers/collector.js';

/*
 * Inspection over real captured traffic: simulated 111 calls in all three dialects through a running
 * collector (capture, redaction, derivation, stitching all real), then every filter of GET
 * /api/exchanges against the same filter applied to the stored rows, the detail and episode views, a
 * HAR export checked by the HAR schema, and the access audit of all of it.
 */

const CALLS = 60;
/** A valid NHS number (check digit 9) no simulated call uses. */
const NHS_NUMBER = '9434765919';

let collector: RunningCollector;
let stopCollector: () => Promise<void>;

interface Stored {
  id: string;
  received_at: Date;
  provider_id: string | null;
  dialect: string | null;
  interaction: string | null;
  response_status: number | null;
  transport_outcome: string;
  consumer_org: string | null;
  trace_id: string | null;
  correlation_id: string | null;
  request_id: string | null;
  patient_hash: string | null;
  path: string;
}
let stored: Stored[];
let outcomes: Map<string, string>;
let episodesOf: Map<string, Set<string>>;

async function get(path: string, token: string = TEST_TOKENS.inspect) {
  const res = await fetch(`${collector.url}${path}`, { headers: { Authorization: `Bearer ${token}` } });
  const text = await res.text();
  let body: any = text;
  try {
    body = JSON.parse(text);
  } catch {
    // not JSON: kept as text
  }
  return { status: res.status, body, headers: res.headers };
}

/** Every item of a list, following `next` page by page. */
async function all(path: string): Promise<{ items: any[]; pages: number }> {
  const items: any[] = [];
  let next: string | null = path;
  let pages = 0;
  while (next) {
    const page = await get(next);
    expect(page.status).toBe(200);
    items.push(...page.body.items);
    next = page.body.next;
    pages += 1;
    expect(pages).toBeLessThan(500);
  }
  return { items, pages };
}

const newestFirst = (a: Stored, b: Stored) =>
  b.received_at.getTime() - a.received_at.getTime() || (b.id < a.id ? -1 : b.id > a.id ? 1 : 0);

beforeAll(async () => {
  ({ collector, stop: stopCollector } = await startTestCollector('collector-inspect'));
  await simulateCalls(collector, { calls: CALLS, seed: 5 });
  // One patient search by an NHS number, with ids of our own to look it up by.
  const search = await fetch(
    `${collector.url}/fhir/sandbox-gpconnect/Patient?identifier=${encodeURIComponent(`https://fhir.nhs.uk/Id/nhs-number|${NHS_NUMBER}`)}`,
    {
      headers: {
        Accept: 'application/fhir+json',
        'Ssp-TraceID': 'trace-inspect-0001',
        'X-Correlation-Id': 'corr-inspect-0001',
        'X-Request-ID': 'req-inspect-0001',
        'NHSD-End-User-Organisation': Buffer.from(
          JSON.stringify({
            resourceType: 'Organization',
            identifier: [{ system: 'https://fhir.nhs.uk/Id/ods-organization-code', value: 'RX101' }],
          }),
        ).toString('base64'),
      },
    },
  );
  await search.arrayBuffer();
  await collector.capture.drain();
  await collector.stitcher.settled();
  stored = (
    await sql<Stored>`select id, received_at, provider_id, dialect, interaction, response_status,
                             transport_outcome, consumer_org, trace_id, correlation_id, request_id,
                             patient_hash, path from exchanges`.execute(collector.store.db)
  ).rows.map((r) => ({ ...r, received_at: new Date(r.received_at) }));
  stored.sort(newestFirst);
  const events = await collector.store.db
    .selectFrom('events')
    .select(['source_id', 'type', 'episode_id', sql<string | null>`attributes->>'outcome'`.as('outcome')])
    .where('source_kind', '=', 'exchange')
    .execute();
  outcomes = new Map(
    events.filter((e) => e.type === 'booking.attempted').map((e) => [e.source_id, e.outcome!]),
  );
  episodesOf = new Map();
  for (const e of events)
    if (e.episode_id)
      episodesOf.set(e.episode_id, (episodesOf.get(e.episode_id) ?? new Set()).add(e.source_id));
}, 300_000);

afterAll(async () => {
  await stopCollector();
});

describe('GET /api/exchanges', () => {
  it('lists every stored exchange once, newest first, page by page', async () => {
    const { items, pages } = await all('/api/exchanges?limit=7');
    expect(stored.length).toBeGreaterThan(100);
    expect(pages).toBe(Math.ceil(stored.length / 7));
    expect(items.map((i) => i.id)).toEqual(stored.map((s) => s.id));
    const first = items[0];
    expect(first.href).toBe(`/api/exchanges/${first.id}`);
    expect(new Date(first.receivedAt).getTime()).toBe(stored[0]!.received_at.getTime());
  });

  it('answers each filter with exactly the exchanges it matches', async () => {
    const pick = <T>(values: (T | null)[]) => values.find((v) => v !== null) as T;
    const booking = [...outcomes.entries()].find(([, o]) => o !== 'booked')!;
    const episode = [...episodesOf.entries()].sort((a, b) => b[1].size - a[1].size)[0]!;
    const failedStatus = pick(stored.map((s) => (s.response_status! >= 400 ? s.response_status : null)));
    const cases: [string, (s: Stored) => boolean][] = [
      ['provider=sandbox-bars', (s) => s.provider_id === 'sandbox-bars'],
      ['dialect=stu3', (s) => s.dialect === 'stu3'],
      ['interaction=slot-search', (s) => s.interaction === 'slot-search'],
      [`status=${failedStatus}`, (s) => s.response_status === failedStatus],
      [
        'status=4xx',
        (s) => s.response_status !== null && s.response_status >= 400 && s.response_status < 500,
      ],
      [
        'status=2xx',
        (s) => s.response_status !== null && s.response_status >= 200 && s.response_status < 300,
      ],
      [`outcome=${booking[1]}`, (s) => outcomes.get(s.id) === booking[1]],
      ['outcome=booked', (s) => outcomes.get(s.id) === 'booked'],
      ['outcome=booked&dialect=stu3', (s) => outcomes.get(s.id) === 'booked' && s.dialect === 'stu3'],
      ['transport=ok', (s) => s.transport_outcome === 'ok'],
      ['consumer=RX101', (s) => s.consumer_org === 'RX101'],
      ['correlation=trace-inspect-0001', (s) => s.trace_id === 'trace-inspect-0001'],
      ['correlation=req-inspect-0001', (s) => s.request_id === 'req-inspect-0001'],
      [`episode=${episode[0]}`, (s) => episode[1].has(s.id)],
    ];
    for (const [query, matches] of cases) {
      const expected = stored.filter(matches).map((s) => s.id);
      expect({ query, some: expected.length > 0 }).toEqual({ query, some: true });
      const { items } = await all(`/api/exchanges?limit=20&${query}`);
      expect({ query, ids: items.map((i) => i.id) }).toEqual({ query, ids: expected });
    }
  });

  it('filters by time: from inclusive, to exclusive', async () => {
    const middle = stored[Math.floor(stored.length / 2)]!;
    const from = new Date(middle.received_at.getTime()).toISOString();
    const to = new Date(stored[5]!.received_at.getTime()).toISOString();
    const expected = stored
      .filter((s) => s.received_at >= new Date(from) && s.received_at < new Date(to))
      .map((s) => s.id);
    expect(expected.length).toBeGreaterThan(5);
    const { items } = await all(`/api/exchanges?from=${from}&to=${to}&limit=50`);
    expect(items.map((i) => i.id)).toEqual(expected);
  });

  it('finds a patient by NHS number, hashed on the server, never stored or echoed in clear', async () => {
    const { items } = await all(
      `/api/exchanges?nhsNumber=${NHS_NUMBER.replace(/(\d{3})(\d{3})(\d{4})/, '$1 $2 $3')}`,
    );
    expect(items.map((i) => i.requestId)).toEqual(['req-inspect-0001']);
    expect(JSON.stringify(items)).not.toContain(NHS_NUMBER);
    const withHash = stored.find((s) => s.request_id === 'req-inspect-0001')!;
    expect(withHash.patient_hash).toBeTruthy();
    // Nowhere in the stored exchange: not its path, query, headers or bodies.
    const row = await collector.store.db
      .selectFrom('exchanges')
      .selectAll()
      .where('id', '=', withHash.id)
      .executeTakeFirstOrThrow();
    const detail = await get(`/api/exchanges/${withHash.id}`);
    expect(detail.body.request.path).toContain('identifier=');
    expect(JSON.stringify(detail.body)).not.toContain(NHS_NUMBER);
    expect(`${row.path} ${row.query} ${JSON.stringify(row.request_headers)}`).not.toContain(NHS_NUMBER);
  });

  it('says what each exchange led to: its events, booking outcome and episodes', async () => {
    const [id, outcome] = [...outcomes.entries()].find(([, o]) => o === 'slot_unavailable')!;
    const { items } = await all(`/api/exchanges?outcome=slot_unavailable&limit=100`);
    const item = items.find((i) => i.id === id);
    expect(item.outcome).toBe(outcome);
    expect(item.events).toContain('booking.attempted');
    expect(item.interaction).toBe('book');
    expect(item.episodes.length).toBeGreaterThan(0);
  });

  it('finds free text in the redacted bodies, going on from where a cut-short search stopped', async () => {
    const bodies = await sql<{ id: string; request: string | null; response: string | null }>`
      select id, request_body as request, response_body as response from exchanges`.execute(
      collector.store.db,
    );
    const holding = new Set(
      bodies.rows
        .filter((r) =>
          [r.request, r.response].some(
            (b) =>
              b !== null &&
              brotliDecompressSync(Buffer.from(b as any))
                .toString('utf8')
                .toLowerCase()
                .includes('operationoutcome'),
          ),
        )
        .map((r) => r.id),
    );
    expect(holding.size).toBeGreaterThan(5);
    const { items, pages } = await all('/api/exchanges?q=OperationOutcome&limit=5');
    expect(items.map((i) => i.id)).toEqual(stored.filter((s) => holding.has(s.id)).map((s) => s.id));
    expect(pages).toBeGreaterThan(1);
    // Any case; a page holding its limit is complete (however many pages the search took to fill it).
    let single = await get('/api/exchanges?q=operationoutcome&limit=1');
    while (single.body.items.length === 0 && single.body.next) {
      expect(single.body.search.complete).toBe(false);
      single = await get(single.body.next);
    }
    expect(single.body.items.map((i: any) => i.id)).toEqual([items[0].id]);
    expect(single.body.search).toMatchObject({ complete: true });
    expect(single.body.search.scanned).toBeGreaterThan(0);
    // Text found nowhere: page after page (each within its budget) until every exchange was read.
    let next: string | null = '/api/exchanges?q=no-such-text-anywhere-0xq';
    let scanned = 0;
    while (next) {
      const page = await get(next);
      expect(page.body.items).toEqual([]);
      scanned += page.body.search.scanned;
      next = page.body.next;
      if (next) expect(page.body.search.complete).toBe(false);
    }
    expect(scanned).toBe(stored.length);
  });

  it('refuses what it cannot answer, saying which parameter', async () => {
    for (const [query, expression] of [
      ['status=abc', 'status'],
      ['status=6xx', 'status'],
      ['dialect=fhir5', 'dialect'],
      ['outcome=lost', 'outcome'],
      ['nhsNumber=9434765918', 'nhsNumber'],
      ['episode=not-a-uuid', 'episode'],
      ['cursor=bm9wZQ', 'cursor'],
      [
        `cursor=${Buffer.from(`2026-02-30T00:00:00.000000Z|${'0'.repeat(8)}-0000-7000-8000-${'0'.repeat(12)}`).toString('base64url')}`,
        'cursor',
      ],
      ['limit=0', 'limit'],
      ['limit=201', 'limit'],
      ['q=ab', 'q'],
      ['from=2026-11-22&to=2026-11-21', 'from'],
      ['from=2026-11-22T12:00:00Z&to=2026-11-22', 'from'],
      ['from=yesterday', 'from'],
      ['providerId=x', 'providerId'],
      ['provider=a&provider=b', 'provider'],
    ]) {
      const res = await get(`/api/exchanges?${query}`);
      expect({ query, status: res.status }).toEqual({ query, status: 400 });
      expect(res.body.resourceType).toBe('OperationOutcome');
      expect({ query, expression: res.body.issue[0].expression }).toEqual({
        query,
        expression: [expression],
      });
    }
  });

  it('needs role inspect', async () => {
    expect((await get('/api/exchanges', TEST_TOKENS.report)).status).toBe(403);
    expect((await get('/api/exchanges', 'not-a-token-at-all-0123456789')).status).toBe(401);
    expect((await get(`/api/exchanges/${stored[0]!.id}`, TEST_TOKENS.ingest)).status).toBe(403);
    expect((await get('/api/exchanges', TEST_TOKENS.admin)).status).toBe(200);
  });
});

/** A copy of a stored exchange with a new id and the changes given (removed again by the caller). */
async function copyOf(id: string, changes: Record<string, unknown>): Promise<string> {
  const row = await collector.store.db
    .selectFrom('exchanges')
    .selectAll()
    .where('id', '=', id)
    .executeTakeFirstOrThrow();
  const copy = { ...row, id: randomUUID(), ...changes };
  await collector.store.db.insertInto('exchanges').values(copy).execute();
  return copy.id;
}

describe('exchanges that share a time to the microsecond', () => {
  it('are each listed once across page boundaries', async () => {
    const original = stored[Math.floor(stored.length / 3)]!;
    const { rows } = await sql<{
      at: string;
    }>`select to_char(received_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') as at
      from exchanges where id = ${original.id}::uuid`.execute(collector.store.db);
    const at = rows[0]!.at;
    const copies = [];
    for (let i = 0; i < 3; i += 1) copies.push(await copyOf(original.id, {}));
    try {
      const to = new Date(Date.parse(at) + 1).toISOString();
      const { items, pages } = await all(`/api/exchanges?from=${at}&to=${to}&limit=1`);
      expect(pages).toBeGreaterThanOrEqual(4);
      expect(items.map((i) => i.id)).toEqual([original.id, ...copies].sort().reverse());
    } finally {
      await collector.store.db.deleteFrom('exchanges').where('id', 'in', copies).execute();
    }
  });
});

describe('an exchange that got no response', () => {
  it('is a HAR entry of status 0 that says why', async () => {
    const id = await copyOf(stored[0]!.id, {
      response_status: null,
      response_headers: JSON.stringify({}),
      response_body: null,
      response_body_encoding: null,
      response_size: 0,
      first_byte_at: null,
      transport_outcome: 'timeout',
    });
    try {
      const res = await get(`/api/exchanges.har?id=${id}`);
      await expect(harValidator.har(res.body)).resolves.toBeTruthy();
      const [entry] = res.body.log.entries;
      expect(entry.response).toMatchObject({
        status: 0,
        statusText: '',
        bodySize: -1,
        comment: 'no response: timeout',
      });
      expect(entry._transport).toBe('timeout');
      const listed = await get(`/api/exchanges?transport=timeout`);
      expect(listed.body.items.map((i: any) => i.id)).toEqual([id]);
    } finally {
      await collector.store.db.deleteFrom('exchanges').where('id', '=', id).execute();
    }
  });
});

describe('an outcome whose exchanges retention removed', () => {
  it('lists only the exchanges still stored, though their events remain', async () => {
    const booked = stored.filter((s) => outcomes.get(s.id) === 'booked');
    const [gone, ...kept] = [booked[booked.length - 1]!, ...booked.slice(0, -1)];
    const { items: before } = await all('/api/exchanges?outcome=booked&limit=3');
    expect(before.map((i) => i.id)).toEqual(booked.map((s) => s.id));
    const row = await collector.store.db
      .selectFrom('exchanges')
      .selectAll()
      .where('id', '=', gone.id)
      .executeTakeFirstOrThrow();
    await collector.store.db.deleteFrom('exchanges').where('id', '=', gone.id).execute();
    try {
      const { items } = await all('/api/exchanges?outcome=booked&limit=3');
      expect(items.map((i) => i.id)).toEqual(kept.map((s) => s.id));
      // Its episode keeps its place in the timeline, with its events, marked removed.
      const [episode] = [...episodesOf.entries()].find(([, ids]) => ids.has(gone.id))!;
      const timeline = await get(`/api/episodes/${episode}`);
      const item = timeline.body.timeline.find((t: any) => t.id === gone.id);
      expect(item.exchange).toBeNull();
      expect(item.removed).toMatch(/retention/);
      expect(item.events.map((e: any) => e.type)).toContain('booking.attempted');
    } finally {
      await collector.store.db.insertInto('exchanges').values(row).execute();
    }
  });
});

describe('GET /api/exchanges/{id}', () => {
  it('shows a failed booking: redacted request and response, timings, sizes, events, episode', async () => {
    const [id] = [...outcomes.entries()].find(([, o]) => o === 'slot_unavailable')!;
    const res = await get(`/api/exchanges/${id}`);
    expect(res.status).toBe(200);
    const x = res.body;
    expect(x.id).toBe(id);
    expect(x.request.method).toBe('POST');
    expect(x.request.body.text).toContain('"resourceType"');
    expect(x.request.body.size).toBeGreaterThan(0);
    expect(x.request.body.truncated).toBe(false);
    expect(x.response.status).toBeGreaterThanOrEqual(400);
    expect(JSON.parse(x.response.body.text).resourceType).toBe('OperationOutcome');
    expect(x.request.headers.authorization ?? '[not stored]').toBe('[not stored]');
    expect(x.timings.totalMs).toBeGreaterThan(0);
    expect(new Date(x.timings.endedAt).getTime()).toBeGreaterThanOrEqual(
      new Date(x.timings.receivedAt).getTime(),
    );
    const attempt = x.events.find((e: any) => e.type === 'booking.attempted');
    expect(attempt.attributes.outcome).toBe('slot_unavailable');
    expect(attempt.source).toEqual({ kind: 'exchange', id });
    expect(x.episodes).toHaveLength(1);
    expect(x.episodes[0].href).toBe(`/api/episodes/${x.episodes[0].id}`);
    // Names and NHS numbers of the simulated patients never reach the store.
    expect(x.request.body.text).not.toMatch(/"family"\s*:/);
    expect(x.request.body.text).not.toMatch(/nhs-number","value":"\d{10}"/);
  });

  it('answers 404 for an id not stored and 400 for one that is not an id', async () => {
    const missing = await get('/api/exchanges/0190f000-0000-7000-8000-000000000000');
    expect(missing.status).toBe(404);
    expect(missing.body.resourceType).toBe('OperationOutcome');
    expect((await get('/api/exchanges/12345')).status).toBe(400);
  });
});

describe('GET /api/episodes/{id}', () => {
  it('tells the patient contact in order: exchanges and ingested events, with their events and deadline', async () => {
    const [id, exchanges] = [...episodesOf.entries()].sort((a, b) => b[1].size - a[1].size)[0]!;
    const res = await get(`/api/episodes/${id}`);
    expect(res.status).toBe(200);
    const episode = res.body;
    expect(episode.id).toBe(id);
    const times = episode.timeline.map((t: any) => t.at);
    expect(times).toEqual([...times].sort());
    const wire = episode.timeline.filter((t: any) => t.kind === 'exchange');
    expect(wire.map((t: any) => t.id).sort()).toEqual([...exchanges].sort());
    for (const item of wire) {
      expect(item.exchange.href).toBe(`/api/exchanges/${item.id}`);
      expect(item.events.length).toBeGreaterThan(0);
      for (const e of item.events) expect(e.episode).toBe(id);
    }
    const stored = await collector.store.db
      .selectFrom('episodes')
      .selectAll()
      .where('id', '=', id)
      .executeTakeFirstOrThrow();
    expect(episode.deadline).toBe(stored.deadline ? new Date(stored.deadline).toISOString() : null);
    expect(episode.keys.length).toBeGreaterThan(0);
  });

  it('includes ingested events where the episode has them', async () => {
    const ingested = await collector.store.db
      .selectFrom('events')
      .select('episode_id')
      .where('source_kind', '=', 'ingest')
      .where('episode_id', 'is not', null)
      .executeTakeFirstOrThrow();
    const res = await get(`/api/episodes/${ingested.episode_id}`);
    const item = res.body.timeline.find((t: any) => t.kind === 'ingest');
    expect(item.ingest.type).toBeTruthy();
    expect(item.events[0].source.kind).toBe('ingest');
  });

  it('answers 404 for an episode it does not know', async () => {
    expect((await get('/api/episodes/0190f000-0000-7000-8000-000000000000')).status).toBe(404);
  });
});

describe('GET /api/exchanges.har', () => {
  it('exports the filtered exchanges as HAR 1.2 that the HAR schema accepts', async () => {
    const res = await fetch(`${collector.url}/api/exchanges.har?status=4xx`, {
      headers: { Authorization: `Bearer ${TEST_TOKENS.inspect}` },
    });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-disposition')).toMatch(/^attachment; filename="exchanges-.*\.har"$/);
    const har = (await res.json()) as any;
    await expect(harValidator.har(har)).resolves.toBeTruthy();
    const expected = stored
      .filter((s) => s.response_status !== null && s.response_status >= 400 && s.response_status < 500)
      .map((s) => s.id);
    expect(har.log.entries.map((e: any) => e._exchangeId)).toEqual(expected);
    expect(har.log.comment).toContain(`${expected.length} exchanges`);
    const listed = new Map((await all('/api/exchanges?status=4xx')).items.map((i) => [i.id, i.totalMs]));
    for (const entry of har.log.entries) {
      const t = entry.timings;
      const phases = [t.blocked, t.dns, t.connect, t.send, t.wait, t.receive].filter((v: number) => v >= 0);
      expect(entry.time).toBeCloseTo(
        phases.reduce((a: number, b: number) => a + b, 0),
        6,
      );
      // The entry's time is the collector's own measure of the exchange, to the microsecond.
      expect(entry.time).toBeCloseTo(listed.get(entry._exchangeId), 2);
      expect(entry.request.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/sandbox\//);
      expect(entry.response.status).toBeGreaterThanOrEqual(400);
      expect(entry.response.content.text).toContain('OperationOutcome');
    }
  });

  it('exports one exchange by id, a POST with its body', async () => {
    const [id] = [...outcomes.entries()].find(([, o]) => o === 'booked')!;
    const res = await get(`/api/exchanges.har?id=${id}`);
    await expect(harValidator.har(res.body)).resolves.toBeTruthy();
    expect(res.body.log.entries).toHaveLength(1);
    const entry = res.body.log.entries[0];
    expect(entry.request.method).toBe('POST');
    expect(entry.request.postData.mimeType).toMatch(/json/);
    expect(JSON.parse(entry.request.postData.text).resourceType).toBeTruthy();
    expect(entry.response.status).toBeGreaterThanOrEqual(200);
  });

  it('stops at its limit and says so', async () => {
    const res = await get('/api/exchanges.har?limit=3');
    await expect(harValidator.har(res.body)).resolves.toBeTruthy();
    expect(res.body.log.entries.map((e: any) => e._exchangeId)).toEqual(stored.slice(0, 3).map((s) => s.id));
    expect(res.body.log.comment).toContain('limit 3 reached');
  });
});

describe('the access audit', () => {
  it('records who read what, when and how much, with NHS numbers only as their hash', async () => {
    await get(`/api/exchanges?nhsNumber=${NHS_NUMBER}&limit=10`);
    await get(`/api/exchanges/${stored[0]!.id}`);
    await get('/api/exchanges.har?limit=2');
    await get('/api/exchanges', TEST_TOKENS.report);
    // A refused attempt is recorded once its answer is sent: give it a moment to land.
    let res = await get('/api/audit?limit=10', TEST_TOKENS.admin);
    for (let tries = 0; tries < 50 && res.body.items[0]?.status !== 403; tries += 1) {
      await new Promise((resolve) => setTimeout(resolve, 20));
      res = await get('/api/audit?limit=10', TEST_TOKENS.admin);
    }
    expect(res.status).toBe(200);
    const [refused, har, detail, search] = res.body.items;
    expect(refused).toMatchObject({
      token: 'report-client',
      path: '/api/exchanges',
      status: 403,
      resultCount: null,
    });
    expect(har).toMatchObject({
      token: 'inspect-client',
      path: '/api/exchanges.har',
      status: 200,
      resultCount: 2,
    });
    expect(har.resourceIds).toEqual(stored.slice(0, 2).map((s) => s.id));
    expect(detail).toMatchObject({
      path: `/api/exchanges/${stored[0]!.id}`,
      resourceIds: [stored[0]!.id],
      resultCount: 1,
    });
    expect(search.resultCount).toBe(1);
    expect(search.query.nhsNumber).toMatch(/^nhs-number-hash:/);
    // However the number is written, wherever: kept as its hash (a mistyped one too).
    await get('/api/exchanges?q=943%20476%205919&limit=1');
    await get('/api/episodes/943-476-5919');
    await get('/api/exchanges?nhsNumber=9434765918');
    let latest = await get('/api/audit?limit=3', TEST_TOKENS.admin);
    for (
      let tries = 0;
      tries < 50 && latest.body.items.filter((i: any) => i.status === 400).length < 2;
      tries += 1
    ) {
      await new Promise((resolve) => setTimeout(resolve, 20));
      latest = await get('/api/audit?limit=3', TEST_TOKENS.admin);
    }
    expect(latest.body.items.map((i: any) => i.status).sort()).toEqual([200, 400, 400]);
    const text = JSON.stringify((await get('/api/audit?limit=1000', TEST_TOKENS.admin)).body);
    for (const spelling of [NHS_NUMBER, '943 476 5919', '943-476-5919', '9434765918'])
      expect(text).not.toContain(spelling);
    expect(text).toContain('nhs-number-hash:');
    expect(new Date(search.at).getTime()).toBeLessThanOrEqual(new Date(detail.at).getTime());
  });

  it('records a report drill-down, whose events carry no patient hash', async () => {
    const day = stored[0]!.received_at.toISOString().slice(0, 10);
    const next = new Date(Date.parse(day) + 2 * 86_400_000).toISOString().slice(0, 10);
    const drill = await get(
      `/api/events?report=rep-cons-01&measure=bookings&from=${day}&to=${next}&limit=3`,
      TEST_TOKENS.report,
    );
    expect(drill.status).toBe(200);
    expect(drill.body.events.length).toBeGreaterThan(0);
    for (const e of drill.body.events) expect(e).not.toHaveProperty('patient_hash');
    const audit = await get('/api/audit?limit=1', TEST_TOKENS.admin);
    expect(audit.body.items[0]).toMatchObject({
      token: 'report-client',
      path: '/api/events',
      resultCount: drill.body.events.length,
      resourceIds: drill.body.events.map((e: any) => e.id),
    });
  });

  it('is read by admin only, a page at a time, filtered by token and resource', async () => {
    expect((await get('/api/audit', TEST_TOKENS.inspect)).status).toBe(403);
    const first = await get('/api/audit?limit=2&token=inspect-client', TEST_TOKENS.admin);
    expect(first.body.items).toHaveLength(2);
    expect(first.body.items.every((i: any) => i.token === 'inspect-client')).toBe(true);
    const second = await get(first.body.next, TEST_TOKENS.admin);
    expect(second.body.items[0].id).not.toBe(first.body.items[1].id);
    expect(new Date(second.body.items[0].at).getTime()).toBeLessThanOrEqual(
      new Date(first.body.items[1].at).getTime(),
    );
    const byResource = await get(`/api/audit?resource=${stored[0]!.id}`, TEST_TOKENS.admin);
    expect(byResource.body.items.length).toBeGreaterThan(0);
    for (const item of byResource.body.items) expect(item.resourceIds).toContain(stored[0]!.id);
  });

  it('refuses a read it cannot record', async () => {
    const db = collector.store.db;
    await sql`alter table access_audit add constraint access_audit_closed check (false) not valid`.execute(
      db,
    );
    try {
      const res = await get(`/api/exchanges/${stored[0]!.id}`);
      expect(res.status).toBe(500);
      expect(JSON.stringify(res.body)).not.toContain(stored[0]!.path);
      const list = await get('/api/exchanges?limit=1');
      expect(list.status).toBe(500);
      expect(list.body.items).toBeUndefined();
    } finally {
      await sql`alter table access_audit drop constraint access_audit_closed`.execute(db);
    }
  });
});

describe('a free-text search cut short by its budget', () => {
  it('says so and goes on from where it stopped, finding each match once', async () => {
    const { listExchanges } = await import('../../src/inspect/exchange-query.js');
    const db = collector.store.db;
    const expected = (
      await listExchanges(
        db,
        { text: 'OperationOutcome' },
        { timezone: 'Europe/London', limit: 1000, scanBudget: 100_000, scanMs: 600_000 },
      )
    ).items.map((i) => i.id);
    expect(expected.length).toBeGreaterThan(5);
    const found: string[] = [];
    let after: { at: string; id: string } | undefined;
    let cutShort = 0;
    for (let round = 0; round < 1000; round += 1) {
      const page = await listExchanges(
        db,
        { text: 'OperationOutcome' },
        { timezone: 'Europe/London', limit: 4, scanBudget: 9, ...(after ? { after } : {}) },
      );
      found.push(...page.items.map((i) => i.id));
      if (!page.search!.complete) cutShort += 1;
      expect(page.search!.scanned).toBeLessThanOrEqual(9);
      if (!page.next) break;
      after = page.next;
    }
    expect(cutShort).toBeGreaterThan(0);
    // Out of time, a page still reads (and searches) one chunk of exchanges: paging always gets somewhere.
    const hurried = await listExchanges(
      db,
      { text: 'no-such-text-anywhere-0xq' },
      { timezone: 'Europe/London', limit: 4, scanMs: 0 },
    );
    const chunk = Math.min(100, stored.length);
    expect(hurried.search).toEqual({ scanned: chunk, complete: false, searchedBackTo: hurried.next!.at });
    expect(hurried.next!.id).toBe(stored[chunk - 1]!.id);
    expect(found).toEqual(expected);
  });
});
