/**
 * The authorization matrix: every REST route of the live route table, called with no token, a
 * user's token, another user's token, an admin's token and a forged token. A route joins this test
 * by being declared; nothing here lists routes by hand.
 */
import { startShop, http, signedIn, type RunningShop } from "../support/shop";
import { TokenService } from "../../lib/auth/tokens";
import type { RouteEntry } from "../../lib/http/openapi";

let shop: RunningShop;
let routes: RouteEntry[];
const tokens: Record<string, string> = {};

beforeAll(async () => {
  shop = await startShop();
  const api: any = shop.broker.getLocalService("api");
  routes = api.restRoutes();
  tokens.user = (await signedIn(shop, "user-1@matrix.test")).token;
  tokens.otherUser = (await signedIn(shop, "user-2@matrix.test")).token;
  const admin = await signedIn(shop, "admin-1@matrix.test", "admin");
  tokens.admin = admin.token;
  tokens.forged = (await new TokenService("someone-else-secret".padEnd(40, "!")).sign({ id: admin.id, role: "admin" })).token;
});
afterAll(() => shop.stop());

/** A concrete URL for a route: path parameters get a value that exists nowhere. */
const urlOf = (route: RouteEntry) => `${shop.url}${route.path.replace(/:([A-Za-z0-9_]+)/g, (_, name) => (/id$/i.test(name) ? "999999" : "none"))}`;
const hasBody = (method: string) => !["GET", "DELETE"].includes(method);

async function callAs(route: RouteEntry, who: keyof typeof tokens | "anonymous") {
  return http(urlOf(route), {
    method: route.method,
    token: who === "anonymous" ? undefined : tokens[who],
    body: hasBody(route.method) ? {} : undefined,
    headers: { "idempotency-key": `matrix-${route.action}-${who}` },
  });
}

it("has routes of every access level to walk", () => {
  expect(new Set(routes.map((r) => r.auth))).toEqual(new Set(["public", "user", "admin"]));
});

describe.each(["anonymous", "user", "otherUser", "admin", "forged"] as const)("as %s", (who) => {
  it("gets what each route's declared access allows, and never a 5xx", async () => {
    const outcomes: string[] = [];
    for (const route of routes) {
      const { status } = await callAs(route, who);
      let expected: string;
      if (who === "forged") expected = "401";
      else if (route.auth === "public") expected = "allowed";
      else if (who === "anonymous") expected = "401";
      else if (route.auth === "admin" && who !== "admin") expected = "403";
      else expected = "allowed";
      const actual = status === 401 || status === 403 ? String(status) : status >= 500 ? `5xx (${status})` : "allowed";
      outcomes.push(`${route.method} ${route.path}: ${actual === expected ? "ok" : `expected ${expected}, got ${actual}`}`);
    }
    expect(outcomes.filter((o) => !o.endsWith(": ok"))).toEqual([]);
  });
});
