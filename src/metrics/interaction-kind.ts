/** The bounded set of interaction kinds metrics are labelled with (never raw paths: cardinality). */
export type InteractionKind =
  | 'slot-search'
  | 'book'
  | 'update'
  | 'read'
  | 'list'
  | 'process-message'
  | 'capability'
  | 'patient-search'
  | 'other';

/**
 * A cheap guess at the interaction from method and path, for metric labels only. The real
 * classification (body, status, dialect) is the derivation's job.
 */
export function interactionKind(method: string, path: string): InteractionKind {
  const p = path.split('?', 1)[0]!;
  if (/\/metadata$/.test(p)) return 'capability';
  if (/\$find-slots$/.test(p) || /\/Slot$/.test(p)) return 'slot-search';
  if (/\$process-message$/.test(p)) return 'process-message';
  if (/\/Appointment$/.test(p)) return method === 'POST' ? 'book' : 'list';
  if (/\/Appointment\/[^/]+$/.test(p)) return method === 'PUT' ? 'update' : 'read';
  if (/\/Patient\/[^/]+\/Appointment$/.test(p)) return 'list';
  if (/\/Patient$/.test(p)) return 'patient-search';
  return 'other';
}
