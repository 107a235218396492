/** Gateway nodes share rate-limit counts through Redis. */
import Redis from "ioredis";
import { RateLimiter, RedisRateLimitStore } from "../../lib/http/rate-limit";
import { stack, uniqueName } from "../support/stack";

it("counts one window per key across two gateway nodes", async () => {
  const clients = [new Redis(stack.redisUrl()), new Redis(stack.redisUrl())];
  const prefix = `${uniqueName("rl")}:`;
  const [nodeA, nodeB] = clients.map((c) => new RateLimiter(new RedisRateLimitStore(c, prefix), 3));
  try {
    expect([await nodeA.check("ip:1"), await nodeB.check("ip:1"), await nodeA.check("ip:1")]).toEqual([0, 0, 0]);
    const wait = await nodeB.check("ip:1");
    expect(wait).toBeGreaterThan(0);
    expect(wait).toBeLessThanOrEqual(60);
    expect(await nodeB.check("ip:2")).toBe(0);
    expect(await clients[0].pttl(`${prefix}ip:1`)).toBeGreaterThan(0);
  } finally {
    await clients[0].del(`${prefix}ip:1`, `${prefix}ip:2`);
    clients.forEach((c) => c.disconnect());
  }
});
