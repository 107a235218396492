/**
 * The payment flow on the real stack: every integration event through real Kafka, databases on
 * PostgreSQL (payments on MariaDB), baskets and caches on Redis. Duplicates change nothing,
 * poison messages become dead letters, and a replay after the fix applies an event once.
 */
import { Kafka, logLevel } from "kafkajs";
import { randomUUID } from "node:crypto";
import { startShopOnRealStack, http } from "../support/shop";
import { stack, uniqueName } from "../support/stack";
import { waitFor } from "../support/processes";
import { envelope } from "../../lib/events/envelope";

const prefix = `${uniqueName("kt")}.`;
let shop: Awaited<ReturnType<typeof startShopOnRealStack>>;
let admin: string;
const kafka = new Kafka({ clientId: "kafka-flow-test", brokers: stack.kafkaBrokers(), logLevel: logLevel.NOTHING });
const producer = kafka.producer();
const api = (path: string) => `${shop.url}/api/v1${path}`;
const until = (what: string, probe: () => Promise<boolean>) => waitFor(probe, 30_000, what);

beforeAll(async () => {
  shop = await startShopOnRealStack(stack.kafkaBrokers().join(","), {
    KAFKA_TOPIC_PREFIX: prefix,
    KAFKA_MAX_ATTEMPTS: "3",
    KAFKA_RETRY_BASE_MS: "50",
    ADMIN_EMAIL: "admin@kafka.test",
    ADMIN_PASSWORD: "admin password 1",
  });
  await producer.connect();
  admin = (await http(api("/users/login"), { method: "POST", body: { email: "admin@kafka.test", password: "admin password 1" } })).body.accessToken;
  await http(api("/admin/products"), { method: "POST", token: admin, body: { sku: "K-1", name: "Kafka mug", price: 900, stock: 100, category: "kafka" } });
}, 120_000);

afterAll(async () => {
  await producer.disconnect();
  await shop?.stop();
  await shop?.drop();
});

async function paidOrder(n: number): Promise<{ token: string; orderId: string }> {
  const email = `buyer${n}@kafka.test`;
  await http(api("/users/register"), { method: "POST", body: { email, password: "kafka password 1", firstName: "K", lastName: `${n}` } });
  const token = (await http(api("/users/login"), { method: "POST", body: { email, password: "kafka password 1" } })).body.accessToken;
  await http(api("/basket/items"), { method: "POST", token, body: { productId: 1, quantity: 2 } });
  const order = (await http(api("/orders"), { method: "POST", token, body: {}, headers: { "idempotency-key": `k-order-${n}` } })).body;
  const payment = (await http(api("/payments"), { method: "POST", token, body: { orderId: order.id }, headers: { "idempotency-key": `k-pay-${n}` } })).body;
  await http(api(`/payments/${payment.id}/process`), { method: "POST", token, body: { paymentMethod: "pm_card_visa" } });
  return { token, orderId: order.id };
}
const stock = async () => (await http(api("/admin/products/1"), { token: admin })).body;

it("carries the whole flow over Kafka: orders paid, stock committed, baskets cleared, customers told", async () => {
  const buyers = await Promise.all([1, 2, 3, 4, 5].map(paidOrder));
  await until("every order to be paid", async () =>
    (await Promise.all(buyers.map(async (b) => (await http(api(`/orders/${b.orderId}`), { token: b.token })).body.status))).every((s) => s === "paid"),
  );
  await until("the stock to be committed", async () => (await stock()).stock === 90);
  expect(await stock()).toMatchObject({ stock: 90, available: 90 });
  await until("the baskets to be cleared", async () =>
    (await Promise.all(buyers.map(async (b) => (await http(api("/basket"), { token: b.token })).body.itemCount))).every((n) => n === 0),
  );
  await until("the customers to be told", async () => (await http(api("/notifications"), { token: buyers[0].token })).body.length === 2);
  // The last effects write their own events (basket.cleared, stock.updated): the relays publish them a tick later.
  const outboxStatus = async (): Promise<any[]> => Promise.all(["payments", "orders", "products", "baskets"].map((s) => shop.broker.call(`${s}.outboxStatus`)));
  await until("every outbox to be drained", async () => (await outboxStatus()).every((o) => o.depth === 0));
  expect((await outboxStatus()).map((o) => [o.service, o.kafka, o.depth])).toEqual([
    ["payments", "kafka", 0],
    ["orders", "kafka", 0],
    ["products", "kafka", 0],
    ["baskets", "kafka", 0],
  ]);
}, 120_000);

