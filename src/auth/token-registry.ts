import { createHash, timingSafeEqual } from 'node:crypto';
import type { Role, TokenConfig } from '../config/config.types.js';

/** Who a bearer token belongs to. */
export interface Principal {
  name: string;
  roles: readonly Role[];
}

interface Entry {
  digest: Buffer;
  principal: Principal;
}

function digest(token: string): Buffer {
  return createHash('sha256').update(token, 'utf8').digest();
}

/**
 * The configured API tokens, held only as SHA-256 digests. A lookup compares the presented token's digest
 * with every entry in constant time and never stops early, so timing says nothing about which token (or
 * how much of one) matched.
 */
export class TokenRegistry {
  readonly #entries: Entry[];

  constructor(tokens: readonly Pick<TokenConfig, 'name' | 'token' | 'roles'>[]) {
    this.#entries = tokens.map((t) => ({
      digest: digest(t.token),
      principal: Object.freeze({ name: t.name, roles: Object.freeze([...t.roles]) }),
    }));
  }

  get size(): number {
    return this.#entries.length;
  }

  /** The principal for a presented token, or undefined. */
  verify(presented: string): Principal | undefined {
    const candidate = digest(presented);
    let found: Principal | undefined;
    for (const entry of this.#entries) {
      if (timingSafeEqual(candidate, entry.digest)) found = entry.principal;
    }
    return found;
  }
}

/** Whether a principal may act in a role; `admin` may do everything. */
export function hasRole(principal: Principal, role: Role): boolean {
  return principal.roles.includes(role) || principal.roles.includes('admin');
}
