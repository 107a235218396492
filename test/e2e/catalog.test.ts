/** The catalog through the gateway, as an admin fills it and a shopper browses it (embedded shop). */
import { startShop, http, signedIn, type RunningShop } from "../support/shop";

let shop: RunningShop;
let admin: string;

beforeAll(async () => {
  shop = await startShop();
  admin = (await signedIn(shop, "admin@catalog.test", "admin")).token;
});
afterAll(() => shop.stop());

const api = (path: string) => `${shop.url}/api/v1${path}`;

it("lets an admin fill the catalog and a shopper browse it", async () => {
  const mug = await http(api("/admin/products"), {
    method: "POST",
    token: admin,
    body: { sku: "MUG-1", name: "Blue mug", price: 1250, stock: 10, category: "kitchen", description: "Holds tea" },
  });
  expect(mug.status).toBe(201);
  expect(mug.body).toMatchObject({ id: expect.any(Number), price: 1250, currency: "USD", available: 10 });
  const pan = await http(api("/admin/products"), { method: "POST", token: admin, body: { sku: "PAN-1", name: "Pan", price: 4999, stock: 2, category: "kitchen" } });
  expect(pan.status).toBe(201);

  const list = await http(api("/products?category=kitchen&sort=-price"));
  expect(list.status).toBe(200);
  expect(list.body).toMatchObject({ total: 2, limit: 20, offset: 0 });
  expect(list.body.items.map((p: any) => p.sku)).toEqual(["PAN-1", "MUG-1"]);

  expect((await http(api(`/products/${mug.body.id}`))).body.name).toBe("Blue mug");
  expect((await http(api("/products/top-expensive?limit=1"))).body.map((p: any) => p.sku)).toEqual(["PAN-1"]);
  expect((await http(api("/products/low-stock?threshold=2"))).body.items.map((p: any) => p.sku)).toEqual(["PAN-1"]);
  expect((await http(api("/products/category/kitchen"))).body.total).toBe(2);
  expect((await http(api("/products/categories"))).body).toEqual([{ name: "kitchen", count: 2, averagePrice: 3125 }]);
  expect((await http(api("/products/stats"))).body).toMatchObject({ products: 2, categories: 1, inventoryValue: 10 * 1250 + 2 * 4999 });

  // Stock and deactivation show at once, cache or not.
  const stock = await http(api(`/admin/products/${pan.body.id}/stock`), { method: "PUT", token: admin, body: { stock: 7 } });
  expect(stock).toMatchObject({ status: 200, body: { stock: 7, available: 7 } });
  expect((await http(api(`/products/${pan.body.id}`))).body.stock).toBe(7);
  await http(api(`/admin/products/${pan.body.id}`), { method: "PATCH", token: admin, body: { isActive: false } });
  expect((await http(api(`/products/${pan.body.id}`))).status).toBe(404);
  expect((await http(api("/products"))).body.total).toBe(1);

  const removed = await http(api(`/admin/products/${pan.body.id}`), { method: "DELETE", token: admin });
  expect(removed.status).toBe(204);
});

it("answers bad input with a clear 4xx and changes nothing", async () => {
  const bad = await http(api("/admin/products"), { method: "POST", token: admin, body: { sku: "BAD 1", name: "", price: -5, category: "x", stock: 1.5 } });
  expect(bad.status).toBe(422);
  expect([...new Set(bad.body.data.map((d: any) => d.field))].sort()).toEqual(["name", "price", "sku", "stock"]);
  const dup = await http(api("/admin/products"), { method: "POST", token: admin, body: { sku: "MUG-1", name: "Again", price: 1, category: "x" } });
  expect(dup).toMatchObject({ status: 409, body: { type: "SKU_TAKEN" } });
  expect((await http(api("/products/abc"))).status).toBe(422);
  expect((await http(api("/products/424242"))).status).toBe(404);
  expect((await http(api("/products?minPrice=-1"))).status).toBe(422);
  expect((await http(api("/products?q=" + "x".repeat(101)))).status).toBe(422);
  expect((await http(api("/products"))).body.total).toBe(1);
});
