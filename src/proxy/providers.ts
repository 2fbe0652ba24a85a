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
      .map((provider) => ({ base: provider.baseUrl.toLowerCase(), provider }))
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
   * `.../fhirish`). Scheme and host compare case-insensitively.
   */
  byTarget(target: string): ProviderConfig | undefined {
    const lower = target.toLowerCase();
    for (const { base, provider } of this.#byBase) {
      if (!lower.startsWith(base)) continue;
      const next = target.charAt(base.length);
      if (next === '' || next === '/' || next === '?') return provider;
    }
    return undefined;
  }
}
