import type { Config } from '../config/config.types.js';
import { loadPopulation } from './population.js';
import type { ReportContext } from './report-query.js';

/**
 * What reports read from configuration: each provider's region (`providers[].region`), the population
 * table (`tables.population`, else the bundled one), and per region the DoS services its providers
 * serve (connected units).
 */
export function reportContext(config: Pick<Config, 'providers' | 'tables'>): ReportContext {
  const regions: Record<string, string> = {};
  const services: Record<string, Set<string>> = {};
  for (const provider of config.providers) {
    if (!provider.region) continue;
    regions[provider.id] = provider.region;
    const set = (services[provider.region] ??= new Set());
    for (const id of provider.dosServiceIds) set.add(id);
  }
  return {
    regions,
    population: loadPopulation(config.tables.population),
    connected: Object.fromEntries(Object.entries(services).map(([region, set]) => [region, set.size])),
  };
}
