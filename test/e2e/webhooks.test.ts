/** Stripe webhooks through the gateway: raw body, verified signature, one outcome when racing the client. */
import Stripe from "stripe";
import { startShop, http, type RunningShop } from "../support/shop";
import { waitFor } from "../support/processes";

const SECRET = "whsec_e2e_secret";
let shop: RunningShop;
let token: string;
let admin: string;
const api = (path: string) => `${shop.url}/api/v1${path}`;

beforeAll(async () => {
  shop = await startShop({ STRIPE_WEBHOOK_SECRET: SECRET, ADMIN_EMAIL: "admin@hooks.test", ADMIN_PASSWORD: "admin password 1" });
  admin = (await http(api("/users/login"), { method: "POST", body: { email: "admin@hooks.test", password: "admin password 1" } })).body.accessToken;
  await http(api("/users/register"), { method: "POST", body: { email: "hook@hooks.test", password: "hook password 1", firstName: "H", lastName: "K" } });
  token = (await http(api("/users/login"), { method: "POST", body: { email: "hook@hooks.test", password: "hook password 1" } })).body.accessToken;
  await http(api("/admin/products"), { method: "POST", token: admin, body: { sku: "HOOK", name: "Hook", price: 700, stock: 100, category: "x" } });
});
afterAll(() => shop.stop());

async function pendingPayment(key: string) {
  await http(api("/basket/items"), { method: "POST", token, body: { productId: 1, quantity: 1 } });
  const order = (await http(api("/orders"), { method: "POST", token, body: {}, headers: { "idempotency-key": `${key}-order` } })).body;
  return (await http(api("/payments"), { method: "POST", token, body: { orderId: order.id }, headers: { "idempotency-key": `${key}-pay` } })).body;
}

function webhook(type: string, object: Record<string, unknown>, opts: { timestamp?: number; tamper?: boolean; noSignature?: boolean } = {}) {
  const body = JSON.stringify({ id: `evt_${Math.random().toString(36).slice(2)}`, object: "event", type, data: { object } });
  const signature = Stripe.webhooks.generateTestHeaderString({ payload: body, secret: SECRET, timestamp: opts.timestamp ?? Math.floor(Date.now() / 1000) });
  return fetch(api("/payments/webhooks/stripe"), {
    method: "POST",
    headers: { "content-type": "application/json", ...(!opts.noSignature && { "stripe-signature": signature }) },
    body: opts.tamper ? body.replace("payment_intent", "payment_intenT") : body,
  });
}

it("completes a payment from a signed payment_intent.succeeded, once however often it comes", async () => {
  const payment = await pendingPayment("hook-1");
  const ref = `sim_pi_${payment.id}`;
  await http(api(`/payments/${payment.id}/process`), { method: "POST", token, body: { paymentMethod: "pm_card_authenticationRequired" } });
  expect((await http(api(`/payments/${payment.id}`), { token })).body).toMatchObject({ status: "processing", requiresAction: { type: "authentication_required" } });
  expect((await webhook("payment_intent.succeeded", { id: ref, object: "payment_intent" })).status).toBe(200);
  expect((await webhook("payment_intent.succeeded", { id: ref, object: "payment_intent" })).status).toBe(200);
  expect((await http(api(`/payments/${payment.id}`), { token })).body.status).toBe("completed");
  await waitFor(async () => (await http(api(`/orders/${payment.orderId}`), { token })).body.status === "paid", 10_000, "the order to be paid");
  expect((await http(api(`/orders/${payment.orderId}`), { token })).body.history.filter((h: any) => h.to === "paid").length).toBe(1);
});

it("finds the payment by the intent's metadata when the intent's id was not stored yet (the charge answer was lost)", async () => {
  const payment = await pendingPayment("hook-meta");
  const ref = `sim_pi_${payment.id}`;
  expect((await webhook("payment_intent.succeeded", { id: ref, object: "payment_intent", metadata: { paymentId: payment.id } })).status).toBe(200);
  expect((await http(api(`/payments/${payment.id}`), { token })).body.status).toBe("completed");
  await waitFor(async () => (await http(api(`/orders/${payment.orderId}`), { token })).body.status === "paid", 10_000, "the order to be paid");
});

it("refuses tampered, stale and unsigned webhooks with 400, changing nothing", async () => {
  const payment = await pendingPayment("hook-2");
  const object = { id: `sim_pi_${payment.id}`, object: "payment_intent" };
  expect((await webhook("payment_intent.succeeded", object, { tamper: true })).status).toBe(400);
  expect((await webhook("payment_intent.succeeded", object, { timestamp: Math.floor(Date.now() / 1000) - 600 })).status).toBe(400);
  expect((await webhook("payment_intent.succeeded", object, { noSignature: true })).status).toBe(400);
  expect((await http(api(`/payments/${payment.id}`), { token })).body.status).toBe("pending");
  // One order awaits payment per customer: cancel this one so the next test can order.
  expect((await http(api(`/orders/${payment.orderId}/cancel`), { method: "POST", token })).body.status).toBe("cancelled");
});

it("ends a race between the client's confirmation and a failure webhook in one outcome", async () => {
  const payment = await pendingPayment("hook-3");
  const object = { id: `sim_pi_${payment.id}`, object: "payment_intent", last_payment_error: { code: "card_declined" } };
  await Promise.all([
    http(api(`/payments/${payment.id}/process`), { method: "POST", token, body: { paymentMethod: "pm_card_visa" } }),
    webhook("payment_intent.payment_failed", object),
  ]);
  const final = (await http(api(`/payments/${payment.id}`), { token })).body.status;
  expect(["completed", "failed", "pending"]).toContain(final);
  await waitFor(async () => ["paid", "payment_failed", "pending_payment"].includes((await http(api(`/orders/${payment.orderId}`), { token })).body.status), 10_000, "the order to settle");
  await new Promise((r) => setTimeout(r, 300));
  const history = (await http(api(`/orders/${payment.orderId}`), { token })).body.history.map((h: any) => h.to);
  expect(history.filter((s: string) => s === "paid" || s === "payment_failed").length).toBeLessThanOrEqual(1);
});
