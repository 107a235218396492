/**
 * The gateway's micro-cache of rendered public responses: bytes by URL, bounded (LRU) and short-lived
 * (TTL), dropped per service when that service's data changes. Pure: no HTTP, no broker.
 */
export interface CachedResponse {
  body: Buffer;
  contentType: string;
  service: string;
  expiresAt: number;
  /** The route pattern it was answered on (for the request metrics and the access log of hits). */
  route?: string;
}

export class ResponseCache {
  private readonly entries = new Map<string, CachedResponse>();
  /** Bumped by every invalidation: a response computed before it may be stale and is not stored. */
  private generationCounter = 0;

  constructor(
    private readonly maxEntries: number,
    private readonly ttlMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  /** Whether anything is ever stored (HTTP_CACHE_TTL_MS or HTTP_CACHE_ENTRIES 0 turn the cache off). */
  get enabled(): boolean {
    return this.ttlMs > 0 && this.maxEntries > 0;
  }

  get(url: string): CachedResponse | undefined {
    const hit = this.entries.get(url);
    if (!hit) return undefined;
    if (hit.expiresAt <= this.now()) {
      this.entries.delete(url);
      return undefined;
    }
    // Refresh its place in the LRU order (a Map iterates in insertion order).
    this.entries.delete(url);
    this.entries.set(url, hit);
    return hit;
  }

  get generation(): number {
    return this.generationCounter;
  }

  /** Stores a response computed when the cache was at `generation` (see `generation`). */
  set(url: string, service: string, body: Buffer, contentType: string, generation = this.generationCounter, route?: string): void {
    if (!this.enabled || generation !== this.generationCounter) return;
    this.entries.delete(url);
    this.entries.set(url, { body, contentType, service, expiresAt: this.now() + this.ttlMs, route });
    while (this.entries.size > this.maxEntries) this.entries.delete(this.entries.keys().next().value!);
  }

  /** Drops every response of a service (its data changed). */
  invalidate(service: string): void {
    this.generationCounter++;
    for (const [url, entry] of this.entries) if (entry.service === service) this.entries.delete(url);
  }

  get size(): number {
    return this.entries.size;
  }
}
