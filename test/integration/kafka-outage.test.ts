/**
 * Kafka away while customers pay: 50 checkouts are paid with Kafka stopped, their events wait in
 * the outboxes, and once Kafka is back every consumer applies every one of them exactly once.
 * The test runs a Kafka of its own (scripts/stack.sh kafka-up) so that stopping it disturbs no one.
 */
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { startShopOnRealStack, http } from "../support/shop";
import { ROOT, waitFor } from "../support/processes";

const KAFKA_PORT = 19092 + (process.pid % 50) * 2;
const kafkaDir = fs.mkdtempSync(path.join(os.tmpdir(), "shop-kafka-"));
const kafkaEnv = { ...process.env, STACK_DIR: kafkaDir, STACK_KAFKA_PORT: String(KAFKA_PORT), STACK_KAFKA_CONTROLLER_PORT: String(KAFKA_PORT + 1) };
const kafka = (command: "kafka-up" | "kafka-down") => execFileSync("bash", [path.join(ROOT, "scripts/stack.sh"), command], { env: kafkaEnv, stdio: "pipe", timeout: 120_000 });

let shop: Awaited<ReturnType<typeof startShopOnRealStack>>;
let admin: string;
const api = (p: string) => `${shop.url}/api/v1${p}`;
const CHECKOUTS = 50;

beforeAll(async () => {
  kafka("kafka-up");
  shop = await startShopOnRealStack(`127.0.0.1:${KAFKA_PORT}`, {
    OUTBOX_RELAY_INTERVAL_MS: "100",
    ADMIN_EMAIL: "admin@outage.test",
    ADMIN_PASSWORD: "admin password 1",
  });
  admin = (await http(api("/users/login"), { method: "POST", body: { email: "admin@outage.test", password: "admin password 1" } })).body.accessToken;
  await http(api("/admin/products"), { method: "POST", token: admin, body: { sku: "O-1", name: "Outage mug", price: 500, stock: 1000, category: "o" } });
}, 180_000);

afterAll(async () => {
  await shop?.stop();
  kafka("kafka-down");
  await shop?.drop();
  fs.rmSync(kafkaDir, { recursive: true, force: true });
}, 60_000);

async function paidCheckout(n: number) {
  const email = `o${n}@outage.test`;
  await http(api("/users/register"), { method: "POST", body: { email, password: "outage password", firstName: "O", lastName: `${n}` } });
  const token = (await http(api("/users/login"), { method: "POST", body: { email, password: "outage password" } })).body.accessToken;
  await http(api("/basket/items"), { method: "POST", token, body: { productId: 1, quantity: 2 } });
  const order = (await http(api("/orders"), { method: "POST", token, body: {}, headers: { "idempotency-key": `o-${n}` } })).body;
  const payment = (await http(api("/payments"), { method: "POST", token, body: { orderId: order.id }, headers: { "idempotency-key": `p-${n}` } })).body;
  const paid = await http(api(`/payments/${payment.id}/process`), { method: "POST", token, body: { paymentMethod: "pm_card_visa" } });
  expect(paid.body.status).toBe("completed");
  return { token, orderId: order.id };
}

it("loses nothing and doubles nothing when Kafka is away during 50 paid checkouts", async () => {
  kafka("kafka-down");
  const buyers: { token: string; orderId: string }[] = [];
  for (let i = 0; i < CHECKOUTS; i += 10) buyers.push(...(await Promise.all(Array.from({ length: 10 }, (_, j) => paidCheckout(i + j)))));
  // Payments are taken, their events wait in the outbox; nothing downstream has moved.
  const waiting: any = await shop.broker.call("payments.outboxStatus");
  expect(waiting.depth).toBeGreaterThanOrEqual(CHECKOUTS);
  expect((await http(api(`/orders/${buyers[0].orderId}`), { token: buyers[0].token })).body.status).toBe("pending_payment");

  kafka("kafka-up");
  const statuses = async () => Promise.all(buyers.map(async (b) => (await http(api(`/orders/${b.orderId}`), { token: b.token })).body.status));
  await waitFor(async () => (await statuses()).every((s) => s === "paid"), 120_000, "every order to be paid after Kafka's return");
  await waitFor(async () => (await http(api("/admin/products/1"), { token: admin })).body.stock === 1000 - 2 * CHECKOUTS, 60_000, "the stock to be committed");
  await waitFor(
    async () => (await Promise.all(buyers.map(async (b) => (await http(api("/basket"), { token: b.token })).body.itemCount))).every((n) => n === 0),
    60_000,
    "every basket to be cleared",
  );
  // Exactly as if Kafka had never stopped: one paid transition each, stock down by exactly 2 x 50.
  const orders = await Promise.all(buyers.map(async (b) => (await http(api(`/orders/${b.orderId}`), { token: b.token })).body));
  expect(orders.every((o) => o.history.filter((h: any) => h.to === "paid").length === 1)).toBe(true);
  expect((await http(api("/admin/products/1"), { token: admin })).body).toMatchObject({ stock: 1000 - 2 * CHECKOUTS, available: 1000 - 2 * CHECKOUTS });
  await waitFor(async () => ((await shop.broker.call("payments.outboxStatus")) as any).depth === 0, 30_000, "the payments outbox to drain");
  for (const service of ["orders", "products", "baskets"]) expect(await shop.broker.call(`${service}.deadLetters`)).toEqual([]);
}, 300_000);
