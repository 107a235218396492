/**
 * Cached reads are cleared on every node: two products nodes over real NATS, each with its own
 * memory cache, on one PostgreSQL database. A write on one node shows at once on the other.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import type { ServiceBroker } from "moleculer";
import { freshDatabase, type TestDatabase } from "../support/databases";
import { stack, uniqueName } from "../support/stack";

let db: TestDatabase;
let nodes: ServiceBroker[];
let dataDir: string;

beforeAll(async () => {
  db = await freshDatabase("postgres");
  dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "shop-cache-"));
  Object.assign(process.env, { PRODUCTS_DB_URL: db.url, DATA_DIR: dataDir, LOG_LEVEL: "warn", LOG_FORMAT: "text" });
  const { ServiceBroker } = await import("moleculer");
  const { default: brokerConfig } = await import("../../moleculer.config");
  const { default: ProductsService } = await import("../../services/products/products.service");
  const namespace = uniqueName("cache");
  nodes = ["node-a", "node-b"].map(
    (nodeID) =>
      new ServiceBroker({
        ...brokerConfig,
        nodeID,
        namespace,
        transporter: { type: "NATS", options: { url: stack.natsUrl() } },
        cacher: "Memory",
        metrics: false,
      }),
  );
  for (const node of nodes) node.createService(ProductsService);
  await nodes[0].start(); // runs the migrations first
  await nodes[1].start();
  // Each node must know the other's products service (and so its clean-event listener).
  const bothKnown = (n: ServiceBroker) => n.registry.getServiceList({}).filter((s: any) => s.name === "products").length === 2;
  const deadline = Date.now() + 15_000;
  while (!nodes.every(bothKnown)) {
    if (Date.now() > deadline) throw new Error("the two nodes did not discover each other");
    await new Promise((r) => setTimeout(r, 50));
  }
}, 60_000);

afterAll(async () => {
  await Promise.all(nodes.map((n) => n.stop()));
  await db.drop();
  fs.rmSync(dataDir, { recursive: true, force: true });
});

it("clears every node's cached reads after a write on one of them", async () => {
  const [a, b] = nodes;
  const product: any = await a.call("products.create", { sku: "C-1", name: "Cached", price: 100, stock: 5, category: "c" });
  // Each node answers from its own service (preferLocal) and caches what it read.
  expect(await b.call("products.get", { id: product.id })).toMatchObject({ price: 100 });
  expect(await b.call("products.list", {})).toMatchObject({ total: 1 });

  await a.call("products.patch", { id: product.id, price: 150 });
  await a.call("products.setStock", { id: product.id, stock: 9 });
  // The clean event travels over NATS; give it the moment it needs.
  await new Promise((r) => setTimeout(r, 200));
  expect(await b.call("products.get", { id: product.id })).toMatchObject({ price: 150, stock: 9 });

  await a.call("products.reserveStock", { orderId: "o-1", lines: [{ productId: product.id, quantity: 4 }] });
  await new Promise((r) => setTimeout(r, 200));
  expect(await b.call("products.get", { id: product.id })).toMatchObject({ available: 5 });
});

it("drops only the moved product's cached read, and every cached list, when stock moves", async () => {
  const [a, b] = nodes;
  const moved: any = await a.call("products.create", { sku: "C-2", name: "Moving", price: 200, stock: 10, category: "c" });
  const still: any = await a.call("products.create", { sku: "C-3", name: "Still", price: 300, stock: 10, category: "c" });
  await new Promise((r) => setTimeout(r, 200));
  await b.call("products.get", { id: moved.id });
  await b.call("products.get", { id: still.id });
  const listed = (await b.call("products.list", { sort: "price" })) as any;
  expect(listed.items.find((p: any) => p.id === moved.id)).toMatchObject({ available: 10 });

  await a.call("products.reserveStock", { orderId: "o-2", lines: [{ productId: moved.id, quantity: 3 }] });
  await new Promise((r) => setTimeout(r, 200));
  // No keyspace clean: the other product's entry is still in node b's cache, the moved one's is gone.
  expect(await b.cacher!.get(`products.get:${still.id}`)).toMatchObject({ id: still.id });
  expect(await b.cacher!.get(`products.get:${moved.id}`)).toBeFalsy();
  expect(await b.call("products.get", { id: moved.id })).toMatchObject({ available: 7 });
  const relisted = (await b.call("products.list", { sort: "price" })) as any;
  expect(relisted.items.find((p: any) => p.id === moved.id)).toMatchObject({ available: 7 });
});
