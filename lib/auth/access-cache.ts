/**
 * The gateway's short-lived copy of each account's current access state (active or not, role,
 * token version), so that an authenticated request with a fresh entry costs one map lookup.
 * Entries are dropped per account when the users service says that account's access changed; the
 * TTL bounds how stale an entry can get if that message is lost. Bounded: past `maxEntries` the
 * oldest entry goes. Pure: no broker, no HTTP.
 */
import type { Caller } from "../http/access";

/** What the users service says about an account right now; `null` when it does not exist (any more). */
export interface AccessState {
  active: boolean;
  role: Caller["role"];
  /** Access tokens minted with another version are revoked (password change, deactivation). */
  tokenVersion: number;
}

interface Entry<T> {
  value: T;
  expiresAt: number;
}

export class AccessCache<T> {
  private readonly entries = new Map<string, Entry<T>>();
  /** One load per key at a time: a burst of requests of one account asks once. */
  private readonly loading = new Map<string, Promise<T>>();
  /** Bumped by every invalidation: a value loaded before it may be stale and is not stored. */
  private generation = 0;

  constructor(
    private readonly maxEntries: number,
    private readonly ttlMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  /** The fresh entry of `key` (its `value` may be null), or undefined. */
  fresh(key: string): Entry<T> | undefined {
    const entry = this.entries.get(key);
    if (entry === undefined) return undefined;
    if (entry.expiresAt > this.now()) return entry;
    this.entries.delete(key);
    return undefined;
  }

  /**
   * The value of `key` from `load()`, stored for the TTL unless the key (or everything) was
   * invalidated while it loaded. Concurrent calls for one key share one load; a failed load
   * stores nothing.
   */
  load(key: string, load: () => Promise<T>): Promise<T> {
    const pending = this.loading.get(key);
    if (pending) return pending;
    const generation = this.generation;
    const promise = load().then(
      (value) => {
        this.settle(key, promise);
        if (generation === this.generation) this.store(key, value);
        return value;
      },
      (err: unknown) => {
        this.settle(key, promise);
        throw err;
      },
    );
    this.loading.set(key, promise);
    return promise;
  }

  /** Forgets one key: the next request asks again. */
  invalidate(key: string): void {
    this.generation++;
    this.entries.delete(key);
    this.loading.delete(key);
  }

  /** Forgets everything. */
  clear(): void {
    this.generation++;
    this.entries.clear();
    this.loading.clear();
  }

  get size(): number {
    return this.entries.size;
  }

  private store(key: string, value: T): void {
    if (this.ttlMs <= 0 || this.maxEntries <= 0) return;
    this.entries.delete(key);
    this.entries.set(key, { value, expiresAt: this.now() + this.ttlMs });
    // A Map iterates in insertion order: the first key is the oldest entry.
    while (this.entries.size > this.maxEntries) this.entries.delete(this.entries.keys().next().value!);
  }

  private settle(key: string, promise: Promise<T>): void {
    if (this.loading.get(key) === promise) this.loading.delete(key);
  }
}
