import type { Json } from '../../fhir/json.js';

/** An answer from the collector: its status and body (undefined when empty: a 503 may have none). */
export interface DemoAnswer {
  status: number;
  headers: Headers;
  body: Json | undefined;
}

/**
 * The simulated call handlers' door to a running collector: FHIR requests on the proxy paths, and
 * off-wire events to the ingest API with the token.
 */
export class DemoHttp {
  constructor(
    private readonly collector: string,
    private readonly token: string,
  ) {}

  /** A FHIR request through the collector's proxy (`/fhir/{provider}/…`, `/bars/…`). */
  async fhir(
    path: string,
    init: { method?: string; body?: unknown; headers?: Record<string, string> } = {},
  ): Promise<DemoAnswer> {
    const res = await fetch(`${this.collector}${path}`, {
      method: init.method ?? (init.body === undefined ? 'GET' : 'POST'),
      headers: {
        Accept: 'application/fhir+json',
        ...(init.body === undefined ? {} : { 'Content-Type': 'application/fhir+json' }),
        ...init.headers,
      },
      ...(init.body === undefined ? {} : { body: JSON.stringify(init.body) }),
    });
    const text = await res.text();
    return { status: res.status, headers: res.headers, body: text ? (JSON.parse(text) as Json) : undefined };
  }

  /**
   * Posts off-wire events (referral.made, service.selected) to the ingest API as one batch; throttled
   * (429), it waits as long as `Retry-After` says and posts again; refused is an error.
   */
  async ingest(events: Json[]): Promise<void> {
    for (;;) {
      const res = await fetch(`${this.collector}/api/events`, {
        method: 'POST',
        headers: { Authorization: `Bearer ${this.token}`, 'Content-Type': 'application/json' },
        body: JSON.stringify({ events }),
      });
      await res.body?.cancel();
      if (res.status === 201) return;
      if (res.status !== 429)
        throw new Error(
          `the ingest API refused ${events.map((e) => String(e.type)).join(', ')} (${res.status})`,
        );
      const wait = Number(res.headers.get('retry-after'));
      await new Promise((resolve) =>
        setTimeout(resolve, (Number.isFinite(wait) && wait > 0 ? wait : 1) * 1000),
      );
    }
  }
}
