/**
 * Checkout and payment through the gateway on the embedded shop: the whole flow, its failures,
 * refunds and the concurrency guarantees. Integration events travel through the outboxes and the
 * in-process bus, so effects on stock, orders and baskets arrive a moment after the payment.
 */
import { startShop, http, client, answer, type RunningShop } from "../support/shop";
import { waitFor } from "../support/processes";

let shop: RunningShop;
let admin: string;
const ids: Record<string, number> = {};
const api = (path: string) => `${shop.url}/api/v1${path}`;
/** The typed client (generated from the OpenAPI document) as the holder of this token. */
const as = (token: string) => client(shop, token);

async function signUp(email: string): Promise<string> {
  const anonymous = client(shop);
  await anonymous.POST("/api/v1/users/register", { body: { email, password: "checkout password", firstName: "C", lastName: "O" } });
  return (await anonymous.POST("/api/v1/users/login", { body: { email, password: "checkout password" } })).data!.accessToken;
}
const add = (token: string, productId: number, quantity: number) => answer(as(token).POST("/api/v1/basket/items", { body: { productId, quantity } }));
const checkout = (token: string, key: string, body: { note?: string } = {}) =>
  answer(as(token).POST("/api/v1/orders", { body, params: { header: { "Idempotency-Key": key } } }));
const startPayment = (token: string, orderId: string, key: string) =>
  answer(as(token).POST("/api/v1/payments", { body: { orderId }, params: { header: { "Idempotency-Key": key } } }));
const pay = (token: string, paymentId: string, paymentMethod: string) =>
  answer(as(token).POST("/api/v1/payments/{id}/process", { params: { path: { id: paymentId } }, body: { paymentMethod } }));
const product = async (id: number) => (await as(admin).GET("/api/v1/admin/products/{id}", { params: { path: { id } } })).data!;
const order = async (token: string, id: string) => (await as(token).GET("/api/v1/orders/{id}", { params: { path: { id } } })).data!;
const until = (what: string, probe: () => Promise<boolean>) => waitFor(probe, 10_000, what);

beforeAll(async () => {
  shop = await startShop({ ADMIN_EMAIL: "admin@checkout.test", ADMIN_PASSWORD: "admin password 1" });
  admin = (await http(api("/users/login"), { method: "POST", body: { email: "admin@checkout.test", password: "admin password 1" } })).body.accessToken;
  for (const p of [
    { sku: "MUG", name: "Blue mug", price: 1250, stock: 100, category: "kitchen" },
    { sku: "PAN", name: "Cast iron pan", price: 4999, stock: 10, category: "kitchen" },
    { sku: "RARE", name: "Rare print", price: 20000, stock: 1, category: "art" },
  ]) {
    ids[p.sku] = (await http(api("/admin/products"), { method: "POST", token: admin, body: p })).body.id;
  }
}, 30_000);
afterAll(() => shop.stop());

it("pays an order: order paid, stock reduced, basket empty", async () => {
  const token = await signUp("alice@checkout.test");
  await add(token, ids.MUG, 2);
  await add(token, ids.PAN, 1);
  const placed = await checkout(token, "alice-order-1");
  expect(placed.status).toBe(201);
  expect(placed.body).toMatchObject({ status: "pending_payment", total: 2 * 1250 + 4999, currency: "USD", itemCount: 3 });
  expect(await product(ids.MUG)).toMatchObject({ stock: 100, available: 98 });

  const payment = await startPayment(token, placed.body.id, "alice-pay-1");
  expect(payment).toMatchObject({ status: 201, body: { status: "pending", amount: 7499, currency: "USD" } });
  const paid = await pay(token, payment.body.id, "pm_card_visa");
  expect(paid).toMatchObject({ status: 200, body: { status: "completed" } });

  await until("the order to be paid", async () => (await order(token, placed.body.id)).status === "paid");
  await until("the stock to be committed", async () => (await product(ids.MUG)).stock === 98);
  expect(await product(ids.PAN)).toMatchObject({ stock: 9, available: 9 });
  await until("the basket to be emptied", async () => (await http(api("/basket"), { token })).body.itemCount === 0);
  const history = (await order(token, placed.body.id)).history.map((h) => h.to);
  expect(history).toEqual(["pending_payment", "paid"]);
  await until("the customer to be told", async () => (await http(api("/notifications"), { token })).body.length === 2);
  expect((await http(api("/notifications"), { token })).body.map((n: any) => n.eventType)).toEqual(["payment.completed", "order.created"]);
  // Paid is paid: processing again charges nothing and changes nothing.
  expect((await pay(token, payment.body.id, "pm_card_chargeDeclined")).body.status).toBe("completed");
});

