/**
 * Tracing on the embedded shop (every service in one node, run as a process of its own, as
 * `npm start` runs it), exported over OTLP/HTTP (JSON) to a receiver of the test's own.
 * A client that carries one W3C traceparent through its checkout (basket, order, payment) gets
 * one trace: the gateway's HTTP spans, the actions they call in every service, their SQL, the
 * outbox relay's publish spans and the consumers of the integration events (payment.completed in
 * orders, products and notifications; order.paid in products and baskets), each under the right
 * parent, all under the client's span. Every log line written meanwhile names the trace next to
 * the request id, and the access log has one line per request.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { http } from "../support/shop";
import { freePort, startTs, waitFor, type Child } from "../support/processes";
import { isUnder, orphans, startOtlpReceiver, type OtlpReceiver, type ReceivedSpan } from "../support/otlp-receiver";

let shop: Child;
let base: string;
let dataDir: string;
let receiver: OtlpReceiver;
let admin: string;
let productId: number;
const api = (path: string) => `${base}/api/v1${path}`;
/** The shop's JSON log lines so far. */
const logLines = () =>
  shop
    .output()
    .split("\n")
    .filter((l) => l.startsWith("{"))
    .map((l) => JSON.parse(l));

const CLIENT_TRACE = "4bf92f3577b34da6a3ce929d0e0e4736";
const CLIENT_SPAN = "00f067aa0ba902b7";
const traceparent = { traceparent: `00-${CLIENT_TRACE}-${CLIENT_SPAN}-01` };

beforeAll(async () => {
  receiver = await startOtlpReceiver();
  dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "shop-tracing-"));
  const port = await freePort();
  base = `http://127.0.0.1:${port}`;
  shop = startTs("shop.ts", {
    PORT: String(port),
    DATA_DIR: dataDir,
    LOG_LEVEL: "info",
    LOG_FORMAT: "json",
    ACCESS_LOG: "true",
    API_RATE_LIMIT: "0",
    AUTH_RATE_LIMIT: "0",
    OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
    OTEL_EXPORTER_OTLP_PROTOCOL: "http/json",
    OTEL_BSP_SCHEDULE_DELAY: "50",
    ADMIN_EMAIL: "admin@tracing.test",
    ADMIN_PASSWORD: "admin password 1",
  });
  try {
    await waitFor(async () => (await fetch(`${base}/health/ready`)).status === 200, 30_000, "the shop to be ready");
  } catch (err) {
    throw new Error(`${String(err)}\n${shop.output()}`, { cause: err });
  }
  admin = (await http(api("/users/login"), { method: "POST", body: { email: "admin@tracing.test", password: "admin password 1" } })).body.accessToken;
  productId = (await http(api("/admin/products"), { method: "POST", token: admin, body: { sku: "LAMP", name: "Desk lamp", price: 3900, stock: 20, category: "home" } })).body.id;
}, 30_000);

afterAll(async () => {
  await shop?.stop();
  await receiver?.close();
  if (dataDir) fs.rmSync(dataDir, { recursive: true, force: true });
});

const inTrace = (traceId: string) => receiver.spans.filter((s) => s.traceId === traceId);
const named = (spans: ReceivedSpan[], name: string, service?: string) => spans.filter((s) => s.name === name && (!service || s.service === service));

