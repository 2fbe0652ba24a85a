import type { ProviderConfig } from '../../src/config/config.types.js';
import { newId } from '../../src/ids.js';
import { BodyTap, type ObservedExchange } from '../../src/proxy/exchange.js';

export const TEST_PROVIDER: ProviderConfig = {
  id: 'ed',
  name: 'ED',
  baseUrl: 'https://ed.example.nhs.uk/fhir',
  dialect: 'stu3',
  dosServiceIds: [],
  timeouts: { connectMs: 1000, responseMs: 1000 },
  captureFullBodies: false,
};

function tapped(body: Buffer | string | undefined, cap = 1 << 20): BodyTap {
  const tap = new BodyTap(cap);
  if (body !== undefined) tap.add(Buffer.isBuffer(body) ? body : Buffer.from(body));
  return tap;
}

/** An exchange as the proxy's tap would hand it over. */
export function observedExchange(
  overrides: {
    provider?: Partial<ProviderConfig>;
    method?: string;
    path?: string;
    query?: string | null;
    requestHeaders?: Record<string, string>;
    requestBody?: Buffer | string;
    responseHeaders?: Record<string, string>;
    responseBody?: Buffer | string;
    status?: number;
    cap?: number;
    receivedAt?: Date;
  } = {},
): ObservedExchange {
  return {
    id: newId(),
    receivedAt: overrides.receivedAt ?? new Date('2026-11-22T10:00:00Z'),
    route: {
      kind: 'fhir',
      provider: { ...TEST_PROVIDER, ...overrides.provider },
      target: 'https://ed.example.nhs.uk/fhir/Appointment',
    },
    method: overrides.method ?? 'POST',
    path: overrides.path ?? '/fhir/Appointment',
    query: overrides.query ?? null,
    requestHeaders: { 'content-type': 'application/fhir+json', ...overrides.requestHeaders },
    requestBody: tapped(overrides.requestBody, overrides.cap),
    status: overrides.status ?? 201,
    responseHeaders: { 'content-type': 'application/fhir+json', ...overrides.responseHeaders },
    responseBody: tapped(overrides.responseBody, overrides.cap),
    outcome: 'ok',
    upstreamStartMs: 0.2,
    firstByteMs: 3.5,
    endMs: 4.25,
  };
}
