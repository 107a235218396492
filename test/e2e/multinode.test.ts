/**
 * Two nodes in separate processes over real NATS: a gateway node and a products node. The gateway
 * discovers the products service and routes a REST call to the other process, and hears the users
 * service's broadcasts (a demotion ends admin access at once, not after the gateway's cache TTL).
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { createSequelize } from "../../lib/sql";
import { startTs, waitFor, type Child } from "../support/processes";
import { stack, uniqueName } from "../support/stack";

const PORT = 3900 + (process.pid % 100);
const base = `http://127.0.0.1:${PORT}`;
let gateway: Child;
let productsNode: Child;
let dataDir: string;

beforeAll(async () => {
  dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "shop-multinode-"));
  const common = {
    TRANSPORTER: stack.natsUrl(),
    NAMESPACE: uniqueName("multinode"),
    JWT_SECRET: "multinode-secret".padEnd(40, "x"),
    DATA_DIR: dataDir,
  };
  productsNode = startTs("shop.ts", {
    ...common,
    SERVICES: "users,products,baskets,orders,payments,notifications",
    NODE_ID: "products-node",
    ADMIN_EMAIL: "admin@multinode.test",
    ADMIN_PASSWORD: "admin password 1",
  });
  // A cached access state outlives the test: only the broadcast over NATS can drop it.
  gateway = startTs("shop.ts", { ...common, SERVICES: "api", NODE_ID: "gateway-node", PORT: String(PORT), ACCESS_CACHE_TTL_MS: "60000" });
  try {
    await waitFor(async () => (await fetch(`${base}/health/ready`)).status === 200, 30_000, "the gateway to see the products node");
  } catch (err) {
    throw new Error(`${String(err)}\n--- gateway ---\n${gateway.output()}\n--- products ---\n${productsNode.output()}`, { cause: err });
  }
}, 40_000);

afterAll(async () => {
  await Promise.all([gateway?.stop(), productsNode?.stop()]);
  fs.rmSync(dataDir, { recursive: true, force: true });
});

it("routes a REST call through the gateway node to the products node", async () => {
  // The products node owns its database: put a product there directly.
  const sequelize = createSequelize(`sqlite:${path.join(dataDir, "products.sqlite")}`);
  const now = new Date().toISOString();
  await sequelize.query(
    `INSERT INTO products (sku, name, description, price, currency, stock, category, image_url, is_active, created_at, updated_at)
     VALUES ('MUG-1', 'Blue mug', NULL, 1250, 'USD', 7, 'kitchen', NULL, 1, '${now}', '${now}')`,
  );
  await sequelize.close();

  const res = await fetch(`${base}/api/v1/products/1`);
  expect(res.status).toBe(200);
  expect(await res.json()).toMatchObject({ id: 1, sku: "MUG-1", name: "Blue mug", price: 1250, stock: 7, available: 7 });

  const detailed: any = await (await fetch(`${base}/health/detailed`)).json();
  expect(detailed.nodeId).toBe("gateway-node");
  expect(detailed.checks).toEqual(expect.arrayContaining([expect.objectContaining({ name: "transporter", status: "up" })]));
  expect(detailed.services.missing).toEqual([]);
});

it("ends a demoted admin's admin access on the gateway node as soon as users broadcasts the change", async () => {
  const call = async (method: string, path: string, body?: unknown, token?: string) => {
    const headers: Record<string, string> = body === undefined ? {} : { "content-type": "application/json" };
    if (token) headers.authorization = `Bearer ${token}`;
    const res = await fetch(`${base}/api/v1${path}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
    return { status: res.status, body: await res.json().catch(() => undefined) as any };
  };
  const admin = (await call("POST", "/users/login", { email: "admin@multinode.test", password: "admin password 1" })).body.accessToken;
  const bea = await call("POST", "/users/register", { email: "bea@multinode.test", password: "bea password 1", firstName: "Bea", lastName: "Lee" });
  expect(bea.status).toBe(201);
  expect((await call("POST", `/admin/users/${bea.body.id}/assign-role`, { role: "admin" }, admin)).status).toBe(200);
  const token = (await call("POST", "/users/login", { email: "bea@multinode.test", password: "bea password 1" })).body.accessToken;
  expect((await call("GET", "/admin/users", undefined, token)).status).toBe(200); // cached as an admin for 60 s

  expect((await call("POST", `/admin/users/${bea.body.id}/assign-role`, { role: "user" }, admin)).status).toBe(200);
  // The broadcast crosses NATS on its own schedule, a few milliseconds at most.
  await waitFor(async () => (await call("GET", "/admin/users", undefined, token)).status === 403, 3_000, "the gateway to hear of the demotion");
  expect((await call("POST", `/admin/users/${bea.body.id}/assign-role`, { role: "admin" }, token)).status).toBe(403);
  expect((await call("GET", "/users/profile", undefined, token)).body).toMatchObject({ role: "user" });
});

it("answers 503 from readiness when the products node goes away", async () => {
  await productsNode.stop();
  await waitFor(async () => (await fetch(`${base}/health/ready`)).status === 503, 20_000, "readiness to notice the missing node");
  const detailed: any = await (await fetch(`${base}/health/detailed`)).json();
  expect(detailed.services.missing).toEqual(["users", "products", "baskets", "orders", "payments", "notifications"]);
  // A read nobody made before cannot be answered; the gateway's micro-cache may still serve
  // /products/1 for its few seconds of TTL.
  const res = await fetch(`${base}/api/v1/products/2`);
  expect([404, 503]).toContain(res.status);
});

it("refuses to start a node that splits the event services over NATS without Kafka, naming KAFKA_BROKERS", async () => {
  // Its outbox would go to an in-process bus that the other nodes never hear.
  const split = startTs("shop.ts", { TRANSPORTER: stack.natsUrl(), NAMESPACE: uniqueName("split"), SERVICES: "payments", JWT_SECRET: "split-secret".padEnd(40, "x"), DATA_DIR: dataDir });
  const code = split.process.exitCode ?? (await new Promise<number | null>((resolve) => split.process.once("exit", (c) => resolve(c))));
  expect(code).toBe(2);
  expect(split.output()).toMatch(/KAFKA_BROKERS is required: this node runs payments on TRANSPORTER without products, baskets, orders, notifications/);
});
