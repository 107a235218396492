/**
 * Money and stock under lapses and races, on the embedded shop (regressions of issue 10, each of
 * which failed before): a lapsed reservation is never sold twice, a late charge is refunded,
 * concurrent refunds keep the ledger, a cancel racing a payment keeps no charge, and one customer
 * cannot lock up the stock. Reservations last 2 s here, so lapses happen within a test.
 */
import Stripe from "stripe";
import { startShop, http, type RunningShop } from "../support/shop";
import { waitFor } from "../support/processes";
import { LAPSING_ORDERS } from "../support/shop-model";

const SECRET = "whsec_money_and_stock";
let shop: RunningShop;
let admin: string;
const api = (path: string) => `${shop.url}/api/v1${path}`;
const until = (what: string, probe: () => Promise<boolean>) => waitFor(probe, 15_000, what);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
let users = 0;

beforeAll(async () => {
  shop = await startShop({
    ...LAPSING_ORDERS,
    STRIPE_WEBHOOK_SECRET: SECRET,
    ADMIN_EMAIL: "admin@money.test",
    ADMIN_PASSWORD: "admin password 1",
  });
  admin = (await http(api("/users/login"), { method: "POST", body: { email: "admin@money.test", password: "admin password 1" } })).body.accessToken;
}, 30_000);
afterAll(() => shop.stop());

async function customer(): Promise<string> {
  const email = `customer${++users}@money.test`;
  await http(api("/users/register"), { method: "POST", body: { email, password: "money password", firstName: "M", lastName: "S" } });
  return (await http(api("/users/login"), { method: "POST", body: { email, password: "money password" } })).body.accessToken;
}
async function newProduct(stock: number, price = 1000): Promise<number> {
  const sku = `P-${users}-${Math.random().toString(36).slice(2, 8)}`;
  return (await http(api("/admin/products"), { method: "POST", token: admin, body: { sku, name: sku, price, stock, category: "money" } })).body.id;
}
const keyed = (key: string) => ({ "idempotency-key": key });
async function orderOf(token: string, productId: number, quantity = 1) {
  await http(api("/basket/items"), { method: "POST", token, body: { productId, quantity } });
  return http(api("/orders"), { method: "POST", token, body: {}, headers: keyed(`order-${Math.random()}`) });
}
async function paymentFor(token: string, orderId: string) {
  return (await http(api("/payments"), { method: "POST", token, body: { orderId }, headers: keyed(`pay-${orderId}`) })).body;
}
const pay = (token: string, paymentId: string, paymentMethod = "pm_card_visa") => http(api(`/payments/${paymentId}/process`), { method: "POST", token, body: { paymentMethod } });
const product = async (id: number) => (await http(api(`/admin/products/${id}`), { token: admin })).body;
const adminOrder = async (id: string) => (await http(api(`/admin/orders/${id}`), { token: admin })).body;
const adminPayment = async (id: string) => (await http(api(`/admin/payments/${id}`), { token: admin })).body;
const charges = (paymentId: string) => (shop.broker.getLocalService("payments") as any).provider.charges.get(`sim_pi_${paymentId}`) ?? 0;
async function deadLetters(): Promise<unknown[]> {
  const all = await Promise.all(["products", "orders", "payments", "notifications", "baskets"].map((s) => shop.broker.call(`${s}.deadLetters`) as Promise<unknown[]>));
  return all.flat();
}

function webhook(type: string, object: Record<string, unknown>) {
  const body = JSON.stringify({ id: `evt_${Math.random().toString(36).slice(2)}`, object: "event", type, data: { object } });
  const signature = Stripe.webhooks.generateTestHeaderString({ payload: body, secret: SECRET });
  return fetch(api("/payments/webhooks/stripe"), { method: "POST", headers: { "content-type": "application/json", "stripe-signature": signature }, body });
}

