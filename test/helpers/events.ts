import { RULE_VERSION } from '../../src/derive/derive.js';
import { newId } from '../../src/ids.js';
import type { NewEventRow } from '../../src/store/tables/event.table.js';

/**
 * A metric event as derivation stores it: the first event of an exchange of its own, a 111 consumer, a
 * Dx02 disposition, a call that succeeded; `over` sets anything else (provider, episode, …).
 */
export function metricEvent(
  type: string,
  at: string,
  attributes: Record<string, unknown>,
  over: Partial<NewEventRow> = {},
): NewEventRow {
  return {
    id: newId(),
    occurred_at: new Date(at),
    type,
    source_kind: 'exchange',
    source_id: newId(),
    ordinal: 0,
    rule_version: RULE_VERSION,
    consumer_org: 'NHS111',
    disposition: 'Dx02',
    attributes: { succeeded: true, ...attributes },
    data_quality: [],
    correlation_keys: [],
    ...over,
  };
}