it("makes one order of 20 identical checkouts at once on PostgreSQL, and refuses a second one while it awaits payment", async () => {
  const email = "twins@kafka.test";
  await http(api("/users/register"), { method: "POST", body: { email, password: "kafka password 1", firstName: "T", lastName: "Twins" } });
  const token = (await http(api("/users/login"), { method: "POST", body: { email, password: "kafka password 1" } })).body.accessToken;
  await http(api("/basket/items"), { method: "POST", token, body: { productId: 1, quantity: 1 } });
  const before = (await stock()).reserved;
  const checkout = (key: string) => http(api("/orders"), { method: "POST", token, body: {}, headers: { "idempotency-key": key } });
  // The order's rows go in one statement there: the race ends in its unique keys, and the loser's reservation is released.
  const answers = await Promise.all(Array.from({ length: 20 }, () => checkout("twins-order-1")));
  expect(answers.every((a) => a.status === 201 || a.status === 200)).toBe(true);
  expect(new Set(answers.map((a) => a.body.id)).size).toBe(1);
  expect(answers[0].body.lines).toEqual([expect.objectContaining({ productId: 1, quantity: 1 })]);
  const other = await checkout("twins-order-2");
  expect(other.status).toBe(409);
  const mine = (await http(api("/orders"), { token })).body;
  expect(mine.total).toBe(1);
  await until("the losers' reservations to be released", async () => (await stock()).reserved === before + 1);
});

it("applies an event delivered twice only once", async () => {
  const buyer = await paidOrder(6);
  await until("the order to be paid", async () => (await http(api(`/orders/${buyer.orderId}`), { token: buyer.token })).body.status === "paid");
  await until("the stock to be committed", async () => (await stock()).stock === 88);
  // Replay by hand the payment.completed the payments service published.
  const payments: any = shop.broker.getLocalService("payments");
  const [row] = await payments.sequelize.query("SELECT payload FROM outbox WHERE type = 'payment.completed' AND message_key = ?", { replacements: [buyer.orderId], type: "SELECT" });
  await producer.send({ topic: `${prefix}payment-events`, messages: [{ key: buyer.orderId, value: row.payload }] });
  await new Promise((r) => setTimeout(r, 3_000));
  expect((await stock()).stock).toBe(88);
  expect((await http(api(`/orders/${buyer.orderId}`), { token: buyer.token })).body.history.filter((h: any) => h.to === "paid").length).toBe(1);
  expect((await http(api("/notifications"), { token: buyer.token })).body.length).toBe(2);
}, 60_000);

it("dead-letters a poison message, to the service and to <topic>.dlq", async () => {
  const dlq = kafka.consumer({ groupId: uniqueName("dlq-reader") });
  await dlq.connect();
  await dlq.subscribe({ topic: `${prefix}payment-events.dlq`, fromBeginning: true });
  const seen: string[] = [];
  await dlq.run({ eachMessage: async ({ message }) => void seen.push(String(message.value)) });
  await producer.send({ topic: `${prefix}payment-events`, messages: [{ key: "poison", value: "this is not a CloudEvent" }] });
  await until("the poison to be dead-lettered", async () => ((await shop.broker.call("orders.deadLetters")) as any[]).some((d) => d.payload === "this is not a CloudEvent"));
  await until("the poison to reach the DLQ topic", async () => seen.includes("this is not a CloudEvent"));
  await dlq.disconnect();
}, 60_000);

it("dead-letters an event that keeps failing, and applies it once when replayed after the fix", async () => {
  const orderId = randomUUID();
  const event = envelope("payments", "payment.completed", orderId, { paymentId: randomUUID(), orderId, userId: "someone", amount: 100, currency: "USD" });
  await producer.send({ topic: `${prefix}payment-events`, messages: [{ key: orderId, value: JSON.stringify(event) }] });
  // The orders service does not know this order: three attempts, then a dead letter.
  await until("the event to be dead-lettered", async () => ((await shop.broker.call("orders.deadLetters")) as any[]).some((d) => d.eventId === event.id));
  const letter = ((await shop.broker.call("orders.deadLetters")) as any[]).find((d) => d.eventId === event.id);
  expect(letter).toMatchObject({ attempts: 3, error: expect.stringContaining("unknown") });

  // The fix: the order exists now (as if its service had caught up).
  const orders: any = shop.broker.getLocalService("orders");
  const { main: Order } = orders.models;
  await Order.create({ id: orderId, userId: "someone", status: "pending_payment", currency: "USD", total: 100, itemCount: 1, idempotencyKey: "fix", requestHash: "fix" });
  expect(await shop.broker.call("orders.replayDeadLetters", { id: letter.id })).toEqual([{ id: letter.id, status: "applied" }]);
  expect((await Order.findByPk(orderId, { raw: true })).status).toBe("paid");
  // Replaying again finds nothing pending; the event's effect stays single.
  expect(await shop.broker.call("orders.replayDeadLetters", { id: letter.id })).toEqual([]);
  expect(((await shop.broker.call("orders.deadLetters")) as any[]).some((d) => d.id === letter.id)).toBe(false);
}, 60_000);