it("never sells a lapsed reservation's unit twice: the late payer is refused before any charge", async () => {
  const rare = await newProduct(1);
  const first = await customer();
  const placed = await orderOf(first, rare);
  expect(placed.body).toMatchObject({ status: "pending_payment", payBy: expect.any(String) });
  const payment = await paymentFor(first, placed.body.id);

  // Past payBy and the grace: the order expires and its unit goes back on the shelf.
  await until("the first order to expire", async () => (await adminOrder(placed.body.id)).status === "expired");
  await until("the unit to be available again", async () => (await product(rare)).available === 1);
  const second = await customer();
  const other = await orderOf(second, rare);
  expect(other.status).toBe(201);
  expect((await pay(second, (await paymentFor(second, other.body.id)).id)).body.status).toBe("completed");

  // The expiry cancelled the pending payment too: confirming it now is refused.
  const late = await pay(first, payment.id);
  expect(late).toMatchObject({ status: 409, body: { type: "ILLEGAL_TRANSITION", message: "The payment is cancelled" } });
  expect((await adminPayment(payment.id)).failureReason).toBe("order_expired");
  expect(charges(payment.id)).toBe(0); // the provider was never asked
  await until("the second order to be paid", async () => (await adminOrder(other.body.id)).status === "paid");
  await until("the unit to be sold once", async () => (await product(rare)).stock === 0);
  expect(await product(rare)).toMatchObject({ stock: 0, reserved: 0 });
  expect((await adminOrder(placed.body.id)).history.map((h: any) => h.to)).toEqual(["pending_payment", "expired"]);
  expect(await deadLetters()).toEqual([]);
});

it("refuses to charge an order whose payBy has passed even before the sweeper expires it", async () => {
  const shelf = await newProduct(5);
  const token = await customer();
  const placed = await orderOf(token, shelf);
  const payment = await paymentFor(token, placed.body.id);
  await sleep(2100); // past payBy, within the grace: still pending_payment
  expect(await pay(token, payment.id)).toMatchObject({ status: 409, body: { type: "ORDER_EXPIRED" } });
  expect(charges(payment.id)).toBe(0);
});

it("refunds a charge that completes after the order lapsed (a late webhook), and the order says why", async () => {
  const rare = await newProduct(1);
  const first = await customer();
  const placed = await orderOf(first, rare);
  const payment = await paymentFor(first, placed.body.id);
  // 3-D Secure: the charge waits for the customer, who comes back too late.
  expect((await pay(first, payment.id, "pm_card_authenticationRequired")).body.requiresAction).toEqual({ type: "authentication_required" });
  await until("the order to expire", async () => (await adminOrder(placed.body.id)).status === "expired");
  const second = await customer();
  const other = await orderOf(second, rare);
  expect((await pay(second, (await paymentFor(second, other.body.id)).id)).body.status).toBe("completed");

  expect((await webhook("payment_intent.succeeded", { id: `sim_pi_${payment.id}`, object: "payment_intent" })).status).toBe(200);
  await until("the late charge to be refunded", async () => (await adminPayment(payment.id)).status === "refunded");
  const refunded = await adminPayment(payment.id);
  expect(refunded).toMatchObject({ refundedAmount: refunded.amount, refunds: [expect.objectContaining({ amount: refunded.amount, status: "succeeded" })] });
  await until("the order to record it", async () => (await adminOrder(placed.body.id)).refundedAmount === refunded.amount);
  const order = await adminOrder(placed.body.id);
  expect(order.status).toBe("expired");
  expect(order.history.map((h: any) => h.cause)).toContainEqual(expect.stringMatching(/completed after the order was expired: refunded in full/));
  await until("the second order to be paid", async () => (await adminOrder(other.body.id)).status === "paid");
  expect(await product(rare)).toMatchObject({ stock: 0, reserved: 0 });
});

it("keeps the refund ledger under 20 concurrent partial refunds: every answer 200 or 409", async () => {
  const shelf = await newProduct(10, 1250);
  const token = await customer();
  const placed = await orderOf(token, shelf);
  const payment = await paymentFor(token, placed.body.id);
  await pay(token, payment.id);
  await until("the order to be paid", async () => (await adminOrder(placed.body.id)).status === "paid");

  const answers = await Promise.all(
    Array.from({ length: 20 }, (_, i) => http(api(`/payments/${payment.id}/refund`), { method: "POST", token: admin, body: { amount: 100, reason: `partial ${i}` } })),
  );
  expect(answers.map((a) => a.status).filter((s) => ![200, 409].includes(s))).toEqual([]);
  expect(answers.filter((a) => a.status === 200)).toHaveLength(12); // 12 x 100 of 1250
  const after = await adminPayment(payment.id);
  const succeeded = after.refunds.filter((r: any) => r.status === "succeeded");
  expect(succeeded).toHaveLength(12);
  expect(succeeded.reduce((n: number, r: any) => n + r.amount, 0)).toBe(after.refundedAmount);
  expect(after).toMatchObject({ refundedAmount: 1200, status: "partially_refunded" });
  // Each refund reached the provider once, under its own key.
  const provider = (shop.broker.getLocalService("payments") as any).provider;
  expect(succeeded.map((r: any) => provider.refunds.get(`refund:${r.id}`))).toEqual(Array(12).fill(1));
  await until("the order to follow", async () => (await adminOrder(placed.body.id)).refundedAmount === 1200);

  // The rest, then nothing more: a clean 409.
  expect((await http(api(`/payments/${payment.id}/refund`), { method: "POST", token: admin, body: { reason: "the rest" } })).body).toMatchObject({ status: "refunded", refundedAmount: 1250 });
  expect((await http(api(`/payments/${payment.id}/refund`), { method: "POST", token: admin, body: { amount: 1, reason: "more" } })).status).toBe(409);
});

