/** The gateway's storefront middleware on a built app of its own (a temporary web/dist). */
import fs from "node:fs";
import http from "node:http";
import os from "node:os";
import path from "node:path";
import zlib from "node:zlib";
import type { AddressInfo } from "node:net";
import { CLIENT_ROUTES, storefront, storefrontDir } from "../../lib/http/storefront";

let dir: string;
let server: http.Server;
let url: string;

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "storefront-"));
  fs.mkdirSync(path.join(dir, "assets"));
  fs.writeFileSync(path.join(dir, "index.html"), "<!doctype html><title>shop</title>");
  fs.writeFileSync(path.join(dir, "favicon.svg"), "<svg/>");
  fs.writeFileSync(path.join(dir, "assets", "index-abc.js"), "console.log('app')");
  fs.writeFileSync(path.join(dir, "assets", "index-abc.js.gz"), zlib.gzipSync("console.log('app')"));
  const middleware = storefront(dir);
  server = http.createServer((req, res) =>
    middleware(req, res, () => {
      res.statusCode = 404;
      res.end("next");
    }),
  );
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  await new Promise((resolve) => server.close(resolve));
  fs.rmSync(dir, { recursive: true, force: true });
});

it("answers the app's pages with index.html under its strict CSP", async () => {
  for (const page of ["/", "/products/42", "/basket", "/checkout/0b9c", "/orders", "/admin/dead-letters", "/signin?next=/basket"]) {
    const res = await fetch(`${url}${page}`);
    expect({ page, status: res.status }).toEqual({ page, status: 200 });
    expect(await res.text()).toContain("<title>shop</title>");
    const csp = res.headers.get("content-security-policy")!;
    expect(csp).toContain("script-src 'self'");
    expect(csp).toContain("style-src 'self'");
    expect(csp).toContain("frame-ancestors 'none'");
    expect(csp).not.toContain("unsafe-inline");
    expect(csp).not.toContain("unsafe-eval");
    expect(res.headers.get("cache-control")).toBe("no-cache");
  }
});

it("serves hashed assets for good, gzipped when the client takes it", async () => {
  const plain = await fetch(`${url}/assets/index-abc.js`, { headers: { "accept-encoding": "identity" } });
  expect(plain.status).toBe(200);
  expect(plain.headers.get("cache-control")).toBe("public, max-age=31536000, immutable");
  expect(plain.headers.get("content-encoding")).toBeNull();
  const zipped = await new Promise<http.IncomingMessage>((resolve) => http.get(`${url}/assets/index-abc.js`, { headers: { "accept-encoding": "gzip" } }, resolve));
  expect(zipped.headers["content-encoding"]).toBe("gzip");
  expect(zipped.headers["content-type"]).toMatch(/^text\/javascript/);
  expect(zipped.headers.vary).toBe("Accept-Encoding");
  zipped.resume();
  expect((await fetch(`${url}/favicon.svg`)).status).toBe(200);
});

it("leaves everything else to the gateway: the API, unknown paths, missing assets, other methods", async () => {
  for (const page of ["/api/v1/products", "/api/docs", "/health/ready", "/metrics", "/nowhere", "/products.json", "/assets/missing.js", "/../package.json"]) {
    const res = await fetch(`${url}${page}`);
    expect({ page, body: await res.text() }).toEqual({ page, body: "next" });
  }
  expect(await (await fetch(`${url}/`, { method: "POST" })).text()).toBe("next");
  expect(CLIENT_ROUTES.test("/products/1/reviews")).toBe(true);
  expect(CLIENT_ROUTES.test("/productsx")).toBe(false);
});

it("finds web/dist at the project's root, from the source tree and from the compiled one", () => {
  const root = path.resolve(__dirname, "../..");
  expect(storefrontDir(path.join(root, "lib", "http"))).toBe(path.join(root, "web", "dist"));
  expect(storefrontDir(path.join(root, "dist", "lib", "http"))).toBe(path.join(root, "web", "dist"));
});

it("passes when the storefront is not built", async () => {
  const empty = fs.mkdtempSync(path.join(os.tmpdir(), "storefront-empty-"));
  const middleware = storefront(empty);
  let passed = false;
  middleware({ method: "GET", url: "/", headers: {} } as http.IncomingMessage, {} as http.ServerResponse, () => (passed = true));
  expect(passed).toBe(true);
  fs.rmSync(empty, { recursive: true, force: true });
});