it("makes one trace of a checkout and its payment, across every service and the integration events", async () => {
  await http(api("/users/register"), { method: "POST", body: { email: "tina@tracing.test", password: "tina password 1", firstName: "T", lastName: "R" } });
  const token = (await http(api("/users/login"), { method: "POST", body: { email: "tina@tracing.test", password: "tina password 1" } })).body.accessToken;

  expect((await http(api("/basket/items"), { method: "POST", token, body: { productId, quantity: 2 }, headers: traceparent })).status).toBe(200);
  const order = await http(api("/orders"), { method: "POST", token, body: {}, headers: { ...traceparent, "idempotency-key": "tina-1" } });
  expect(order.status).toBe(201);
  const payment = await http(api("/payments"), { method: "POST", token, body: { orderId: order.body.id }, headers: { ...traceparent, "idempotency-key": "tina-pay-1" } });
  expect(payment.status).toBe(201);
  const paid = await http(api(`/payments/${payment.body.id}/process`), { method: "POST", token, body: { paymentMethod: "pm_card_visa" }, headers: traceparent });
  expect(paid.body.status).toBe("completed");

  // The response names the gateway's span in the client's trace.
  const returned = paid.headers.get("traceparent")!;
  expect(returned).toMatch(new RegExp(`^00-${CLIENT_TRACE}-[0-9a-f]{16}-01$`));

  // The consumers of order.paid are the last to act: the basket is cleared, the stock committed.
  await waitFor(async () => (await http(api("/basket"), { token })).body.itemCount === 0, 10_000, "the basket to be cleared");
  const spansOf = () => inTrace(CLIENT_TRACE);
  await waitFor(
    async () =>
      named(spansOf(), "process order-events", "baskets").length > 0 &&
      named(spansOf(), "process order-events", "products").length > 0 &&
      ["orders", "products", "notifications"].every((s) => named(spansOf(), "process payment-events", s).length > 0),
    10_000,
    "the consumers' spans to be exported",
  );
  await new Promise((r) => setTimeout(r, 300)); // what they did (their SQL) is exported with them or just after
  const spans = spansOf();

  // One tree: every span's parent is in the trace, or is the client's own span.
  expect(orphans(spans, [CLIENT_SPAN])).toEqual([]);
  expect(new Set(spans.map((s) => s.service))).toEqual(new Set(["api", "users", "products", "baskets", "orders", "payments", "notifications"]));

  // The gateway's HTTP spans are the client's children, one per request, named by route.
  const httpSpans = spans.filter((s) => s.parentSpanId === CLIENT_SPAN);
  expect(httpSpans.map((s) => s.name).sort()).toEqual(["POST /api/v1/basket/items", "POST /api/v1/orders", "POST /api/v1/payments", "POST /api/v1/payments/:id/process"]);
  expect(httpSpans.every((s) => s.service === "api" && s.kind === 2 /* SERVER */)).toBe(true);
  expect(returned.split("-")[2]).toBe(named(spans, "POST /api/v1/payments/:id/process")[0].spanId);
  expect(named(spans, "POST /api/v1/orders")[0].attributes).toMatchObject({ "http.request.method": "POST", "http.route": "/api/v1/orders", "http.response.status_code": 201 });

  // The checkout's calls, across services, under its HTTP span.
  const checkoutHttp = named(spans, "POST /api/v1/orders")[0];
  const checkout = named(spans, "orders.checkout", "orders")[0];
  expect(isUnder(spans, checkout, checkoutHttp)).toBe(true);
  for (const name of ["baskets.ofUser", "products.getMany", "products.reserveStock"]) {
    expect(named(spans, name).some((s) => s.parentSpanId === checkout.spanId)).toBe(true);
  }
  // SQL worth seeing: the reservation's conditional update and the order's outbox row.
  const reserve = named(spans, "products.reserveStock")[0];
  expect(spans.some((s) => s.name === "UPDATE products" && s.service === "products" && isUnder(spans, s, reserve) && s.attributes["db.system.name"] === "sqlite")).toBe(true);
  expect(spans.some((s) => s.name === "INSERT outbox" && s.service === "orders" && isUnder(spans, s, checkout))).toBe(true);
  expect(spans.every((s) => !Object.keys(s.attributes).some((k) => k === "db.query.text" || k.startsWith("params")))).toBe(true);

  // payment.completed: written by payments.process, sent by the relay, processed by three consumers.
  const process = named(spans, "payments.process", "payments")[0];
  const sendPayment = named(spans, "send payment-events", "payments").find((s) => isUnder(spans, s, process))!;
  expect(sendPayment).toBeDefined();
  expect(sendPayment.kind).toBe(4); // PRODUCER
  for (const consumer of ["orders", "products", "notifications"]) {
    const processed = named(spans, "process payment-events", consumer).filter((s) => s.parentSpanId === sendPayment.spanId);
    expect(processed).toHaveLength(1);
    expect(processed[0]).toMatchObject({ kind: 5 /* CONSUMER */, attributes: expect.objectContaining({ "cloudevents.event_type": "payment.completed", "messaging.operation.type": "process" }) });
  }
  // order.paid: written by the orders consumer, consumed by products (commit) and baskets (clear).
  const ordersConsumer = named(spans, "process payment-events", "orders")[0];
  const sendOrderPaid = named(spans, "send order-events", "orders").find((s) => isUnder(spans, s, ordersConsumer))!;
  expect(sendOrderPaid).toBeDefined();
  for (const consumer of ["products", "baskets"]) {
    expect(named(spans, "process order-events", consumer).some((s) => s.parentSpanId === sendOrderPaid.spanId)).toBe(true);
  }
  expect(spans.some((s) => s.name === "UPDATE products" && isUnder(spans, s, named(spans, "process order-events", "products").find((p) => p.parentSpanId === sendOrderPaid.spanId)!))).toBe(true);

  // Children start after their parents, within one clock.
  const byId = new Map(spans.map((s) => [s.spanId, s]));
  for (const s of spans) {
    const parent = byId.get(s.parentSpanId);
    if (parent) expect(s.start >= parent.start - 1_000_000n).toBe(true);
  }
  // Every span is described as the shop's, on this node.
  expect(spans.every((s) => s.resource["service.namespace"] === "shop" && typeof s.resource["service.instance.id"] === "string")).toBe(true);

  // Log lines written while handling the payment, and by the consumers it set off, name the trace.
  const lines = logLines();
  const paymentLine = lines.find((l) => typeof l.msg === "string" && l.msg.startsWith(`Payment ${payment.body.id} completed`));
  expect(paymentLine).toMatchObject({ traceId: CLIENT_TRACE, requestId: paid.headers.get("x-request-id") });
  expect(lines.find((l) => typeof l.msg === "string" && l.msg.includes("cleared: order"))).toMatchObject({ traceId: CLIENT_TRACE });
  // One access-log line per request, with the route, the caller and the trace.
  const access = lines.filter((l) => l.mod === "access" && l.requestId === paid.headers.get("x-request-id"));
  expect(access).toEqual([
    expect.objectContaining({ msg: "request", method: "POST", route: "/api/v1/payments/:id/process", path: `/api/v1/payments/${payment.body.id}/process`, status: 200, userId: order.body.userId, traceId: CLIENT_TRACE, durationMs: expect.any(Number) }),
  ]);
}, 30_000);