it("replays an admin refund sent twice with one Idempotency-Key", async () => {
  const shelf = await newProduct(10, 1000);
  const token = await customer();
  const placed = await orderOf(token, shelf);
  const payment = await paymentFor(token, placed.body.id);
  await pay(token, payment.id);
  const refund = () => http(api(`/payments/${payment.id}/refund`), { method: "POST", token: admin, body: { amount: 300, reason: "once" }, headers: keyed("refund-once") });
  const [a, b] = await Promise.all([refund(), refund()]);
  expect([a.status, b.status]).toEqual([200, 200]);
  expect((await adminPayment(payment.id)).refunds).toHaveLength(1);
  expect((await adminPayment(payment.id)).refundedAmount).toBe(300);
});

it("never keeps the charge of an order cancelled while its payment was being made", async () => {
  const shelf = await newProduct(100);
  const outcomes = await Promise.all(
    Array.from({ length: 8 }, async () => {
      const token = await customer();
      const placed = await orderOf(token, shelf);
      const payment = await paymentFor(token, placed.body.id);
      await Promise.all([http(api(`/orders/${placed.body.id}/cancel`), { method: "POST", token }), pay(token, payment.id)]);
      return { orderId: placed.body.id, paymentId: payment.id };
    }),
  );
  const settled = async ({ orderId, paymentId }: { orderId: string; paymentId: string }) => {
    const [order, payment] = await Promise.all([adminOrder(orderId), adminPayment(paymentId)]);
    const paid = order.status === "paid" && payment.status === "completed";
    // Cancelled (or lapsed first, under load): no money held.
    const closedClean = ["cancelled", "expired"].includes(order.status) && (payment.status === "cancelled" || (payment.status === "refunded" && payment.refundedAmount === payment.amount));
    return paid || closedClean;
  };
  await until("every race to end with the charge kept only for a paid order", async () => (await Promise.all(outcomes.map(settled))).every(Boolean));
  const sold = (await Promise.all(outcomes.map(async (o) => (await adminOrder(o.orderId)).status))).filter((s) => s === "paid").length;
  await until("the stock to match the paid orders", async () => (await product(shelf)).stock === 100 - sold && (await product(shelf)).reserved === 0);
  expect(await deadLetters()).toEqual([]);
});

it("lets one customer hold one basket's worth of stock: a second checkout is a 409 naming the first", async () => {
  const shelf = await newProduct(100);
  const token = await customer();
  await http(api("/basket/items"), { method: "POST", token, body: { productId: shelf, quantity: 25 } });
  const attempts = [];
  for (let i = 0; i < 4; i++) attempts.push(await http(api("/orders"), { method: "POST", token, body: {}, headers: keyed(`lock-${i}`) }));
  expect(attempts.map((a) => a.status)).toEqual([201, 409, 409, 409]);
  expect(attempts[1].body).toMatchObject({ type: "ORDER_AWAITING_PAYMENT", data: { order: { id: attempts[0].body.id } } });
  expect(await product(shelf)).toMatchObject({ stock: 100, reserved: 25 });
  // Concurrent checkouts with new keys: still one order.
  const other = await customer();
  await http(api("/basket/items"), { method: "POST", token: other, body: { productId: shelf, quantity: 25 } });
  const racing = await Promise.all(Array.from({ length: 6 }, (_, i) => http(api("/orders"), { method: "POST", token: other, body: {}, headers: keyed(`race-${i}`) })));
  expect(racing.filter((r) => r.status === 201)).toHaveLength(1);
  // The losers' reservations were taken and given back in the same moment (some found the stock held by the others).
  expect(racing.filter((r) => r.status !== 201).map((r) => `${r.status} ${r.body.type === "INSUFFICIENT_STOCK" ? "ORDER_AWAITING_PAYMENT" : r.body.type}`)).toEqual(Array(5).fill("409 ORDER_AWAITING_PAYMENT"));
  expect((await product(shelf)).reserved).toBe(50);
  // Once the first is cancelled, the customer can order again.
  await http(api(`/orders/${attempts[0].body.id}/cancel`), { method: "POST", token });
  expect((await http(api("/orders"), { method: "POST", token, body: {}, headers: keyed("lock-after-cancel") })).status).toBe(201);
});
