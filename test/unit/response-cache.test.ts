import { ResponseCache } from "../../lib/http/response-cache";

describe("gateway response cache", () => {
  let now = 0;
  const body = (s: string) => Buffer.from(s);

  it("serves a response until its TTL runs out", () => {
    const cache = new ResponseCache(10, 1000, () => now);
    cache.set("/a", "products", body("A"), "application/json");
    now = 999;
    expect(cache.get("/a")?.body.toString()).toBe("A");
    now = 1000;
    expect(cache.get("/a")).toBeUndefined();
  });

  it("keeps at most maxEntries, dropping the least recently used", () => {
    now = 0;
    const cache = new ResponseCache(2, 1000, () => now);
    cache.set("/a", "products", body("A"), "application/json");
    cache.set("/b", "products", body("B"), "application/json");
    cache.get("/a");
    cache.set("/c", "products", body("C"), "application/json");
    expect([cache.get("/a")?.body.toString(), cache.get("/b"), cache.get("/c")?.body.toString()]).toEqual(["A", undefined, "C"]);
    expect(cache.size).toBe(2);
  });

  it("drops one service's responses when its data changes", () => {
    const cache = new ResponseCache(10, 1000, () => now);
    cache.set("/p", "products", body("P"), "application/json");
    cache.set("/o", "orders", body("O"), "application/json");
    cache.invalidate("products");
    expect(cache.get("/p")).toBeUndefined();
    expect(cache.get("/o")?.body.toString()).toBe("O");
  });

  it("does not store a response computed before an invalidation", () => {
    const cache = new ResponseCache(10, 1000, () => now);
    const startedAt = cache.generation;
    cache.invalidate("products"); // a write lands while the request is in flight
    cache.set("/p", "products", body("old"), "application/json", startedAt);
    expect(cache.get("/p")).toBeUndefined();
  });

  it("stores nothing when turned off", () => {
    const cache = new ResponseCache(10, 0, () => now);
    cache.set("/a", "products", body("A"), "application/json");
    expect(cache.get("/a")).toBeUndefined();
  });
});