it("starts a trace for a request without traceparent, and honours a client's decision not to sample", async () => {
  const fresh = await fetch(api("/products/categories"));
  const header = fresh.headers.get("traceparent")!;
  expect(header).toMatch(/^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/);
  const [, traceId, spanId] = header.split("-");
  await waitFor(async () => inTrace(traceId).some((s) => s.spanId === spanId), 5_000, "the request's span");
  expect(inTrace(traceId).find((s) => s.spanId === spanId)).toMatchObject({ name: "GET /api/v1/products/categories", parentSpanId: "" });

  const unsampledTrace = "0af7651916cd43dd8448eb211c80319c";
  const declined = await fetch(api("/products/categories"), { headers: { traceparent: `00-${unsampledTrace}-b7ad6b7169203331-00` } });
  expect(declined.headers.get("traceparent")).toMatch(new RegExp(`^00-${unsampledTrace}-[0-9a-f]{16}-00$`));
  // A malformed traceparent starts a new trace rather than failing the request.
  const malformed = await fetch(api("/products/categories"), { headers: { traceparent: "00-zzz-1-01" } });
  expect(malformed.status).toBe(200);
  expect(malformed.headers.get("traceparent")).not.toContain("zzz");
  await new Promise((r) => setTimeout(r, 300));
  expect(inTrace(unsampledTrace)).toEqual([]);
});

it("keeps a trace the client does not sample out of every service and consumer, and its logs still name it", async () => {
  const unsampled = { traceparent: "00-1af7651916cd43dd8448eb211c80319d-c7ad6b7169203331-00" };
  await http(api("/users/register"), { method: "POST", body: { email: "ugo@tracing.test", password: "ugo password 1", firstName: "U", lastName: "G" } });
  const token = (await http(api("/users/login"), { method: "POST", body: { email: "ugo@tracing.test", password: "ugo password 1" } })).body.accessToken;
  await http(api("/basket/items"), { method: "POST", token, body: { productId, quantity: 1 }, headers: unsampled });
  const order = await http(api("/orders"), { method: "POST", token, body: {}, headers: { ...unsampled, "idempotency-key": "ugo-1" } });
  const payment = await http(api("/payments"), { method: "POST", token, body: { orderId: order.body.id }, headers: { ...unsampled, "idempotency-key": "ugo-pay-1" } });
  const paid = await http(api(`/payments/${payment.body.id}/process`), { method: "POST", token, body: { paymentMethod: "pm_card_visa" }, headers: unsampled });
  expect(paid.body.status).toBe("completed");
  await waitFor(async () => (await http(api("/basket"), { token })).body.itemCount === 0, 10_000, "the basket to be cleared");
  await new Promise((r) => setTimeout(r, 500));
  expect(inTrace("1af7651916cd43dd8448eb211c80319d")).toEqual([]);
  // No consumer started a trace of its own for these events either.
  const consumerRoots = receiver.spans.filter((s) => s.name.startsWith("process ") && s.parentSpanId === "" && s.attributes["cloudevents.event_subject"] === order.body.id);
  expect(consumerRoots).toEqual([]);
  const lines = logLines();
  expect(lines.find((l) => typeof l.msg === "string" && l.msg.startsWith(`Payment ${payment.body.id} completed`))).toMatchObject({ traceId: "1af7651916cd43dd8448eb211c80319d" });
  expect(lines.find((l) => typeof l.msg === "string" && l.msg.includes(`cleared: order ${order.body.id}`))).toMatchObject({ traceId: "1af7651916cd43dd8448eb211c80319d" });
});
