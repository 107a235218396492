/** One behavioural suite, two basket stores: memory and real Redis. */
import Redis from "ioredis";
import { MemoryBasketStore, RedisBasketStore, type BasketStore } from "../../services/baskets/store";
import { applyChange, type CatalogEntry } from "../../services/baskets/basket";
import { stack, uniqueName } from "../support/stack";

const mug: CatalogEntry = { productId: 1, name: "Mug", unitPrice: 1250, currency: "USD", available: 500 };
const pan: CatalogEntry = { productId: 2, name: "Pan", unitPrice: 4999, currency: "USD", available: 3 };
const add = (product: CatalogEntry, quantity: number) => (b: any) => applyChange(b, { kind: "add", product, quantity });

let redis: Redis;
beforeAll(() => {
  redis = new Redis(stack.redisUrl());
});
afterAll(() => redis.disconnect());

const stores: [string, (ttlMs: number) => BasketStore][] = [
  ["memory", (ttlMs) => new MemoryBasketStore(ttlMs)],
  ["redis", (ttlMs) => new RedisBasketStore(redis, ttlMs, `${uniqueName("test")}:`)],
];

describe.each(stores)("%s basket store", (_name, makeStore) => {
  it("reads an absent basket as empty, without expiry", async () => {
    const store = makeStore(60_000);
    expect(await store.read("nobody")).toEqual({ basket: { userId: "nobody", lines: [] }, expiresAt: null });
  });

  it("applies changes and restarts the TTL on each", async () => {
    const store = makeStore(60_000);
    const first = await store.update("u1", add(mug, 2));
    expect(first.basket.lines).toEqual([{ productId: 1, name: "Mug", unitPrice: 1250, currency: "USD", quantity: 2 }]);
    expect(first.expiresAt!.getTime()).toBeGreaterThan(Date.now() + 55_000);
    await store.update("u1", add(mug, 1));
    const read = await store.read("u1");
    expect(read.basket.lines[0].quantity).toBe(3);
    expect(Math.abs(read.expiresAt!.getTime() - (Date.now() + 60_000))).toBeLessThan(2_000);
  });

  it("keeps the basket as it was when a change is refused", async () => {
    const store = makeStore(60_000);
    await store.update("u2", add(pan, 2));
    await expect(store.update("u2", add(pan, 2))).rejects.toMatchObject({ code: 409, type: "INSUFFICIENT_STOCK" });
    expect((await store.read("u2")).basket.lines[0].quantity).toBe(2);
  });

  it("loses no update under 100 concurrent adds", async () => {
    const store = makeStore(60_000);
    await Promise.all(Array.from({ length: 100 }, () => store.update("u3", add(mug, 1))));
    expect((await store.read("u3")).basket.lines).toEqual([expect.objectContaining({ productId: 1, quantity: 100 })]);
  });

  it("lets a basket expire after its TTL", async () => {
    const store = makeStore(300);
    await store.update("u4", add(mug, 1));
    await new Promise((r) => setTimeout(r, 450));
    expect((await store.read("u4")).basket.lines).toEqual([]);
  });

  it("clears for an event once, however often it is delivered", async () => {
    const store = makeStore(60_000);
    const eventId = uniqueName("evt");
    await store.update("u5", add(mug, 1));
    expect(await store.clearOnce("u5", eventId)).toBe(true);
    await store.update("u5", add(mug, 1)); // a new basket after the payment
    expect(await store.clearOnce("u5", eventId)).toBe(false); // the redelivery does not touch it
    expect((await store.read("u5")).basket.lines.length).toBe(1);
  });
});
