import { isCallKey } from './correlation-keys.js';
import type { EpisodeEvent } from './episodes.js';
import { UnionFind } from './union-find.js';

/**
 * Encounters (reports.md): events sharing a call key are one call; an event without a call key joins
 * the call of the nearest event for the same patient within the window. Each encounter is named by the
 * id of its first event. `events` must be in time order.
 */
export function encounters(events: EpisodeEvent[], windowMs: number): string[] {
  const groups = new UnionFind();
  const node = (i: number) => String(i);
  const byKey = new Map<string, number>();
  events.forEach((event, i) => {
    for (const key of event.correlation_keys) {
      if (!isCallKey(key)) continue;
      const first = byKey.get(key);
      if (first === undefined) byKey.set(key, i);
      else groups.union(node(first), node(i));
    }
  });
  // The same patient's events, in time order: the nearest to any of them is next to it in this list.
  const byPatient = new Map<string, number[]>();
  events.forEach((event, i) => {
    if (event.patient_hash)
      (
        byPatient.get(event.patient_hash) ?? byPatient.set(event.patient_hash, []).get(event.patient_hash)!
      ).push(i);
  });
  for (const list of byPatient.values())
    list.forEach((i, at) => {
      if (events[i]!.correlation_keys.some(isCallKey)) return;
      const t = events[i]!.occurred_at.getTime();
      const gap = (j: number | undefined) =>
        j === undefined ? Infinity : Math.abs(events[j]!.occurred_at.getTime() - t);
      const before = list[at - 1];
      const after = list[at + 1];
      // The nearer neighbour; on a tie, the earlier one.
      const nearest = gap(before) <= gap(after) ? before : after;
      if (nearest !== undefined && gap(nearest) <= windowMs) groups.union(node(i), node(nearest));
    });
  // Each call is named by its first event (events are in time order).
  const first = new Map<string, number>();
  events.forEach((_, i) => {
    const root = groups.find(node(i));
    if (!first.has(root)) first.set(root, i);
  });
  return events.map((_, i) => events[first.get(groups.find(node(i)))!]!.id);
}
