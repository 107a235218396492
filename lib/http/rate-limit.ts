/**
 * Fixed-window rate limits: at most `limit` requests per key per minute. The memory store counts
 * per gateway node; the Redis store (INCR and PEXPIRE in one script) shares the count across nodes.
 */
import type { IncomingMessage } from "node:http";
import type Redis from "ioredis";

const WINDOW_MS = 60_000;

export interface RateLimitStore {
  /** Counts one request for `key`; returns the count in the current window and the ms left in it. */
  hit(key: string, windowMs: number): Promise<{ count: number; resetInMs: number }>;
}

export class MemoryRateLimitStore implements RateLimitStore {
  private readonly windows = new Map<string, { count: number; resetAt: number }>();

  constructor(private readonly now: () => number = Date.now) {}

  async hit(key: string, windowMs: number) {
    const now = this.now();
    let window = this.windows.get(key);
    if (!window || window.resetAt <= now) {
      if (this.windows.size > 100_000) this.sweep(now); // bounded, whatever the traffic
      window = { count: 0, resetAt: now + windowMs };
      this.windows.set(key, window);
    }
    window.count++;
    return { count: window.count, resetInMs: window.resetAt - now };
  }

  private sweep(now: number) {
    for (const [key, w] of this.windows) if (w.resetAt <= now) this.windows.delete(key);
  }
}

const HIT_SCRIPT = `
local count = redis.call("INCR", KEYS[1])
if count == 1 then redis.call("PEXPIRE", KEYS[1], ARGV[1]) end
return { count, redis.call("PTTL", KEYS[1]) }`;

export class RedisRateLimitStore implements RateLimitStore {
  constructor(
    private readonly redis: Redis,
    private readonly prefix = "shop-ratelimit:",
  ) {}

  async hit(key: string, windowMs: number) {
    const [count, ttl] = (await this.redis.eval(HIT_SCRIPT, 1, this.prefix + key, windowMs)) as [number, number];
    return { count, resetInMs: ttl > 0 ? ttl : windowMs };
  }
}

export class RateLimiter {
  constructor(
    private readonly store: RateLimitStore,
    readonly perMinute: number,
  ) {}

  /** Counts the request; returns how many seconds to wait when over the limit, else 0. */
  async check(key: string): Promise<number> {
    const { count, resetInMs } = await this.store.hit(key, WINDOW_MS);
    return count > this.perMinute ? Math.max(1, Math.ceil(resetInMs / 1000)) : 0;
  }
}

/**
 * The client's address: the socket's, unless `trustedProxies` proxies stand in front of the
 * gateway, in which case the entry of X-Forwarded-For that the outermost trusted proxy appended.
 * Entries further left were written by the client and are never believed.
 */
export function clientIp(req: IncomingMessage, trustedProxies: number): string {
  const socketIp = req.socket.remoteAddress ?? "unknown";
  if (trustedProxies <= 0) return socketIp;
  const header = req.headers["x-forwarded-for"];
  const hops = (Array.isArray(header) ? header.join(",") : (header ?? "")).split(",").map((s) => s.trim()).filter(Boolean);
  return hops.length >= trustedProxies ? hops[hops.length - trustedProxies] : socketIp;
}
