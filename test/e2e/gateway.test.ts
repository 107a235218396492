/** The gateway as a client sees it, on the embedded shop. */
import type { ServiceSchema } from "moleculer";
import { startShop, http, signedIn, type RunningShop } from "../support/shop";
import { currentRequestId } from "../../lib/request-context";

// A probe service (test only) that answers with the request id its handler sees.
const probe: ServiceSchema = {
  name: "probe",
  settings: { rest: "/" },
  actions: {
    whoami: { rest: "GET /probe/request-id", auth: "public", handler: () => ({ requestId: currentRequestId() }) },
    undeclared: { rest: "GET /probe/undeclared", handler: () => "should never be reachable" },
  },
};

let shop: RunningShop;
beforeAll(async () => {
  shop = await startShop({}, [probe]);
});
afterAll(() => shop.stop());

describe("health and metrics", () => {
  it("answers liveness, readiness and details", async () => {
    expect((await http(`${shop.url}/health/live`)).status).toBe(200);
    const ready = await http(`${shop.url}/health/ready`);
    expect(ready).toMatchObject({ status: 200, body: { status: "up" } });
    const detailed = await http(`${shop.url}/health/detailed`);
    expect(detailed.status).toBe(200);
    expect(detailed.body.checks).toEqual(expect.arrayContaining([expect.objectContaining({ name: "products.db", status: "up", latencyMs: expect.any(Number) })]));
  });

  it("serves Prometheus text with Moleculer's metrics", async () => {
    const res = await fetch(`${shop.url}/metrics`);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toMatch(/^text\/plain/);
    const text = await res.text();
    expect(text).toMatch(/^moleculer_request_total/m);
    expect(text).toMatch(/^# TYPE moleculer_node_type gauge/m);
    // Latency as Prometheus histograms (buckets, sum, count), from which it computes quantiles itself.
    expect(text).toMatch(/^moleculer_request_time_seconds_bucket\{.*action="api\.rest".*le="\+Inf"\} [1-9]/m);
    expect(text).toMatch(/^moleculer_request_time_seconds_count\{.*action="api\.rest".*\} [1-9]/m);
    expect(text).not.toMatch(/quantile=/);
  });
});

describe("errors", () => {
  it("is a JSON 404 for an unknown route", async () => {
    const res = await http(`${shop.url}/api/v1/nope`);
    expect(res.status).toBe(404);
    expect(res.body).toEqual({ name: "NotFoundError", message: "Not found", code: 404, type: "NOT_FOUND", data: null });
  });

  it("is a JSON 400 for a malformed body", async () => {
    const res = await http(`${shop.url}/api/v1/users/login`, { method: "POST", rawBody: "{bad json" });
    expect(res.status).toBe(400);
    expect(res.body).toMatchObject({ name: "BadRequestError", code: 400, type: "INVALID_JSON" });
    expect(JSON.stringify(res.body)).not.toMatch(/at .*\.js:\d+/); // no stack trace
  });

  it("is a JSON 413 for a body over the limit", async () => {
    const res = await http(`${shop.url}/api/v1/users/login`, { method: "POST", body: { blob: "x".repeat(200_000) } });
    expect(res.status).toBe(413);
    expect(res.body).toMatchObject({ code: 413, type: "PAYLOAD_TOO_LARGE" });
  });

  it("is a 422 naming the failing fields", async () => {
    const res = await http(`${shop.url}/api/v1/products?limit=1000&sort=weight`);
    expect(res.status).toBe(422);
    expect(res.body.type).toBe("VALIDATION_ERROR");
    expect(res.body.data.map((d: any) => d.field).sort()).toEqual(["limit", "sort"]);
    expect(JSON.stringify(res.body)).not.toMatch(/nodeID/);
  });
});

describe("methods", () => {
  it("answers a known path with a method it does not take with 405 and Allow", async () => {
    for (const [method, path, allow] of [
      ["DELETE", "/api/v1/products", "GET, OPTIONS"],
      ["PATCH", "/api/v1/products/1", "GET, OPTIONS"],
      ["GET", "/api/v1/users/login", "POST, OPTIONS"],
      ["POST", "/health/live", "GET, OPTIONS"],
    ]) {
      const res = await http(`${shop.url}${path}`, { method });
      expect({ path, method, status: res.status, allow: res.headers.get("allow"), type: res.body.type }).toEqual({ path, method, status: 405, allow, type: "METHOD_NOT_ALLOWED" });
    }
    const get = await fetch(`${shop.url}/api/v1/admin/products/1/stock/receive`);
    expect(get.status).toBe(405);
    expect(get.headers.get("allow")).toBe("POST, OPTIONS");
    // An unknown path is still a 404.
    expect((await http(`${shop.url}/api/v1/nothing-here`, { method: "DELETE" })).status).toBe(404);
  });

  it("answers OPTIONS on a known path with 204 and Allow", async () => {
    const res = await fetch(`${shop.url}/api/v1/admin/products/7`, { method: "OPTIONS" });
    expect(res.status).toBe(204);
    expect(res.headers.get("allow")).toBe("DELETE, GET, PATCH, PUT, OPTIONS");
  });
});

describe("the seeds' routes", () => {
  it("keeps GET /health and the fixed catalog reads, each in the document", async () => {
    expect(await http(`${shop.url}/health`)).toMatchObject({ status: 200, body: { status: "up" } });
    for (const path of ["/api/v1/products/top-5", "/api/v1/products/top-10"]) expect(Array.isArray((await http(`${shop.url}${path}`)).body)).toBe(true);
    for (const path of ["/api/v1/products/low-stock-1", "/api/v1/products/low-stock-10"]) expect((await http(`${shop.url}${path}`)).body).toMatchObject({ items: [], offset: 0 });
    const doc = (await http(`${shop.url}/api/v1/openapi.json`)).body;
    for (const path of ["/health", "/api/v1/products/top-5", "/api/v1/products/top-10", "/api/v1/products/low-stock-1", "/api/v1/products/low-stock-10"]) {
      expect({ path, documented: !!doc.paths[path]?.get }).toEqual({ path, documented: true });
    }
  });
});

describe("query values", () => {
  it("refuses what is no number, boolean or date-time instead of reading it as one", async () => {
    const admin = await signedIn(shop, "admin@gateway.test", "admin");
    for (const query of ["maxPrice=", "maxPrice=%20", "limit=0x10", "minPrice=Infinity", "offset=1.5"]) {
      expect({ query, status: (await http(`${shop.url}/api/v1/products?${query}`)).status }).toEqual({ query, status: 422 });
    }
    for (const query of ["to=0.5", "from=2026-02-30T00:00:00Z", "to=2026-01-01", "from=yesterday"]) {
      expect({ query, status: (await http(`${shop.url}/api/v1/admin/orders?${query}`, { token: admin.token })).status }).toEqual({ query, status: 422 });
    }
    expect((await http(`${shop.url}/api/v1/admin/products?isActive=1`, { token: admin.token })).status).toBe(422);
    expect((await http(`${shop.url}/api/v1/admin/products?isActive=false`, { token: admin.token })).status).toBe(200);
    expect((await http(`${shop.url}/api/v1/admin/orders?from=2026-01-01T00:00:00Z&to=2026-01-31T23:59:59.5%2B01:00`, { token: admin.token })).status).toBe(200);
  });
});

describe("what is reachable", () => {
  it.each(["/api/v1/$node/list", "/api/v1/~node/list", "/api/v1/$node/services", "/api/v1/api/list-aliases", "/api/v1/probe/undeclared"])(
    "%s is not",
    async (path) => {
      const res = await http(`${shop.url}${path}`);
      expect(res.status).toBe(404);
    },
  );

  it("offers none of moleculer-db's raw-query actions, nor the gateway's route-editing ones", () => {
    const actions = new Map((shop.broker.registry.getActionList({}) as any[]).map((a) => [a.name, a.action]));
    for (const name of ["products.find", "products.count", "products.insert", "products.update", "api.addRoute", "api.removeRoute", "api.listAliases"]) {
      expect(actions.has(name)).toBe(false);
    }
    // `create` and `remove` are the service's own: validated, strict and admin-only.
    expect(actions.get("products.create")).toMatchObject({ auth: "admin", params: expect.objectContaining({ $$strict: true }) });
    expect(actions.get("products.remove")).toMatchObject({ auth: "admin" });
  });

  it("documents every REST route in the OpenAPI document", async () => {
    const api: any = shop.broker.getLocalService("api");
    const routes: { method: string; path: string }[] = api.restRoutes();
    expect(routes.length).toBeGreaterThan(0);
    const doc = (await http(`${shop.url}/api/v1/openapi.json`)).body;
    expect(doc.openapi).toBe("3.1.0");
    for (const route of routes) {
      const path = route.path.replace(/:([A-Za-z0-9_]+)/g, "{$1}");
      expect({ route: `${route.method} ${path}`, documented: !!doc.paths[path]?.[route.method.toLowerCase()] }).toEqual({
        route: `${route.method} ${path}`,
        documented: true,
      });
    }
    // And nothing undeclared leaks into it.
    expect(JSON.stringify(doc)).not.toMatch(/probe\.undeclared|\$node/);
  });

  it("has every route of the shop declare its answers, with unique operation ids", async () => {
    const doc = (await http(`${shop.url}/api/v1/openapi.json`)).body;
    const operations = Object.entries<any>(doc.paths).flatMap(([path, ops]) => Object.entries<any>(ops).map(([method, op]) => ({ route: `${method.toUpperCase()} ${path}`, op })));
    const undeclared = operations.filter(({ op }) => op["x-undeclared"] && !op.operationId.startsWith("probe.")).map(({ route }) => route);
    expect(undeclared).toEqual([]);
    const ids = operations.map(({ op }) => op.operationId);
    expect(new Set(ids).size).toBe(ids.length);
    // 201s say where the new resource is; no success is an untyped {}.
    for (const { route, op } of operations) {
      if (op["x-undeclared"]) continue;
      if (op.responses["201"]) expect({ route, location: op.responses["201"].headers?.Location?.required }).toEqual({ route, location: true });
      const schema = op.responses["200"]?.content?.["application/json"]?.schema;
      if (schema) expect({ route, empty: Object.keys(schema).length === 0 }).toEqual({ route, empty: false });
    }
  });

  it("serves Swagger UI", async () => {
    const page = await fetch(`${shop.url}/api/docs`);
    expect(page.status).toBe(200);
    expect(await page.text()).toContain("swagger-ui-bundle.js");
    expect((await fetch(`${shop.url}/api/docs/assets/swagger-ui-bundle.js`)).status).toBe(200);
    expect(await (await fetch(`${shop.url}/api/docs/init.js`)).text()).toContain("/api/v1/openapi.json");
  });
});

describe("request ids and headers", () => {
  it("carries the client's X-Request-ID into the action and back", async () => {
    const res = await http(`${shop.url}/api/v1/probe/request-id`, { headers: { "x-request-id": "order-flow-123" } });
    expect(res.headers.get("x-request-id")).toBe("order-flow-123");
    expect(res.body).toEqual({ requestId: "order-flow-123" });
  });

  it("makes one when the client sends none or a malformed one", async () => {
    const none = await http(`${shop.url}/api/v1/probe/request-id`);
    expect(none.headers.get("x-request-id")).toMatch(/^[0-9a-f-]{36}$/);
    expect(none.body.requestId).toBe(none.headers.get("x-request-id"));
    const bad = await http(`${shop.url}/api/v1/probe/request-id`, { headers: { "x-request-id": "evil\tvalue with spaces" } });
    expect(bad.headers.get("x-request-id")).toMatch(/^[0-9a-f-]{36}$/);
  });

  it("sets security headers on every response, errors and cache hits included", async () => {
    for (const path of ["/api/v1/products", "/api/v1/products", "/api/v1/nope", "/nowhere"]) {
      const res = await fetch(`${shop.url}${path}`);
      expect(res.headers.get("x-content-type-options")).toBe("nosniff");
      expect(res.headers.get("x-frame-options")).toBe("DENY");
      expect(res.headers.get("content-security-policy")).toBe("default-src 'none';frame-ancestors 'none'");
      expect(res.headers.get("strict-transport-security")).toMatch(/max-age=\d+/);
      expect(res.headers.get("x-request-id")).toBeTruthy();
    }
    // The docs page may load its own scripts and styles.
    const docs = await fetch(`${shop.url}/api/docs`);
    expect(docs.headers.get("content-security-policy")).toContain("script-src 'self'");
  });

  it("answers public cached reads from the gateway micro-cache, and drops them when the data changes", async () => {
    const first = await fetch(`${shop.url}/api/v1/products/categories`);
    expect(first.headers.get("x-cache")).toBeNull();
    const second = await fetch(`${shop.url}/api/v1/products/categories`);
    expect(second.headers.get("x-cache")).toBe("HIT");
    expect(await second.text()).toBe(await first.text());
    // A request with a token goes through authentication, never the cache.
    const withToken = await fetch(`${shop.url}/api/v1/products/categories`, { headers: { authorization: "Bearer nonsense" } });
    expect(withToken.status).toBe(401);
    // A change in the catalog drops the cached responses.
    await shop.broker.call("products.createMany", { products: [{ sku: "CACHE-1", name: "Fresh", price: 100, stock: 1, category: "fresh" }] });
    await new Promise((r) => setTimeout(r, 50));
    const after = await fetch(`${shop.url}/api/v1/products/categories`);
    expect(after.headers.get("x-cache")).toBeNull();
    expect(await after.json()).toEqual(expect.arrayContaining([{ name: "fresh", count: 1, averagePrice: 100 }]));
  });

  it("sends no CORS headers when no origin is allowed", async () => {
    const res = await fetch(`${shop.url}/api/v1/products`, { headers: { origin: "https://evil.example" } });
    expect(res.headers.get("access-control-allow-origin")).toBeNull();
  });
});
