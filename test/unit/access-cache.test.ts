import { AccessCache, type AccessState } from "../../lib/auth/access-cache";

const admin: AccessState = { active: true, role: "admin", tokenVersion: 0 };
const demoted: AccessState = { active: true, role: "user", tokenVersion: 0 };

/** A load the test settles by hand. */
function deferred<T>() {
  let resolve!: (value: T) => void;
  let reject!: (err: unknown) => void;
  const promise = new Promise<T>((res, rej) => ((resolve = res), (reject = rej)));
  return { promise, resolve, reject };
}

describe("gateway access-state cache", () => {
  let now = 0;
  beforeEach(() => (now = 0));

  it("keeps a loaded state until its TTL runs out", async () => {
    const cache = new AccessCache<AccessState | null>(10, 1000, () => now);
    expect(cache.fresh("b")).toBeUndefined();
    expect(await cache.load("b", async () => admin)).toBe(admin);
    now = 999;
    expect(cache.fresh("b")?.value).toBe(admin);
    now = 1000;
    expect(cache.fresh("b")).toBeUndefined();
    expect(cache.size).toBe(0);
  });

  it("remembers that an account does not exist", async () => {
    const cache = new AccessCache<AccessState | null>(10, 1000, () => now);
    await cache.load("gone", async () => null);
    expect(cache.fresh("gone")).toEqual({ value: null, expiresAt: 1000 });
  });

  it("forgets one account when its access changes, and everything on clear", async () => {
    const cache = new AccessCache<AccessState | null>(10, 1000, () => now);
    await cache.load("a", async () => admin);
    await cache.load("b", async () => admin);
    cache.invalidate("b");
    expect(cache.fresh("b")).toBeUndefined();
    expect(cache.fresh("a")?.value).toBe(admin);
    cache.clear();
    expect(cache.fresh("a")).toBeUndefined();
  });

  it("does not store a state loaded across an invalidation, nor hand it to later requests", async () => {
    const cache = new AccessCache<AccessState | null>(10, 1000, () => now);
    const before = deferred<AccessState>();
    const inFlight = cache.load("b", () => before.promise); // read before the demotion committed
    cache.invalidate("b"); // users: b was demoted
    const after = cache.load("b", async () => demoted); // the next request asks again
    expect(await after).toBe(demoted);
    before.resolve(admin); // the stale answer lands last
    expect(await inFlight).toBe(admin);
    expect(cache.fresh("b")?.value).toBe(demoted);
  });

  it("shares one load between concurrent requests of one account", async () => {
    const cache = new AccessCache<AccessState | null>(10, 1000, () => now);
    const load = jest.fn(async () => admin);
    const results = await Promise.all([cache.load("b", load), cache.load("b", load), cache.load("b", load)]);
    expect(results).toEqual([admin, admin, admin]);
    expect(load).toHaveBeenCalledTimes(1);
  });

  it("stores nothing when a load fails, and tries again next time", async () => {
    const cache = new AccessCache<AccessState | null>(10, 1000, () => now);
    await expect(cache.load("b", async () => Promise.reject(new Error("users unavailable")))).rejects.toThrow("users unavailable");
    expect(cache.fresh("b")).toBeUndefined();
    expect(await cache.load("b", async () => admin)).toBe(admin);
  });

  it("keeps at most maxEntries, dropping the oldest", async () => {
    const cache = new AccessCache<AccessState | null>(2, 1000, () => now);
    for (const key of ["a", "b", "c"]) await cache.load(key, async () => admin);
    expect(cache.size).toBe(2);
    expect([cache.fresh("a"), cache.fresh("b")?.value, cache.fresh("c")?.value]).toEqual([undefined, admin, admin]);
  });

  it("stores nothing with a TTL of 0: every request asks", async () => {
    const cache = new AccessCache<AccessState | null>(10, 0, () => now);
    const load = jest.fn(async () => admin);
    await cache.load("b", load);
    await cache.load("b", load);
    expect(cache.fresh("b")).toBeUndefined();
    expect(load).toHaveBeenCalledTimes(2);
  });
});
