/**
 * Where baskets live: Redis when REDIS_URL is set, memory otherwise. One interface, two adapters,
 * one behavioural test suite (test/integration/basket-store.test.ts).
 */
import type Redis from "ioredis";
import { emptyBasket, type Basket } from "./basket";
import { config } from "../../lib/config";
import { topicOf, type Envelope } from "../../lib/events/envelope";
import { MemoryOutbox, RedisOutbox, type OutboxStore } from "../../lib/events/stores";

export interface StoredBasket {
  basket: Basket;
  /** When the basket disappears unless changed again; null for an empty (absent) basket. */
  expiresAt: Date | null;
}

export interface BasketStore {
  read(userId: string): Promise<StoredBasket>;
  /** Applies `change` atomically (no concurrent update is lost) and restarts the TTL. */
  update(userId: string, change: (basket: Basket) => Basket): Promise<StoredBasket>;
  clear(userId: string): Promise<void>;
  /**
   * Clears the basket, records `eventId` and puts `outgoing` in the outbox, in one step; false
   * (and nothing done) if that event was applied before.
   */
  clearOnce(userId: string, eventId: string, outgoing?: Envelope): Promise<boolean>;
  readonly outbox: OutboxStore;
  ping(): Promise<void>;
}

/** How long an applied event id is remembered (redeliveries come much sooner): EVENT_RETENTION_DAYS. */
const eventMemoryMs = () => config().events.retentionMs;

export class MemoryBasketStore implements BasketStore {
  private readonly baskets = new Map<string, { basket: Basket; expiresAt: number }>();
  private readonly appliedEvents = new Map<string, number>();
  readonly outbox = new MemoryOutbox();

  constructor(
    private readonly ttlMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  async read(userId: string): Promise<StoredBasket> {
    const entry = this.live(userId);
    return entry ? { basket: entry.basket, expiresAt: new Date(entry.expiresAt) } : { basket: emptyBasket(userId), expiresAt: null };
  }

  // No await between read and write: atomic on Node's single thread.
  async update(userId: string, change: (basket: Basket) => Basket): Promise<StoredBasket> {
    const next = change(this.live(userId)?.basket ?? emptyBasket(userId));
    if (next.lines.length === 0) {
      this.baskets.delete(userId);
      return { basket: next, expiresAt: null };
    }
    const expiresAt = this.now() + this.ttlMs;
    this.baskets.set(userId, { basket: next, expiresAt });
    return { basket: next, expiresAt: new Date(expiresAt) };
  }

  async clear(userId: string): Promise<void> {
    this.baskets.delete(userId);
  }

  async clearOnce(userId: string, eventId: string, outgoing?: Envelope): Promise<boolean> {
    const seen = this.appliedEvents.get(eventId);
    if (seen !== undefined && seen > this.now()) return false;
    // Ids expire in insertion order (one lifetime for all): forget the lapsed ones from the front.
    for (const [id, until] of this.appliedEvents) {
      if (until > this.now()) break;
      this.appliedEvents.delete(id);
    }
    this.appliedEvents.set(eventId, this.now() + eventMemoryMs());
    this.baskets.delete(userId);
    if (outgoing) this.outbox.add(outgoing);
    return true;
  }

  async ping(): Promise<void> {}

  private live(userId: string) {
    const entry = this.baskets.get(userId);
    if (entry && entry.expiresAt <= this.now()) {
      this.baskets.delete(userId);
      return undefined;
    }
    return entry;
  }
}

/** Sets KEYS[1] to ARGV[2] (TTL ARGV[3] ms; deletes it when ARGV[2] is empty) only if it still holds ARGV[1]. */
const COMPARE_AND_SET = `
local current = redis.call("GET", KEYS[1])
if current == false then current = "" end
if current ~= ARGV[1] then return 0 end
if ARGV[2] == "" then redis.call("DEL", KEYS[1]) else redis.call("SET", KEYS[1], ARGV[2], "PX", ARGV[3]) end
return 1`;

/** Records the event id (if new), deletes the basket and appends the outgoing event, together. */
const CLEAR_ONCE = `
if redis.call("SET", KEYS[2], "1", "NX", "PX", ARGV[1]) then
  redis.call("DEL", KEYS[1])
  if ARGV[2] ~= "" then redis.call("XADD", KEYS[3], "*", "topic", ARGV[2], "key", ARGV[3], "value", ARGV[4]) end
  return 1
end
return 0`;

/**
 * Baskets as JSON strings with a TTL. Concurrent edits never lose an update: each change is
 * computed from what was read and written with a compare-and-set script, retried when another
 * writer got there first. (WATCH/MULTI would need a connection per edit; the rules stay in
 * TypeScript, in one place, rather than being rewritten in Lua.)
 */
export class RedisBasketStore implements BasketStore {
  readonly outbox: RedisOutbox;

  constructor(
    private readonly redis: Redis,
    private readonly ttlMs: number,
    private readonly prefix = "shop:",
  ) {
    this.outbox = new RedisOutbox(redis, `${prefix}outbox:baskets`);
  }

  private key = (userId: string) => `${this.prefix}basket:${userId}`;

  async read(userId: string): Promise<StoredBasket> {
    const [raw, ttl] = await this.redis.multi().get(this.key(userId)).pttl(this.key(userId)).exec().then((r) => r!.map(([, v]) => v) as [string | null, number]);
    if (!raw) return { basket: emptyBasket(userId), expiresAt: null };
    return { basket: JSON.parse(raw) as Basket, expiresAt: ttl > 0 ? new Date(Date.now() + ttl) : null };
  }

  async update(userId: string, change: (basket: Basket) => Basket): Promise<StoredBasket> {
    const key = this.key(userId);
    for (let attempt = 1; attempt <= 200; attempt++) {
      const raw = (await this.redis.get(key)) ?? "";
      const next = change(raw ? (JSON.parse(raw) as Basket) : emptyBasket(userId));
      const written = next.lines.length ? JSON.stringify(next) : "";
      if ((await this.redis.eval(COMPARE_AND_SET, 1, key, raw, written, this.ttlMs)) === 1) {
        return { basket: next, expiresAt: written ? new Date(Date.now() + this.ttlMs) : null };
      }
      await new Promise((r) => setTimeout(r, Math.random() * Math.min(50, attempt * 2)));
    }
    throw new Error(`basket of ${userId} is changing too fast: gave up after 200 attempts`);
  }

  async clear(userId: string): Promise<void> {
    await this.redis.del(this.key(userId));
  }

  async clearOnce(userId: string, eventId: string, outgoing?: Envelope): Promise<boolean> {
    const [topic, key, value] = outgoing ? [topicOf(outgoing.type), outgoing.subject, JSON.stringify(outgoing)] : ["", "", ""];
    const keys = [this.key(userId), `${this.prefix}basket-event:${eventId}`, this.outbox.streamKey];
    return (await this.redis.eval(CLEAR_ONCE, 3, ...keys, eventMemoryMs(), topic, key, value)) === 1;
  }

  async ping(): Promise<void> {
    await this.redis.ping();
  }
}
