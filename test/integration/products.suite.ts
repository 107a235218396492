/**
 * The products service against one SQL database: every catalog query with the same expected
 * answers on each dialect, the admin rules, and stock reservations under concurrency.
 * Run by products.<dialect>.test.ts, one jest module registry (one configuration) per dialect.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import type { ServiceBroker } from "moleculer";
import { freshDatabase, type SqlKind, type TestDatabase } from "../support/databases";
import { random } from "../support/shop-model";

const CATALOG = [
  { sku: "MUG-BLUE", name: "Blue Mug", price: 1250, stock: 40, category: "kitchen" },
  { sku: "MUG-RED", name: "Red mug", price: 1250, stock: 3, category: "kitchen" },
  { sku: "PAN-CAST", name: "Cast iron pan", price: 4999, stock: 0, category: "kitchen" },
  { sku: "BOOK-DDD", name: "Domain-Driven Design", price: 5499, stock: 12, category: "books" },
  { sku: "BOOK-50", name: "50% off_guide", price: 999, stock: 1, category: "books" },
  { sku: "LAMP-1", name: "Desk lamp", price: 3500, stock: 8, category: "home" },
  { sku: "HIDDEN-1", name: "Hidden mug", price: 99999, stock: 5, category: "kitchen", isActive: false },
];

export function productSuite(kind: SqlKind): void {
  let db: TestDatabase;
  let broker: ServiceBroker;
  let dataDir: string;
  const ids: Record<string, number> = {};
  const call = <T = any>(action: string, params: Record<string, unknown> = {}): Promise<T> => broker.call(`products.${action}`, params);
  const failure = (p: Promise<unknown>) => p.then(() => Promise.reject(new Error("expected a failure")), (err) => err);

  beforeAll(async () => {
    db = await freshDatabase(kind);
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "shop-products-"));
    Object.assign(process.env, { PRODUCTS_DB_URL: db.url, DATA_DIR: dataDir, LOG_LEVEL: "warn", LOG_FORMAT: "text" });
    const { ServiceBroker } = await import("moleculer");
    const { default: brokerConfig } = await import("../../moleculer.config");
    const { default: ProductsService } = await import("../../services/products/products.service");
    broker = new ServiceBroker({ ...brokerConfig, nodeID: `products-${kind}`, transporter: null });
    broker.createService(ProductsService);
    await broker.start();
    for (const product of CATALOG) ids[product.sku] = (await call("create", product)).id;
  }, 60_000);

  afterAll(async () => {
    await broker?.stop();
    await db?.drop();
    fs.rmSync(dataDir, { recursive: true, force: true });
  });

  describe("catalog queries", () => {
    it("lists the active catalog with a deterministic order and the total", async () => {
      const page = await call("list", { limit: 4, offset: 0 });
      expect(page.total).toBe(6);
      expect(page.items.map((p: any) => p.sku)).toEqual(["MUG-BLUE", "MUG-RED", "PAN-CAST", "BOOK-DDD"]);
      const next = await call("list", { limit: 4, offset: 4 });
      expect(next.items.map((p: any) => p.sku)).toEqual(["BOOK-50", "LAMP-1"]);
    });

    it("sorts by price both ways with ties broken by id", async () => {
      const asc = await call("list", { sort: "price" });
      expect(asc.items.map((p: any) => p.sku)).toEqual(["BOOK-50", "MUG-BLUE", "MUG-RED", "LAMP-1", "PAN-CAST", "BOOK-DDD"]);
      const desc = await call("list", { sort: "-price" });
      expect(desc.items.map((p: any) => p.sku)).toEqual(["BOOK-DDD", "PAN-CAST", "LAMP-1", "MUG-BLUE", "MUG-RED", "BOOK-50"]);
    });

    it("filters by category and price range", async () => {
      const page = await call("list", { category: "kitchen", minPrice: 1000, maxPrice: 2000 });
      expect(page.items.map((p: any) => p.sku)).toEqual(["MUG-BLUE", "MUG-RED"]);
    });

    it("searches names case-insensitively, with % and _ matched literally", async () => {
      expect((await call("list", { q: "MUG" })).items.map((p: any) => p.sku)).toEqual(["MUG-BLUE", "MUG-RED"]);
      expect((await call("list", { q: "50%" })).items.map((p: any) => p.sku)).toEqual(["BOOK-50"]);
      expect((await call("list", { q: "%" })).items.map((p: any) => p.sku)).toEqual(["BOOK-50"]);
      expect((await call("list", { q: "o_f" })).total).toBe(0); // `_` is not a wildcard ("off" does not match)
      expect((await call("list", { q: "off_g" })).items.map((p: any) => p.sku)).toEqual(["BOOK-50"]);
    });

    it("answers the seeds' top-N and low-stock queries", async () => {
      expect((await call("topExpensive", { limit: 2 })).map((p: any) => p.sku)).toEqual(["BOOK-DDD", "PAN-CAST"]);
      expect((await call("topExpensive", {})).length).toBe(5);
      const low1 = await call("lowStock", { threshold: 1 });
      expect(low1.items.map((p: any) => p.sku)).toEqual(["PAN-CAST", "BOOK-50"]);
      const low10 = await call("lowStock", { threshold: 10 });
      expect(low10.items.map((p: any) => p.sku)).toEqual(["PAN-CAST", "BOOK-50", "MUG-RED", "LAMP-1"]);
    });

    it("lists by category, summarises categories and the catalog", async () => {
      expect((await call("byCategory", { category: "books", sort: "name" })).items.map((p: any) => p.sku)).toEqual(["BOOK-50", "BOOK-DDD"]);
      expect(await call("categories")).toEqual([
        { name: "books", count: 2, averagePrice: 3249 },
        { name: "home", count: 1, averagePrice: 3500 },
        { name: "kitchen", count: 3, averagePrice: 2500 },
      ]);
      expect(await call("stats")).toEqual({
        products: 6,
        categories: 3,
        averagePrice: 2916,
        inventoryValue: 40 * 1250 + 3 * 1250 + 0 + 12 * 5499 + 999 + 8 * 3500,
        lowStock: 3,
        outOfStock: 1,
        lowStockThreshold: 10,
      });
    });

    it("hides inactive products from the public catalog but not from admins", async () => {
      expect(await failure(call("get", { id: ids["HIDDEN-1"] }))).toMatchObject({ code: 404, type: "PRODUCT_NOT_FOUND" });
      expect((await call("adminGet", { id: ids["HIDDEN-1"] })).isActive).toBe(false);
      expect((await call("adminList", { isActive: false })).items.map((p: any) => p.sku)).toEqual(["HIDDEN-1"]);
    });
  });

  describe("admin writes", () => {
    it("refuses a duplicate SKU, a fractional price and unknown fields with clear 4xx", async () => {
      expect(await failure(call("create", { sku: "MUG-BLUE", name: "x", price: 1, category: "c" }))).toMatchObject({ code: 409, type: "SKU_TAKEN" });
      expect(await failure(call("create", { sku: "NEW-1", name: "x", price: 12.5, category: "c" }))).toMatchObject({ code: 422 });
      expect(await failure(call("create", { sku: "NEW-1", name: "x", price: "1250", category: "c" }))).toMatchObject({ code: 422 });
      expect(await failure(call("replace", { id: ids["LAMP-1"], sku: "LAMP-1", name: "x", price: 1, category: "c", stock: 5 }))).toMatchObject({ code: 422 });
      expect(await failure(call("patch", { id: ids["LAMP-1"] }))).toMatchObject({ code: 422 });
      expect((await call("adminGet", { id: ids["LAMP-1"] })).name).toBe("Desk lamp"); // nothing changed
    });

    it("patches, replaces and deletes, and every change shows through the cache", async () => {
      const before = await call("get", { id: ids["LAMP-1"] }); // now cached
      expect(before.price).toBe(3500);
      await call("patch", { id: ids["LAMP-1"], price: 3000 });
      expect((await call("get", { id: ids["LAMP-1"] })).price).toBe(3000);
      await call("replace", { id: ids["LAMP-1"], sku: "LAMP-1", name: "Desk lamp", price: 3500, category: "home" });
      expect((await call("get", { id: ids["LAMP-1"] })).price).toBe(3500);

      const temp = await call("create", { sku: "TEMP-1", name: "Temporary", price: 100, category: "misc" });
      expect(temp).toMatchObject({ stock: 0, currency: "USD", isActive: true });
      await call("remove", { id: temp.id });
      expect(await failure(call("adminGet", { id: temp.id }))).toMatchObject({ code: 404 });
      expect(await failure(call("remove", { id: temp.id }))).toMatchObject({ code: 404 });
    });
  });

  describe("stock reservations", () => {
    it("takes all lines or none, and says which lines are short", async () => {
      const err = await failure(
        call("reserveStock", { orderId: "order-short", lines: [{ productId: ids["MUG-BLUE"], quantity: 2 }, { productId: ids["MUG-RED"], quantity: 5 }, { productId: 999999, quantity: 1 }] }),
      );
      expect(err).toMatchObject({ code: 409, type: "INSUFFICIENT_STOCK" });
      expect(err.data.shortages).toEqual([
        { productId: ids["MUG-RED"], requested: 5, available: 3, reason: "insufficient_stock" },
        { productId: 999999, requested: 1, available: 0, reason: "not_found" },
      ]);
      expect((await call("get", { id: ids["MUG-BLUE"] })).available).toBe(40); // nothing was taken
    });

    it("reserves idempotently per order, then commits: stock goes down once", async () => {
      const lines = [{ productId: ids["MUG-RED"], quantity: 1 }, { productId: ids["MUG-RED"], quantity: 1 }];
      const first = await call("reserveStock", { orderId: "order-1", lines });
      expect(first).toMatchObject({ orderId: "order-1", status: "active", lines: [{ productId: ids["MUG-RED"], quantity: 2 }] });
      const again = await call("reserveStock", { orderId: "order-1", lines });
      expect(again.lines).toEqual(first.lines);
      expect(await call("get", { id: ids["MUG-RED"] })).toMatchObject({ stock: 3, available: 1 });

      expect((await call("commitReservation", { orderId: "order-1" })).status).toBe("committed");
      expect((await call("commitReservation", { orderId: "order-1" })).status).toBe("committed");
      expect(await call("get", { id: ids["MUG-RED"] })).toMatchObject({ stock: 1, available: 1 });
      expect(await failure(call("releaseReservation", { orderId: "order-1" }))).toMatchObject({ code: 409, type: "RESERVATION_COMMITTED" });
      // Each movement wrote its stock event in its own transaction, once.
      const service: any = broker.getLocalService("products");
      const rows = await service.sequelize.query("SELECT type FROM outbox WHERE message_key = 'order-1' ORDER BY seq", { type: "SELECT" });
      expect(rows.map((r: any) => r.type)).toEqual(["stock.reserved", "stock.updated"]);
    });

    it("releases: stock comes back, and a released reservation cannot be committed", async () => {
      await call("reserveStock", { orderId: "order-2", lines: [{ productId: ids["BOOK-DDD"], quantity: 5 }] });
      expect((await call("get", { id: ids["BOOK-DDD"] })).available).toBe(7);
      expect((await call("releaseReservation", { orderId: "order-2" })).status).toBe("released");
      expect((await call("releaseReservation", { orderId: "order-2" })).status).toBe("released");
      expect(await call("get", { id: ids["BOOK-DDD"] })).toMatchObject({ stock: 12, available: 12 });
      expect(await failure(call("commitReservation", { orderId: "order-2" }))).toMatchObject({ code: 409, type: "RESERVATION_RELEASED" });
      expect(await failure(call("commitReservation", { orderId: "never-reserved" }))).toMatchObject({ code: 404 });
    });

    it("keeps stock above what is reserved and reserved products from deletion", async () => {
      await call("reserveStock", { orderId: "order-3", lines: [{ productId: ids["LAMP-1"], quantity: 6 }] });
      expect(await failure(call("setStock", { id: ids["LAMP-1"], stock: 5 }))).toMatchObject({ code: 409, type: "STOCK_BELOW_RESERVED" });
      expect((await call("setStock", { id: ids["LAMP-1"], stock: 6 })).available).toBe(0);
      expect(await failure(call("remove", { id: ids["LAMP-1"] }))).toMatchObject({ code: 409, type: "PRODUCT_IN_USE" });
      await call("releaseReservation", { orderId: "order-3" });
    });

    it("settles a reservation once per event in one statement on PostgreSQL, and steps aside when its rows moved meanwhile", async () => {
      const service: any = broker.getLocalService("products");
      const inventory = service.inventory;
      const claim = (eventId: string) => ({ consumer: "products-test", eventId });
      const outboxTypes = async (orderId: string) =>
        (await service.sequelize.query(`SELECT type FROM outbox WHERE message_key = '${orderId}' ORDER BY seq`, { type: "SELECT" })).map((r: any) => r.type);
      const claimed = async (eventId: string) =>
        (await service.sequelize.query(`SELECT event_id FROM processed_events WHERE event_id = '${eventId}'`, { type: "SELECT" })).length;
      const before = await call("adminGet", { id: ids["BOOK-DDD"] });
      await call("reserveStock", { orderId: "once-1", lines: [{ productId: ids["BOOK-DDD"], quantity: 2 }] });

      const settled = await inventory.settleOnce(claim("event-1"), "once-1", "committed");
      if (kind !== "postgres") {
        expect(settled).toBeUndefined(); // the transactional way, elsewhere
        return;
      }
      expect(settled).toMatchObject({ orderId: "once-1", status: "committed", lines: [{ productId: ids["BOOK-DDD"], quantity: 2 }] });
      expect(await call("adminGet", { id: ids["BOOK-DDD"] })).toMatchObject({ stock: before.stock - 2, reserved: before.reserved });
      expect(await outboxTypes("once-1")).toEqual(["stock.reserved", "stock.updated"]);
      // Not active any more (a redelivery, a late release): the transactional way decides.
      expect(await inventory.settleOnce(claim("event-1"), "once-1", "committed")).toBeUndefined();
      expect(await inventory.settleOnce(claim("event-2"), "once-1", "released")).toBeUndefined();
      expect(await call("adminGet", { id: ids["BOOK-DDD"] })).toMatchObject({ stock: before.stock - 2, reserved: before.reserved });
      // An event applied before its reservation existed (a release overtaking the order) is not applied again.
      const { processOnce } = await import("../../lib/events/stores");
      await processOnce(service.sequelize, "products-test", "event-early", async () => undefined);
      await call("reserveStock", { orderId: "once-3", lines: [{ productId: ids["BOOK-DDD"], quantity: 1 }] });
      expect(await inventory.settleOnce(claim("event-early"), "once-3", "released")).toBe("duplicate");
      expect(await call("adminGet", { id: ids["BOOK-DDD"] })).toMatchObject({ reserved: before.reserved + 1 });
      await call("releaseReservation", { orderId: "once-3" });

      // Released between settleOnce's read and its statement: the statement writes nothing, not even the claim.
      await call("reserveStock", { orderId: "once-2", lines: [{ productId: ids["BOOK-DDD"], quantity: 1 }] });
      const read = inventory.rowsOf;
      inventory.rowsOf = async (orderId: string) => {
        const rows = await read.call(inventory, orderId);
        inventory.rowsOf = read;
        await inventory.release(orderId);
        return rows;
      };
      try {
        expect(await inventory.settleOnce(claim("event-3"), "once-2", "committed")).toBeUndefined();
      } finally {
        inventory.rowsOf = read;
      }
      expect(await claimed("event-3")).toBe(0);
      expect(await outboxTypes("once-2")).toEqual(["stock.reserved", "stock.released"]);
      expect(await call("adminGet", { id: ids["BOOK-DDD"] })).toMatchObject({ stock: before.stock - 2, reserved: before.reserved });
    });

    it("releases expired reservations in the sweep", async () => {
      const { Inventory } = await import("../../services/products/inventory");
      const service: any = broker.getLocalService("products");
      let now = new Date();
      const inventory = new Inventory(service.sequelize, 60_000, () => now);
      await inventory.reserve("order-expiring", [{ productId: ids["MUG-BLUE"], quantity: 4 }]);
      expect(await inventory.releaseExpired()).toEqual([]);
      now = new Date(Date.now() + 61_000);
      expect((await inventory.releaseExpired()).map((r) => r.orderId)).toEqual(["order-expiring"]);
      expect(await call("adminGet", { id: ids["MUG-BLUE"] })).toMatchObject({ stock: 40, available: 40 });
    });

    it("never oversells: 200 concurrent reservations of 1 unit against a stock of 50 give exactly 50", async () => {
      const product = await call("create", { sku: "RUSH-1", name: "Limited edition", price: 100, stock: 50, category: "rush" });
      const results = await Promise.allSettled(
        Array.from({ length: 200 }, (_, i) => call("reserveStock", { orderId: `rush-${i}`, lines: [{ productId: product.id, quantity: 1 }] })),
      );
      const won = results.filter((r) => r.status === "fulfilled");
      const lost = results.filter((r): r is PromiseRejectedResult => r.status === "rejected");
      expect(won.length).toBe(50);
      expect(lost.every((r) => r.reason.type === "INSUFFICIENT_STOCK")).toBe(true);

      const service: any = broker.getLocalService("products");
      const { main: Product, reservations: StockReservation } = service.models;
      const row = await Product.findByPk(product.id, { raw: true });
      expect({ stock: row.stock, reserved: row.reserved }).toEqual({ stock: 50, reserved: 50 });
      expect(await StockReservation.sum("quantity", { where: { productId: product.id, status: "active" } })).toBe(50);

      // Committing every winner empties the stock exactly; nothing goes below zero.
      const winners = results.flatMap((r, i) => (r.status === "fulfilled" ? [`rush-${i}`] : []));
      await Promise.all(winners.map((orderId) => call("commitReservation", { orderId })));
      const after = await Product.findByPk(product.id, { raw: true });
      expect({ stock: after.stock, reserved: after.reserved }).toEqual({ stock: 0, reserved: 0 });
      expect(await failure(call("reserveStock", { orderId: "rush-late", lines: [{ productId: product.id, quantity: 1 }] }))).toMatchObject({ code: 409 });
    }, 60_000);

    it.each([1, 2, 3])("takes concurrent orders of several lines over shared products all or nothing, never past the stock (seed %i)", async (seed) => {
      const draw = random(seed);
      const products = await Promise.all([0, 1, 2, 3].map((k) => call("create", { sku: `MIX-${seed}-${k}`, name: `Mixed ${k}`, price: 100, stock: 12, category: "mix" })));
      // 60 orders of 1 to 3 lines (a product may come twice), in random product order.
      const orders = Array.from({ length: 60 }, (_, i) => ({
        orderId: `mix-${seed}-${i}`,
        lines: Array.from({ length: 1 + Math.floor(draw() * 3) }, () => ({ productId: products[Math.floor(draw() * 4)].id, quantity: 1 + Math.floor(draw() * 3) })),
      }));
      const results = await Promise.allSettled(orders.map((o) => call("reserveStock", o)));
      const refused = results.filter((r): r is PromiseRejectedResult => r.status === "rejected").map((r) => r.reason);
      expect(refused.filter((err) => err.type !== "INSUFFICIENT_STOCK")).toEqual([]); // no deadlock, no error but a shortage
      const service: any = broker.getLocalService("products");
      const { main: Product, reservations: StockReservation } = service.models;
      const reservedRows = await StockReservation.findAll({ where: { orderId: orders.map((o) => o.orderId) }, raw: true });
      const wantedOf = (o: (typeof orders)[number]) =>
        o.lines.reduce((sum: Map<number, number>, l) => sum.set(l.productId, (sum.get(l.productId) ?? 0) + l.quantity), new Map<number, number>());
      const expected = new Map<number, number>();
      results.forEach((r, i) => {
        const rows = reservedRows.filter((row: any) => row.orderId === orders[i].orderId);
        const wanted = wantedOf(orders[i]);
        // All lines or none.
        expect(rows.map((row: any) => [row.productId, row.quantity]).sort()).toEqual(r.status === "fulfilled" ? [...wanted].sort() : []);
        if (r.status === "fulfilled") for (const [id, q] of wanted) expected.set(id, (expected.get(id) ?? 0) + q);
      });
      for (const p of products) {
        const row = await Product.findByPk(p.id, { raw: true });
        expect({ id: p.id, reserved: row.reserved }).toEqual({ id: p.id, reserved: expected.get(p.id) ?? 0 });
        expect(row.reserved).toBeLessThanOrEqual(row.stock);
      }
      expect(refused.length).toBeGreaterThan(0); // the stock ran out: the shortage path was taken too
    }, 60_000);
  });
}
