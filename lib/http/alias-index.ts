/**
 * Which alias (route) a request goes to, answered as moleculer-web answers it (the first alias, in
 * its order, with the request's method whose path matches) without trying every alias's regular
 * expression in turn: the shop has some 65 aliases, most of them before GET /products/:id.
 *
 * An alias without parameters (most of them) matches a URL exactly when the URL is its path, in any
 * ASCII letter case, with or without one trailing slash (path-to-regexp 8: /^(?:path)(?:\/$)?$/i):
 * those are looked up in a map. Only aliases with parameters are tried in turn, and only those that
 * come before the first static match, so a parameter that fails to decode still fails as it did;
 * one whose literal beginning (the path up to its first parameter) the URL does not start with,
 * in the same case-blind way, cannot match and is passed over without running its expression.
 * URLs with anything but printable ASCII go through moleculer-web's own scan, as does anything this
 * index does not recognise.
 */

/** What the index needs of moleculer-web's Alias. */
export interface AliasLike {
  method: string;
  fullPath: string;
  keys?: unknown[];
  match(url: string): Record<string, unknown> | false;
}

export type AliasMatch<A> = { alias: A; params: Record<string, unknown> } | false;

interface Bucket<A> {
  /** Lower-cased path → position of the first parameterless alias with that path. */
  statics: Map<string, number>;
  /** Aliases with parameters (or anything not plainly static): position, alias, lower-cased literal beginning. */
  others: [number, A, string][];
  /** Every alias of the bucket by position. */
  all: Map<number, A>;
}

/** A path that path-to-regexp turns into nothing but itself: no parameters, wildcards, groups or escapes. */
const PLAIN_PATH = /^[A-Za-z0-9/._~-]*$/;
/** The plain beginning of any path, up to its first parameter, wildcard, group or escape. */
const PLAIN_BEGINNING = /^[A-Za-z0-9/._~-]*/;
/** URLs the static lookup can judge (path-to-regexp's case folding is plain ASCII then). */
const PRINTABLE_ASCII = /^[\x21-\x7e]*$/;

/** The first alias, in order, whose method and path match: moleculer-web's resolveAlias. */
export function resolveLinear<A extends AliasLike>(aliases: readonly A[], url: string, method: string): AliasMatch<A> {
  for (const alias of aliases) {
    if (alias.method === "*" || alias.method === method) {
      const params = alias.match(url);
      if (params) return { alias, params };
    }
  }
  return false;
}

export class AliasIndex<A extends AliasLike> {
  private readonly byMethod = new Map<string, Bucket<A>>();
  private readonly anyMethod: Bucket<A>;
  /** How many aliases the index was built from (moleculer-web also pushes onto its array in place). */
  readonly size: number;

  constructor(readonly aliases: readonly A[]) {
    this.size = aliases.length;
    const methods = new Set(aliases.map((a) => a.method).filter((m) => m !== "*"));
    for (const method of methods) this.byMethod.set(method, this.bucket((a) => a.method === method || a.method === "*"));
    this.anyMethod = this.bucket((a) => a.method === "*");
  }

  private bucket(accepts: (alias: A) => boolean): Bucket<A> {
    const bucket: Bucket<A> = { statics: new Map(), others: [], all: new Map() };
    this.aliases.forEach((alias, position) => {
      if (!accepts(alias)) return;
      bucket.all.set(position, alias);
      if (!alias.keys?.length && PLAIN_PATH.test(alias.fullPath)) {
        const key = alias.fullPath.toLowerCase();
        if (!bucket.statics.has(key)) bucket.statics.set(key, position);
      } else {
        bucket.others.push([position, alias, PLAIN_BEGINNING.exec(alias.fullPath)![0].toLowerCase()]);
      }
    });
    return bucket;
  }

  /**
   * The methods some alias answers at this URL (for a 405's `Allow` header and OPTIONS), empty for
   * an unknown path. Only asked when a request found no alias for its own method.
   */
  allowedMethods(url: string): string[] {
    return [...this.byMethod.keys()].filter((method) => this.resolve(url, method)).sort();
  }

  resolve(url: string, method: string): AliasMatch<A> {
    if (!PRINTABLE_ASCII.test(url)) return resolveLinear(this.aliases, url, method);
    const bucket = this.byMethod.get(method) ?? this.anyMethod;
    const key = url.toLowerCase();
    let first = bucket.statics.get(key) ?? Infinity;
    if (key.length > 1 && key.endsWith("/")) first = Math.min(first, bucket.statics.get(key.slice(0, -1)) ?? Infinity);
    for (const [position, alias, beginning] of bucket.others) {
      if (position > first) break;
      if (!key.startsWith(beginning)) continue;
      const params = alias.match(url);
      if (params) return { alias, params };
    }
    if (first === Infinity) return false;
    const alias = bucket.all.get(first)!;
    const params = alias.match(url);
    // Cannot fail by the reasoning above; if it ever does, moleculer-web's own scan decides.
    return params ? { alias, params } : resolveLinear(this.aliases, url, method);
  }
}
