import type { ProviderConfig } from '../config/config.types.js';

/**
 * The configured providers, indexed the three ways the proxy routes: by id (`/fhir/{id}`), by base URL
 * (`/ssp/{url}`, longest base first so a more specific base wins) and by DoS service id (BaRS).
 */
export class ProviderRegistry {
  readonly #byId = new Map<string, ProviderConfig>();
  readonly #byService = new Map<string, ProviderConfig>();
  readonly #byBase: { base: string; provider: ProviderConfig }[];

  constructor(providers: readonly ProviderConfig[]) {
    for (const provider of providers) {
      this.#byId.set(provider.id, provider);
      for (const service of provider.dosServiceIds) this.#byService.set(service, provider);
    }
    this.#byBase = providers
      .map((provider) => ({ base: provider.baseUrl, provider }))
      .sort((a, b) => b.base.length - a.base.length);
  }

  byId(id: string): ProviderConfig | undefined {
    return this.#byId.get(id);
  }

  byService(dosServiceId: string): ProviderConfig | undefined {
    return this.#byService.get(dosServiceId);
  }

  /**
   * The provider whose base URL the target starts with, at a path boundary (`.../fhir` must not match
   * `.../fhirish`).
   */
  byTarget(target: string): ProviderConfig | undefined {
    for (const { base, provider } of this.#byBase) {
      // Scheme and host compare case-insensitively, the path exactly.
      const authorityEnd = base.indexOf('/', base.indexOf('//') + 2);
      const originLength = authorityEnd < 0 ? base.length : authorityEnd;
      if (target.slice(0, originLength).toLowerCase() !== base.slice(0, originLength).toLowerCase()) continue;
      if (!target.startsWith(base.slice(originLength), originLength)) continue;
      const next = target.charAt(base.length);
      if (next === '' || next === '/' || next === '?') return provider;
    }
    return undefined;
  }
}
