/**
 * The catalog through the gateway, as an admin fills it and a shopper browses it (embedded shop),
 * with the typed client generated from the OpenAPI document (lib/http/client.ts).
 */
import { startShop, signedIn, client, type RunningShop } from "../support/shop";
import type { ShopClient } from "../../lib/http/client";

let shop: RunningShop;
let admin: ShopClient;
let shopper: ShopClient;

beforeAll(async () => {
  shop = await startShop();
  admin = client(shop, (await signedIn(shop, "admin@catalog.test", "admin")).token);
  shopper = client(shop);
});
afterAll(() => shop.stop());

const create = (body: { sku: string; name: string; price: number; stock?: number; category: string; description?: string }) =>
  admin.POST("/api/v1/admin/products", { body });

it("lets an admin fill the catalog and a shopper browse it", async () => {
  const mug = await create({ sku: "MUG-1", name: "Blue mug", price: 1250, stock: 10, category: "kitchen", description: "Holds tea" });
  expect(mug.response.status).toBe(201);
  expect(mug.response.headers.get("location")).toBe(`/api/v1/products/${mug.data!.id}`);
  expect(mug.data).toMatchObject({ id: expect.any(Number), price: 1250, currency: "USD", available: 10 });
  const pan = await create({ sku: "PAN-1", name: "  Pan ", price: 4999, stock: 2, category: "kitchen" });
  expect(pan.response.status).toBe(201);
  expect(pan.data!.name).toBe("Pan"); // names are stored trimmed
  const panId = pan.data!.id;

  const list = await shopper.GET("/api/v1/products", { params: { query: { category: "kitchen", sort: "-price" } } });
  expect(list.response.status).toBe(200);
  expect(list.data).toMatchObject({ total: 2, limit: 20, offset: 0 });
  expect(list.data!.items.map((p) => p.sku)).toEqual(["PAN-1", "MUG-1"]);

  expect((await shopper.GET("/api/v1/products/{id}", { params: { path: { id: mug.data!.id } } })).data!.name).toBe("Blue mug");
  expect((await shopper.GET("/api/v1/products/top-expensive", { params: { query: { limit: 1 } } })).data!.map((p) => p.sku)).toEqual(["PAN-1"]);
  expect((await shopper.GET("/api/v1/products/top-5")).data!.map((p) => p.sku)).toEqual(["PAN-1", "MUG-1"]);
  expect((await shopper.GET("/api/v1/products/low-stock", { params: { query: { threshold: 2 } } })).data!.items.map((p) => p.sku)).toEqual(["PAN-1"]);
  expect((await shopper.GET("/api/v1/products/low-stock-10")).data!.items.map((p) => p.sku)).toEqual(["PAN-1", "MUG-1"]);
  expect((await shopper.GET("/api/v1/products/category/{category}", { params: { path: { category: "kitchen" } } })).data!.total).toBe(2);
  expect((await shopper.GET("/api/v1/products/categories")).data).toEqual([{ name: "kitchen", count: 2, averagePrice: 3125 }]);
  expect((await shopper.GET("/api/v1/products/stats")).data).toMatchObject({ products: 2, categories: 1, inventoryValue: 10 * 1250 + 2 * 4999 });

  // Stock and deactivation show at once, cache or not.
  const stock = await admin.PUT("/api/v1/admin/products/{id}/stock", { params: { path: { id: panId } }, body: { stock: 7 } });
  expect(stock.data).toMatchObject({ stock: 7, available: 7, reserved: 0 });
  expect((await shopper.GET("/api/v1/products/{id}", { params: { path: { id: panId } } })).data!.stock).toBe(7);
  await admin.PATCH("/api/v1/admin/products/{id}", { params: { path: { id: panId } }, body: { isActive: false } });
  expect((await shopper.GET("/api/v1/products/{id}", { params: { path: { id: panId } } })).response.status).toBe(404);
  expect((await shopper.GET("/api/v1/products")).data!.total).toBe(1);

  const removed = await admin.DELETE("/api/v1/admin/products/{id}", { params: { path: { id: panId } } });
  expect(removed.response.status).toBe(204);

  // PUT replaces: what it does not send goes back to its default (the description to null).
  const replaced = await admin.PUT("/api/v1/admin/products/{id}", { params: { path: { id: mug.data!.id } }, body: { sku: "MUG-1", name: "Blue mug", price: 1300, category: "kitchen" } });
  expect(replaced.data).toMatchObject({ price: 1300, description: null, imageUrl: null });
});

it("answers bad input with a clear 4xx and changes nothing", async () => {
  const bad = await create({ sku: "BAD 1", name: "", price: -5, category: "x", stock: 1.5 });
  expect(bad.response.status).toBe(422);
  expect([...new Set((bad.error!.data as { field: string }[]).map((d) => d.field))].sort()).toEqual(["name", "price", "sku", "stock"]);
  const dup = await create({ sku: "MUG-1", name: "Again", price: 1, category: "x" });
  expect(dup.error).toMatchObject({ code: 409, type: "SKU_TAKEN" });
  const nothing = await admin.PATCH("/api/v1/admin/products/{id}", { params: { path: { id: 1 } }, body: {} });
  expect(nothing.response.status).toBe(422);
  expect((await shopper.GET("/api/v1/products/{id}", { params: { path: { id: "abc" as unknown as number } } })).response.status).toBe(422);
  expect((await shopper.GET("/api/v1/products/{id}", { params: { path: { id: 424242 } } })).response.status).toBe(404);
  expect((await shopper.GET("/api/v1/products", { params: { query: { minPrice: -1 } } })).response.status).toBe(422);
  expect((await shopper.GET("/api/v1/products", { params: { query: { q: "x".repeat(101) } } })).response.status).toBe(422);
  expect((await shopper.GET("/api/v1/products")).data!.total).toBe(1);
});
