/**
 * One trace per checkout on the real stack: two nodes in separate processes over NATS, the
 * integration events through real Kafka, databases on PostgreSQL (payments on MariaDB), Redis.
 * Node A runs the gateway, users, orders and notifications; node B products, baskets and payments:
 * the gateway's calls cross to B and back (payments asks orders), and payment.completed goes from B
 * through Kafka to A's orders and notifications and B's products, order.paid from A to B's products
 * and baskets. Node A exports OTLP/JSON, node B OTLP/protobuf, to one receiver: the spans of both
 * form one tree under the client's span.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { freshServiceDatabases, type ServiceDatabases } from "../support/databases";
import { http } from "../support/shop";
import { freePort, startTs, waitFor, type Child } from "../support/processes";
import { removeShopKafka } from "../support/kafka";
import { stack, uniqueName } from "../support/stack";
import { isUnder, orphans, startOtlpReceiver, type OtlpReceiver, type ReceivedSpan } from "../support/otlp-receiver";

const CLIENT_TRACE = "5bf92f3577b34da6a3ce929d0e0e4737";
const CLIENT_SPAN = "10f067aa0ba902b8";
const traceparent = { traceparent: `00-${CLIENT_TRACE}-${CLIENT_SPAN}-01` };

let receiver: OtlpReceiver;
let nodeA: Child;
let nodeB: Child;
let databases: ServiceDatabases;
let dataDir: string;
let base: string;
const namespace = uniqueName("tracing");
const prefix = `${namespace}.`;
const api = (p: string) => `${base}/api/v1${p}`;

beforeAll(async () => {
  receiver = await startOtlpReceiver();
  databases = await freshServiceDatabases();
  dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "shop-tracing-multinode-"));
  const port = await freePort();
  base = `http://127.0.0.1:${port}`;
  const common = {
    TRANSPORTER: stack.natsUrl(),
    NAMESPACE: namespace,
    KAFKA_BROKERS: stack.kafkaBrokers().join(","),
    KAFKA_TOPIC_PREFIX: prefix,
    REDIS_URL: stack.redisUrl(),
    ...databases.env,
    JWT_SECRET: "tracing-multinode-secret".padEnd(40, "x"),
    DATA_DIR: dataDir,
    API_RATE_LIMIT: "0",
    AUTH_RATE_LIMIT: "0",
    OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
    OTEL_BSP_SCHEDULE_DELAY: "100",
  };
  nodeB = startTs("shop.ts", { ...common, SERVICES: "products,baskets,payments", NODE_ID: "node-b", OTEL_EXPORTER_OTLP_PROTOCOL: "http/protobuf" });
  nodeA = startTs("shop.ts", {
    ...common,
    SERVICES: "api,users,orders,notifications",
    NODE_ID: "node-a",
    PORT: String(port),
    OTEL_EXPORTER_OTLP_PROTOCOL: "http/json",
    ADMIN_EMAIL: "admin@tracing-multinode.test",
    ADMIN_PASSWORD: "admin password 1",
  });
  try {
    await waitFor(async () => (await fetch(`${base}/health/ready`)).status === 200, 60_000, "the gateway to see both nodes");
  } catch (err) {
    throw new Error(`${String(err)}\n--- node A ---\n${nodeA.output()}\n--- node B ---\n${nodeB.output()}`, { cause: err });
  }
}, 90_000);

afterAll(async () => {
  await Promise.all([nodeA?.stop(), nodeB?.stop()]);
  await receiver?.close();
  await Promise.all([databases?.drop(), removeShopKafka(stack.kafkaBrokers(), namespace)]);
  if (dataDir) fs.rmSync(dataDir, { recursive: true, force: true });
});

const named = (spans: ReceivedSpan[], name: string, service?: string) => spans.filter((s) => s.name === name && (!service || s.service === service));

it("makes one tree of a checkout across two nodes, NATS and Kafka", async () => {
  const admin = (await http(api("/users/login"), { method: "POST", body: { email: "admin@tracing-multinode.test", password: "admin password 1" } })).body.accessToken;
  const product = (await http(api("/admin/products"), { method: "POST", token: admin, body: { sku: "TR-1", name: "Trace mug", price: 1100, stock: 10, category: "kitchen" } })).body;
  await http(api("/users/register"), { method: "POST", body: { email: "uma@tracing-multinode.test", password: "uma password 1", firstName: "U", lastName: "M" } });
  const token = (await http(api("/users/login"), { method: "POST", body: { email: "uma@tracing-multinode.test", password: "uma password 1" } })).body.accessToken;

  expect((await http(api("/basket/items"), { method: "POST", token, body: { productId: product.id, quantity: 1 }, headers: traceparent })).status).toBe(200);
  const order = await http(api("/orders"), { method: "POST", token, body: {}, headers: { ...traceparent, "idempotency-key": "uma-1" } });
  expect(order.status).toBe(201);
  const payment = await http(api("/payments"), { method: "POST", token, body: { orderId: order.body.id }, headers: { ...traceparent, "idempotency-key": "uma-pay-1" } });
  const paid = await http(api(`/payments/${payment.body.id}/process`), { method: "POST", token, body: { paymentMethod: "pm_card_visa" }, headers: traceparent });
  expect(paid.body.status).toBe("completed");

  const spansOf = () => receiver.spans.filter((s) => s.traceId === CLIENT_TRACE);
  await waitFor(
    async () =>
      ["products", "baskets"].every((s) => named(spansOf(), `process ${prefix}order-events`, s).some((p) => p.attributes["cloudevents.event_type"] === "order.paid")) &&
      ["orders", "products", "notifications"].every((s) => named(spansOf(), `process ${prefix}payment-events`, s).length > 0),
    30_000,
    "the consumers' spans from both nodes",
  );
  await new Promise((r) => setTimeout(r, 500));
  const spans = spansOf();

  expect(orphans(spans, [CLIENT_SPAN])).toEqual([]);
  expect(new Set(spans.map((s) => s.resource["service.instance.id"]))).toEqual(new Set(["node-a", "node-b"]));
  expect(receiver.contentTypes).toEqual(expect.arrayContaining([expect.stringContaining("json"), expect.stringContaining("protobuf")]));

  // Across NATS: the gateway (A) calls payments (B), which asks orders (A).
  const processHttp = named(spans, "POST /api/v1/payments/:id/process", "api")[0];
  const process = named(spans, "payments.process", "payments")[0];
  expect(process.resource["service.instance.id"]).toBe("node-b");
  expect(isUnder(spans, process, processHttp)).toBe(true);
  const forPayment = named(spans, "orders.forPayment", "orders").find((s) => s.parentSpanId === process.spanId)!;
  expect(forPayment.resource["service.instance.id"]).toBe("node-a");
  expect(forPayment.kind).toBe(2); // SERVER: a call from another node
  // The checkout (A) reserves stock on B, with its SQL on PostgreSQL.
  const reserve = named(spans, "products.reserveStock", "products").find((s) => isUnder(spans, s, named(spans, "orders.checkout")[0]))!;
  // (One statement on PostgreSQL: a WITH whose first table is products.)
  expect(spans.some((s) => s.name === "WITH products" && s.parentSpanId === reserve.spanId && s.attributes["db.system.name"] === "postgresql")).toBe(true);

  // Through Kafka: payment.completed from B to A's and B's consumers, order.paid from A to B.
  const sendPayment = named(spans, `send ${prefix}payment-events`, "payments").find((s) => isUnder(spans, s, process))!;
  expect(sendPayment.attributes).toMatchObject({ "messaging.system": "kafka", "messaging.destination.name": `${prefix}payment-events` });
  for (const [consumer, node] of [["orders", "node-a"], ["notifications", "node-a"], ["products", "node-b"]]) {
    const processed = named(spans, `process ${prefix}payment-events`, consumer).find((s) => s.parentSpanId === sendPayment.spanId)!;
    expect({ consumer, node: processed.resource["service.instance.id"], group: processed.attributes["messaging.consumer.group.name"] }).toEqual({
      consumer,
      node,
      group: expect.stringMatching(new RegExp(`-${consumer}$`)),
    });
  }
  const ordersConsumer = named(spans, `process ${prefix}payment-events`, "orders").find((s) => s.parentSpanId === sendPayment.spanId)!;
  expect(spans.some((s) => s.name === "UPDATE orders" && s.parentSpanId === ordersConsumer.spanId)).toBe(true);
  const sendOrderPaid = named(spans, `send ${prefix}order-events`, "orders").find((s) => s.parentSpanId === ordersConsumer.spanId)!;
  for (const consumer of ["products", "baskets"]) {
    expect(named(spans, `process ${prefix}order-events`, consumer).some((s) => s.parentSpanId === sendOrderPaid.spanId && s.resource["service.instance.id"] === "node-b")).toBe(true);
  }
}, 90_000);
