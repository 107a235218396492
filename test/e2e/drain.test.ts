/**
 * A gateway node that is told to stop (SIGTERM runs broker.stop()) drains: the requests it is
 * handling finish with their answers, readiness turns 503 at once so load balancers stop sending
 * new ones, and then the node leaves.
 */
import type { ServiceSchema } from "moleculer";
import { startShop, type RunningShop } from "../support/shop";

let shop: RunningShop;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const slow: ServiceSchema = {
  name: "slow",
  settings: { rest: "/" },
  actions: {
    wait: {
      rest: "GET /slow",
      auth: "public",
      async handler() {
        await sleep(1_000);
        return { done: true };
      },
    },
  },
};

beforeAll(async () => {
  shop = await startShop({ HTTP_CACHE_TTL_MS: "0" }, [slow]);
}, 30_000);

it("finishes the requests in flight, reports not ready, then leaves", async () => {
  const inFlight = Array.from({ length: 5 }, () => fetch(`${shop.url}/api/v1/slow`).then(async (r) => ({ status: r.status, body: await r.json() })));
  await sleep(200);
  const stopping = shop.stop();
  await sleep(50);
  const ready = await fetch(`${shop.url}/health/ready`).then((r) => r.status, () => "refused");
  // Either answered 503 (still listening) or no longer listening: never "ready".
  expect([503, "refused"]).toContain(ready);
  expect(await Promise.all(inFlight)).toEqual(Array(5).fill({ status: 200, body: { done: true } }));
  await stopping;
  await expect(fetch(`${shop.url}/health/live`)).rejects.toThrow();
});
