import type { ProviderConfig } from '../config/config.types.js';
import { OperationOutcomeError } from '../fhir/operation-outcome.js';
import type { ProviderRegistry } from './providers.js';

/** The identifier system of a DoS service id, as BaRS names it in NHSD-Target-Identifier. */
const DOS_SERVICE_SYSTEM = 'https://fhir.nhs.uk/Id/dos-service-id';

/** Where one consumer request goes. */
export interface Route {
  kind: 'fhir' | 'ssp' | 'bars';
  provider: ProviderConfig;
  /** The absolute upstream URL, its path and query exactly as the consumer sent them. */
  target: string;
}

const BARS_PROXY_CODES = 'https://fhir.nhs.uk/Codesystem/http-error-codes';

/** The base URL and the raw remainder joined without re-encoding anything. */
function join(base: string, rest: string): string {
  if (rest === '' || rest.startsWith('?')) return `${base}${rest}`;
  return `${base}${rest.startsWith('/') ? '' : '/'}${rest}`;
}

/**
 * Routes a request by its raw URL (never the decoded one: percent-encoding must reach the provider as
 * sent). `/fhir/{providerId}/...`, `/ssp/{absolute provider URL}`, `/bars/...` with
 * `NHSD-Target-Identifier`. Anything that cannot be routed is an OperationOutcomeError.
 */
export function routeRequest(
  rawUrl: string,
  targetIdentifier: string | undefined,
  providers: ProviderRegistry,
): Route {
  if (rawUrl.startsWith('/fhir/')) {
    const rest = rawUrl.slice('/fhir/'.length);
    const end = rest.search(/[/?]/);
    const id = safeDecode(end < 0 ? rest : rest.slice(0, end));
    const provider = providers.byId(id);
    if (!provider) {
      throw new OperationOutcomeError('PROVIDER_UNKNOWN', [
        { diagnostics: `No provider "${id}" is configured` },
      ]);
    }
    const remainder = end < 0 ? '' : rest.slice(end);
    refuseDotSegments(remainder);
    return { kind: 'fhir', provider, target: join(provider.baseUrl, remainder) };
  }
  if (rawUrl.startsWith('/ssp/')) {
    const target = rawUrl.slice('/ssp/'.length);
    const provider = /^https?:\/\//i.test(target) ? providers.byTarget(target) : undefined;
    if (!provider) {
      throw new OperationOutcomeError('SSP_TARGET_FORBIDDEN', [
        { diagnostics: 'Only the base URLs of configured providers can be reached through /ssp/' },
      ]);
    }
    refuseDotSegments(target.slice(target.indexOf('//') + 2));
    return { kind: 'ssp', provider, target };
  }
  if (rawUrl === '/bars' || rawUrl.startsWith('/bars/') || rawUrl.startsWith('/bars?')) {
    const service = barsTargetService(targetIdentifier);
    const provider = providers.byService(service);
    if (!provider) {
      throw new OperationOutcomeError('BARS_TARGET_UNKNOWN', [
        {
          diagnostics: `No configured provider serves DoS service ${service}`,
          alsoCoding: { system: BARS_PROXY_CODES, code: 'PROXY_NOT_FOUND' },
        },
      ]);
    }
    refuseDotSegments(rawUrl.slice('/bars'.length));
    return { kind: 'bars', provider, target: join(provider.baseUrl, rawUrl.slice('/bars'.length)) };
  }
  throw new OperationOutcomeError('ROUTE_NOT_FOUND', [{ diagnostics: 'Not a proxy path' }]);
}

function safeDecode(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    throw new OperationOutcomeError('BAD_REQUEST', [
      { diagnostics: 'The path is not valid percent-encoding' },
    ]);
  }
}

/**
 * `.` and `..` segments (however encoded) are refused: an upstream that normalises paths would otherwise
 * serve from outside the provider's base URL.
 */
function refuseDotSegments(pathAndQuery: string): void {
  const path = pathAndQuery.split('?', 1)[0]!;
  if (/(^|\/)(\.|%2e){1,2}(\/|$)/i.test(path)) {
    throw new OperationOutcomeError('BAD_REQUEST', [
      { diagnostics: 'Paths with . or .. segments are not forwarded', expression: 'path' },
    ]);
  }
}

/** The DoS service id in `NHSD-Target-Identifier`: base64 of `{"system":"...dos-service-id","value":"<id>"}`. */
export function barsTargetService(header: string | undefined): string {
  const malformed = (why: string): OperationOutcomeError =>
    new OperationOutcomeError('BARS_TARGET_MALFORMED', [
      {
        diagnostics: `NHSD-Target-Identifier ${why}`,
        expression: 'NHSD-Target-Identifier',
        alsoCoding: { system: BARS_PROXY_CODES, code: 'PROXY_BAD_REQUEST' },
      },
    ]);
  if (!header) throw malformed('is missing');
  let decoded: unknown;
  try {
    const text = Buffer.from(header.trim(), 'base64').toString('utf8');
    decoded = JSON.parse(text);
  } catch {
    throw malformed('is not base64-encoded JSON');
  }
  const { system, value } = (decoded ?? {}) as { system?: unknown; value?: unknown };
  // An identifier of another system (an ODS code, say) is no DoS id, even when it is all digits.
  if (system !== undefined && system !== DOS_SERVICE_SYSTEM)
    throw malformed(`names a system other than ${DOS_SERVICE_SYSTEM}`);
  if (typeof value !== 'string' || !/^\d{1,20}$/.test(value)) throw malformed('has no DoS service id value');
  return value;
}
