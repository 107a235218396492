/**
 * A node that dies between claiming a payment (pending → processing) and recording the provider's
 * answer leaves the payment "processing". After PAYMENT_CLAIM_TIMEOUT_SECONDS the customer's next
 * attempt, or else the payments sweep, finishes that charge with the same provider keys: the order
 * is paid once and the provider is asked for one charge, not two.
 */
import { randomUUID } from "node:crypto";
import { startShop, http, type RunningShop } from "../support/shop";
import { waitFor } from "../support/processes";

let shop: RunningShop;
let admin: string;
let productId: number;
const api = (path: string) => `${shop.url}/api/v1${path}`;

beforeAll(async () => {
  shop = await startShop({ ADMIN_EMAIL: "admin@abandoned.test", ADMIN_PASSWORD: "admin password 1", PAYMENT_CLAIM_TIMEOUT_SECONDS: "2", RESERVATION_SWEEP_SECONDS: "1" });
  admin = (await http(api("/users/login"), { method: "POST", body: { email: "admin@abandoned.test", password: "admin password 1" } })).body.accessToken;
  productId = (await http(api("/admin/products"), { method: "POST", token: admin, body: { sku: "LAMP", name: "Lamp", price: 3000, stock: 10, category: "home" } })).body.id;
}, 30_000);
afterAll(() => shop.stop());

const payments = () => shop.broker.getLocalService("payments") as any;

/** A customer with a payment created for a fresh order; the payment is then left as a dead node leaves it. */
async function abandonedPayment(email: string, claimedSecondsAgo: number): Promise<{ token: string; orderId: string; paymentId: string }> {
  await http(api("/users/register"), { method: "POST", body: { email, password: "customer password", firstName: "A", lastName: "B" } });
  const token = (await http(api("/users/login"), { method: "POST", body: { email, password: "customer password" } })).body.accessToken;
  await http(api("/basket/items"), { method: "POST", token, body: { productId, quantity: 1 } });
  const order = await http(api("/orders"), { method: "POST", token, body: {}, headers: { "idempotency-key": randomUUID() } });
  const payment = await http(api("/payments"), { method: "POST", token, body: { orderId: order.body.id }, headers: { "idempotency-key": randomUUID() } });
  expect(payment.status).toBe(201);
  // What the claim wrote, and nothing after it: the node died before the provider answered.
  await payments().sequelize.query("UPDATE payments SET status = 'processing', payment_method = 'pm_card_visa', updated_at = ? WHERE id = ?", {
    replacements: [new Date(Date.now() - claimedSecondsAgo * 1000), payment.body.id],
  });
  return { token, orderId: order.body.id, paymentId: payment.body.id };
}

const charges = (paymentId: string) => payments().provider.charges.get(`sim_pi_${paymentId}`) ?? 0;
const pay = (token: string, paymentId: string) => http(api(`/payments/${paymentId}/process`), { method: "POST", token, body: { paymentMethod: "pm_card_visa" } });

it("the customer's next attempt finishes a charge abandoned mid-flight, once the claim is stale", async () => {
  const { token, orderId, paymentId } = await abandonedPayment("retry@abandoned.test", 0);
  // A fresh claim may still be running on a live node: hands off.
  const early = await pay(token, paymentId);
  expect(early.status).toBe(409);
  expect(early.body.type).toBe("PAYMENT_IN_PROGRESS");
  expect(charges(paymentId)).toBe(0);

  // Now the claim is old: its node is taken as dead.
  await payments().sequelize.query("UPDATE payments SET updated_at = ? WHERE id = ?", { replacements: [new Date(Date.now() - 10_000), paymentId] });
  // Two attempts at once: one takes the claim over and charges, the other sees it in progress or paid.
  const [a, b] = await Promise.all([pay(token, paymentId), pay(token, paymentId)]);
  expect([a.status, b.status].sort()).toContain(200);
  const paid = a.status === 200 ? a : b;
  expect(paid.body.status).toBe("completed");
  expect(charges(paymentId)).toBe(1);
  await waitFor(async () => (await http(api(`/orders/${orderId}`), { token })).body.status === "paid", 10_000, "the order to be paid");
});

it("the payments sweep finishes an abandoned charge nobody retries", async () => {
  const { token, orderId, paymentId } = await abandonedPayment("gone@abandoned.test", 10);
  await waitFor(async () => (await http(api(`/payments/${paymentId}`), { token })).body.status === "completed", 10_000, "the sweep to complete the payment");
  expect(charges(paymentId)).toBe(1);
  await waitFor(async () => (await http(api(`/orders/${orderId}`), { token })).body.status === "paid", 10_000, "the order to be paid");
  // Asked again afterwards, the customer sees it paid and nothing is charged again.
  expect((await pay(token, paymentId)).body.status).toBe("completed");
  expect(charges(paymentId)).toBe(1);
});
