/** Disjoint sets over string names (union-find with path halving): what stitching and encounters group by. */
export class UnionFind {
  readonly #parent = new Map<string, string>();

  /** The name of the set `node` is in (itself, until joined). */
  find(node: string): string {
    let at = node;
    for (let up = this.#parent.get(at); up !== undefined && up !== at; up = this.#parent.get(at)) {
      const grand = this.#parent.get(up) ?? up;
      this.#parent.set(at, grand);
      at = grand;
    }
    return at;
  }

  union(a: string, b: string): void {
    const ra = this.find(a);
    const rb = this.find(b);
    if (ra !== rb) this.#parent.set(ra, rb);
  }
}
