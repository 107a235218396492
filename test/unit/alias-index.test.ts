/** The gateway's alias index answers exactly as moleculer-web's linear scan, on moleculer-web's own aliases. */
import ApiGateway from "moleculer-web";
import { AliasIndex, resolveLinear } from "../../lib/http/alias-index";

// eslint-disable-next-line @typescript-eslint/no-require-imports
const Alias = require("moleculer-web/src/alias");
/** moleculer-web's own lookup, on the same aliases. */
const moleculerWeb = (url: string, method: string) => (ApiGateway.methods as any).resolveAlias.call({ aliases }, url, method);

const route = (path: string) => ({ path, opts: {} });
const api = route("/api/v1");
const root = route("/");
const aliases = [
  new Alias(null, root, "GET /health/live", "api.live"),
  new Alias(null, root, "GET /metrics", "api.metrics"),
  new Alias(null, api, "GET /products", "products.list"),
  new Alias(null, api, "GET /products/top-expensive", "products.topExpensive"),
  new Alias(null, api, "GET /products/category/:category", "products.byCategory"),
  new Alias(null, api, "GET /products/:id", "products.get"),
  // After /products/:id: unreachable by the linear scan too.
  new Alias(null, api, "GET /products/stats", "products.stats"),
  new Alias(null, api, "POST /products", "products.create"),
  new Alias(null, api, "PUT /admin/products/:id/stock", "products.setStock"),
  new Alias(null, api, "GET /admin/Products/:id", "products.adminGet"),
  new Alias(null, api, "GET /files/*path", "files.get"),
  new Alias(null, api, "GET /opt{/:x}", "opt.get"),
  new Alias(null, api, "* /anything", "any.thing"),
  new Alias(null, api, "GET /anything", "get.anything"),
  new Alias(null, api, "GET /basket/items/:productId", "baskets.remove"),
  new Alias(null, root, "GET /", "api.root"),
];

const urls = [
  "/health/live",
  "/HEALTH/Live",
  "/health/live/",
  "/health/live//",
  "/metrics",
  "/api/v1/products",
  "/api/v1/products/",
  "/API/V1/PRODUCTS",
  "/api/v1/products/42",
  "/api/v1/products/42/",
  "/api/v1/products/stats",
  "/api/v1/products/top-expensive",
  "/api/v1/products/TOP-EXPENSIVE",
  "/api/v1/products/category/books",
  "/api/v1/products/category/",
  "/api/v1/products/%E2%82%AC",
  "/api/v1/products/%E2%82",
  "/api/v1/admin/products/7",
  "/API/V1/ADMIN/PRODUCTS/7",
  "/Api/v1/Products/42",
  "/api/v1/products/Category/Books",
  "/api/v1/admin/products/",
  "/api/v1/admin/products/7/stock",
  "/api/v1/files/a/b/c",
  "/api/v1/opt",
  "/api/v1/opt/1",
  "/api/v1/anything",
  "/api/v1/basket/items/3",
  "/api/v1/nope",
  "/",
  "//",
  "",
  "/api/v1/produc\u00e9s",
  "/api/v1/products/\u00e942",
];

const outcome = (resolve: () => unknown) => {
  try {
    const found = resolve() as { alias: { action: string }; params: unknown } | false;
    return found ? { action: found.alias.action, params: found.params } : false;
  } catch (err) {
    return { threw: (err as Error).name };
  }
};

describe("AliasIndex", () => {
  const index = new AliasIndex(aliases);
  const cases = ["GET", "POST", "PUT", "DELETE", "PROPFIND"].flatMap((method) => urls.map((url) => [method, url] as const));

  it.each(cases)("%s %s resolves as moleculer-web resolves it", (method, url) => {
    const expected = outcome(() => moleculerWeb(url, method));
    expect(outcome(() => index.resolve(url, method))).toEqual(expected);
    expect(outcome(() => resolveLinear(aliases, url, method))).toEqual(expected);
  });

  it("finds the aliases the shop routes most", () => {
    expect(outcome(() => index.resolve("/api/v1/products/42", "GET"))).toEqual({ action: "products.get", params: { id: "42" } });
    expect(outcome(() => index.resolve("/api/v1/products/top-expensive", "GET"))).toEqual({ action: "products.topExpensive", params: {} });
    expect(outcome(() => index.resolve("/api/v1/products", "POST"))).toEqual({ action: "products.create", params: {} });
  });
});

describe("the methods a path answers (405's Allow)", () => {
  const index = new AliasIndex(aliases);
  it.each([
    ["/api/v1/products", ["GET", "POST"]],
    ["/api/v1/products/42", ["GET"]],
    ["/api/v1/admin/products/7/stock", ["PUT"]],
    ["/health/live", ["GET"]],
    ["/api/v1/nowhere", []],
  ])("%s: %j", (url, methods) => {
    expect(index.allowedMethods(url)).toEqual(methods);
  });
});
