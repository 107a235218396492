/** Sign-in attempts are limited per email and per client address (embedded shop, fresh counts). */
import { startShop, http, type RunningShop } from "../support/shop";

let shop: RunningShop;
beforeAll(async () => {
  shop = await startShop({ AUTH_RATE_LIMIT: "5" });
});
afterAll(() => shop.stop());

const post = (path: string, body: unknown, _token?: string, headers?: Record<string, string>) =>
  http(`${shop.url}/api/v1${path}`, { method: "POST", body, headers });

it("limits sign-in attempts per email and per client address, with Retry-After", async () => {
  const attempt = (email: string, headers?: Record<string, string>) => post("/users/login", { email, password: "wrong password" }, undefined, headers);
  for (let i = 0; i < 5; i++) expect((await attempt("victim@shop.test")).status).toBe(401);
  const limited = await attempt("victim@shop.test");
  expect(limited.status).toBe(429);
  expect(limited.body).toMatchObject({ code: 429, type: "TOO_MANY_REQUESTS" });
  expect(Number(limited.headers.get("retry-after"))).toBeGreaterThan(0);

  // The address limit also holds, and a client cannot pick a fresh bucket with X-Forwarded-For.
  const spoofed = await attempt("someone-else@shop.test", { "x-forwarded-for": "203.0.113.7" });
  expect(spoofed.status).toBe(429);
});