it("fails a declined payment: order payment_failed and its stock back", async () => {
  const token = await signUp("bob@checkout.test");
  await add(token, ids.PAN, 2);
  const placed = await checkout(token, "bob-order-1");
  expect((await product(ids.PAN)).available).toBe(7);
  const payment = await startPayment(token, placed.body.id, "bob-pay-1");
  const declined = await pay(token, payment.body.id, "pm_card_chargeDeclined");
  expect(declined.body).toMatchObject({ status: "failed", failureReason: "card_declined" });
  await until("the order to fail", async () => (await order(token, placed.body.id)).status === "payment_failed");
  await until("the stock to come back", async () => (await product(ids.PAN)).available === 9);
  expect((await pay(token, payment.body.id, "pm_card_visa")).status).toBe(409); // a failed payment stays failed
});

it("refunds half, then the rest: order refunded, goods back in stock", async () => {
  const token = await signUp("carol@checkout.test");
  await add(token, ids.MUG, 4);
  const placed = await checkout(token, "carol-order-1");
  const payment = await startPayment(token, placed.body.id, "carol-pay-1");
  await pay(token, payment.body.id, "pm_card_visa");
  await until("the order to be paid", async () => (await order(token, placed.body.id)).status === "paid");
  const stockAfterSale = (await product(ids.MUG)).stock;

  const refund = (body: unknown, token_ = admin) => http(api(`/payments/${payment.body.id}/refund`), { method: "POST", token: token_, body });
  expect((await refund({ amount: 2500, reason: "half" }, token)).status).toBe(403); // admins only
  expect((await refund({ amount: 2500, reason: "half" })).body).toMatchObject({ status: "partially_refunded", refundedAmount: 2500 });
  await until("the order to be partially refunded", async () => (await order(token, placed.body.id)).status === "partially_refunded");
  expect((await refund({ amount: 2501, reason: "too much" })).body).toMatchObject({ code: 409, type: "REFUND_EXCEEDS_PAYMENT" });
  expect((await refund({ reason: "the rest" })).body).toMatchObject({ status: "refunded", refundedAmount: 5000 });
  expect((await refund({ amount: 1, reason: "more" })).status).toBe(409);
  await until("the order to be refunded", async () => (await order(token, placed.body.id)).status === "refunded");
  await until("the goods to be restocked", async () => (await product(ids.MUG)).stock === stockAfterSale + 4);
  expect((await order(token, placed.body.id)).refundedAmount).toBe(5000);
});

it("makes one order and one payment of 20 identical requests at once, and charges once for 50 confirmations", async () => {
  const token = await signUp("dave@checkout.test");
  await add(token, ids.MUG, 1);
  const orders = await Promise.all(Array.from({ length: 20 }, () => checkout(token, "dave-order-1")));
  expect(orders.every((r) => r.status === 200 || r.status === 201)).toBe(true);
  expect(new Set(orders.map((r) => r.body.id)).size).toBe(1);
  expect((await http(api("/orders"), { token })).body.total).toBe(1);
  expect((await checkout(token, "dave-order-1", { note: "different" })).body).toMatchObject({ code: 409, type: "IDEMPOTENCY_KEY_REUSED" });

  const orderId = orders[0].body.id;
  const payments = await Promise.all(Array.from({ length: 20 }, () => startPayment(token, orderId, "dave-pay-1")));
  expect(new Set(payments.map((r) => r.body.id)).size).toBe(1);
  expect((await startPayment(token, orderId, "dave-pay-2")).body).toMatchObject({ type: "PAYMENT_EXISTS" });

  const paymentId = payments[0].body.id;
  const confirmations = await Promise.all(Array.from({ length: 50 }, () => pay(token, paymentId, "pm_card_visa")));
  expect(confirmations.every((r) => r.status === 200 || (r.status === 409 && r.body.type === "PAYMENT_IN_PROGRESS"))).toBe(true);
  const provider = (shop.broker.getLocalService("payments") as any).provider;
  expect([...provider.charges.entries()].filter(([ref]: [string]) => ref.includes(paymentId))).toEqual([[`sim_pi_${paymentId}`, 1]]);
});

it("cancels an unpaid order and releases its stock", async () => {
  const token = await signUp("erin@checkout.test");
  await add(token, ids.RARE, 1);
  const placed = await checkout(token, "erin-order-1");
  expect((await product(ids.RARE)).available).toBe(0);
  const cancelled = await http(api(`/orders/${placed.body.id}/cancel`), { method: "POST", token });
  expect(cancelled.body.status).toBe("cancelled");
  await until("the stock to be released", async () => (await product(ids.RARE)).available === 1);
  expect((await http(api(`/orders/${placed.body.id}/cancel`), { method: "POST", token })).status).toBe(409);
});

