/** Baskets through the gateway, tried as a new user would on the embedded shop (memory store). */
import { startShop, http, signedIn, type RunningShop } from "../support/shop";

let shop: RunningShop;
let user: string;
let otherUser: string;
let admin: string;
let userA: string;
let userB: string;
const ids: Record<string, number> = {};
const api = (path: string) => `${shop.url}/api/v1${path}`;

beforeAll(async () => {
  shop = await startShop();
  ({ id: userA, token: user } = await signedIn(shop, "user-a@baskets.test"));
  ({ id: userB, token: otherUser } = await signedIn(shop, "user-b@baskets.test"));
  admin = (await signedIn(shop, "admin-1@baskets.test", "admin")).token;
  for (const p of [
    { sku: "MUG", name: "Blue mug", price: 1250, stock: 500, category: "kitchen" },
    { sku: "PAN", name: "Cast iron pan", price: 4999, stock: 3, category: "kitchen" },
    { sku: "EUR", name: "Euro kettle", price: 3000, stock: 5, category: "kitchen", currency: "EUR" },
    { sku: "OLD", name: "Retired", price: 100, stock: 5, category: "kitchen", isActive: false },
  ]) {
    ids[p.sku] = (await http(api("/admin/products"), { method: "POST", token: admin, body: p })).body.id;
  }
});
afterAll(() => shop.stop());

it("builds a basket from catalog prices: add two products, change a quantity, remove one", async () => {
  expect((await http(api("/basket"), { token: user })).body).toEqual({ userId: userA, items: [], itemCount: 0, total: 0, currency: null, expiresAt: null });

  await http(api("/basket/items"), { method: "POST", token: user, body: { productId: ids.MUG, quantity: 2 } });
  const two = await http(api("/basket/items"), { method: "POST", token: user, body: { productId: ids.PAN, quantity: 1 } });
  expect(two.status).toBe(200);
  expect(two.body).toMatchObject({ itemCount: 3, total: 2 * 1250 + 4999, currency: "USD" });
  expect(two.body.items).toEqual([
    { productId: ids.MUG, name: "Blue mug", unitPrice: 1250, currency: "USD", quantity: 2, lineTotal: 2500 },
    { productId: ids.PAN, name: "Cast iron pan", unitPrice: 4999, currency: "USD", quantity: 1, lineTotal: 4999 },
  ]);
  expect(new Date(two.body.expiresAt).getTime()).toBeGreaterThan(Date.now() + 86_000_000);

  const changed = await http(api(`/basket/items/${ids.MUG}`), { method: "PUT", token: user, body: { quantity: 5 } });
  expect(changed.body).toMatchObject({ itemCount: 6, total: 5 * 1250 + 4999 });
  const removed = await http(api(`/basket/items/${ids.PAN}`), { method: "DELETE", token: user });
  expect(removed.body).toMatchObject({ itemCount: 5, total: 6250 });
  expect((await http(api(`/basket/items/${ids.MUG}`), { method: "PUT", token: user, body: { quantity: 0 } })).body.items).toEqual([]);
});

it("refuses client prices, unknown or inactive products, too much stock and a second currency", async () => {
  const post = (body: unknown) => http(api("/basket/items"), { method: "POST", token: user, body });
  expect((await post({ productId: ids.MUG, quantity: 1, unitPrice: 1 })).status).toBe(422);
  expect((await post({ productId: ids.MUG, quantity: 0 })).status).toBe(422);
  expect((await post({ productId: ids.MUG, quantity: 1.5 })).status).toBe(422);
  expect((await post({ productId: 999999, quantity: 1 })).status).toBe(404);
  expect((await post({ productId: ids.OLD, quantity: 1 })).status).toBe(404);
  await post({ productId: ids.PAN, quantity: 2 });
  const tooMany = await post({ productId: ids.PAN, quantity: 2 }); // 2 + 2 > 3 in stock
  expect(tooMany).toMatchObject({ status: 409, body: { type: "INSUFFICIENT_STOCK", data: { requested: 4, available: 3 } } });
  expect((await post({ productId: ids.EUR, quantity: 1 })).body).toMatchObject({ type: "CURRENCY_MISMATCH" });
  expect((await http(api("/basket"), { token: user })).body.itemCount).toBe(2); // nothing changed
  expect((await http(api("/basket"), { method: "DELETE", token: user })).status).toBe(204);
});

it("gives each user their own basket; admins reach anyone's", async () => {
  await http(api("/basket/items"), { method: "POST", token: user, body: { productId: ids.MUG, quantity: 1 } });
  expect((await http(api("/basket"), { token: otherUser })).body).toMatchObject({ userId: userB, items: [] });
  expect((await http(api(`/admin/baskets/${userA}`), { token: otherUser })).status).toBe(403);
  expect((await http(api(`/admin/baskets/${userA}`), { token: admin })).body).toMatchObject({ userId: userA, itemCount: 1 });
  expect((await http(api(`/admin/baskets/${userA}`), { method: "DELETE", token: admin })).status).toBe(204);
  expect((await http(api("/basket"), { token: user })).body.items).toEqual([]);
});

it("keeps all of 100 parallel adds of one unit", async () => {
  const adds = await Promise.all(Array.from({ length: 100 }, () => http(api("/basket/items"), { method: "POST", token: otherUser, body: { productId: ids.MUG, quantity: 1 } })));
  expect(adds.every((r) => r.status === 200)).toBe(true);
  expect((await http(api("/basket"), { token: otherUser })).body.items[0].quantity).toBe(100);
});

it("empties the owner's basket once when their order is paid", async () => {
  await http(api("/basket/items"), { method: "POST", token: user, body: { productId: ids.MUG, quantity: 1 } });
  const baskets: any = shop.broker.getLocalService("baskets");
  const event = { id: "evt-order-paid-1", type: "order.paid" as const, data: { userId: userA, orderId: "order-1", paymentId: "pay-1" } };
  expect(await baskets.onOrderPaid(event)).toBe("applied");
  expect((await http(api("/basket"), { token: user })).body.items).toEqual([]);
  await http(api("/basket/items"), { method: "POST", token: user, body: { productId: ids.MUG, quantity: 1 } });
  expect(await baskets.onOrderPaid(event)).toBe("duplicate");
  expect((await http(api("/basket"), { token: user })).body.itemCount).toBe(1);
});