it("answers bad checkouts with clear 4xx and changes nothing", async () => {
  const token = await signUp("frank@checkout.test");
  expect((await checkout(token, "frank-empty")).body).toMatchObject({ type: "EMPTY_BASKET", code: 409 });
  await add(token, ids.MUG, 1);
  expect((await http(api("/orders"), { method: "POST", token, body: {} })).status).toBe(400); // no Idempotency-Key
  expect((await checkout(token, "frank-x", { total: 1 } as { note?: string })).status).toBe(422); // no client-side amounts

  // Someone else takes the last rare print first: a 409 naming the line.
  const other = await signUp("grace@checkout.test");
  await add(other, ids.RARE, 1);
  await add(token, ids.RARE, 1);
  await checkout(other, "grace-order-1");
  const short = await checkout(token, "frank-order-1");
  expect(short).toMatchObject({ status: 409, body: { type: "INSUFFICIENT_STOCK" } });
  expect((short.body.data as { shortages: unknown[] }).shortages).toEqual([expect.objectContaining({ productId: ids.RARE, requested: 1, available: 0 })]);
  expect((await http(api("/orders"), { token })).body.total).toBe(0);
  expect((await product(ids.MUG)).available).toBe((await product(ids.MUG)).stock); // nothing reserved for frank
});

it("keeps orders and payments to their owners; admins see everything", async () => {
  const mallory = await signUp("mallory@checkout.test");
  const victim = await signUp("victor@checkout.test");
  await add(victim, ids.MUG, 1);
  const placed = await checkout(victim, "victor-order-1");
  const payment = await startPayment(victim, placed.body.id, "victor-pay-1");
  expect((await http(api(`/orders/${placed.body.id}`), { token: mallory })).status).toBe(404);
  expect((await http(api(`/orders/${placed.body.id}/cancel`), { method: "POST", token: mallory })).status).toBe(404);
  expect((await startPayment(mallory, placed.body.id, "mallory-pay")).status).toBe(404);
  expect((await http(api(`/payments/${payment.body.id}`), { token: mallory })).status).toBe(404);
  expect((await pay(mallory, payment.body.id, "pm_card_visa")).status).toBe(404);
  expect((await http(api(`/admin/orders/${placed.body.id}`), { token: admin })).body.id).toBe(placed.body.id);
  const userPayments = await http(api(`/admin/users/${placed.body.userId}/payments`), { token: admin });
  expect(userPayments.body.items.map((p: any) => p.id)).toEqual([payment.body.id]);
  const stats = await http(api("/admin/payments/stats"), { token: admin });
  expect(stats.body).toMatchObject({ count: expect.objectContaining({ completed: expect.any(Number), failed: expect.any(Number) }), revenue: { USD: expect.any(Number) } });
  expect(stats.body.successRate).toBeGreaterThan(0);
});

it("saves payment methods as provider tokens only", async () => {
  const token = await signUp("henry@checkout.test");
  const saved = await http(api("/payment-methods"), { method: "POST", token, body: { token: "pm_card_visa" } });
  expect(saved).toMatchObject({ status: 201, body: { brand: "visa", last4: "4242", isDefault: true } });
  const second = await http(api("/payment-methods"), { method: "POST", token, body: { token: "pm_card_mastercard" } });
  expect(second.body.isDefault).toBe(false);
  expect((await http(api("/payment-methods"), { method: "POST", token, body: { token: "pm_card_visa", cardNumber: "4242424242424242" } })).status).toBe(422);
  expect((await http(api("/payment-methods"), { method: "POST", token, body: { token: "pm_nonsense" } })).body).toMatchObject({ code: 404, type: "UNKNOWN_PAYMENT_METHOD" });
  await http(api(`/payment-methods/${second.body.id}/default`), { method: "POST", token });
  const list = (await http(api("/payment-methods"), { token })).body;
  expect(list.map((m: any) => [m.last4, m.isDefault])).toEqual([["4242", false], ["4444", true]]);
  expect(JSON.stringify(list)).not.toMatch(/4242424242424242/);
  expect((await http(api(`/payment-methods/${saved.body.id}`), { method: "DELETE", token })).status).toBe(204);
  const stranger = await signUp("ivy@checkout.test");
  expect((await http(api(`/payment-methods/${second.body.id}`), { method: "DELETE", token: stranger })).status).toBe(404);
});
