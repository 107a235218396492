/**
 * A cluster that loses a node, on real NATS, Kafka, PostgreSQL, MariaDB and Redis, in two layouts:
 * the (a gateway, a node with the other contexts, two products nodes) and one with two
 * backends that each run every context (so orders and payments die mid-request too). Under read
 * load and a stream of checkouts one node is killed with SIGKILL (its own process, seen gone), a
 * replacement joins, then the other one is stopped with SIGTERM: a rolling restart with a crash in it.
 *
 * Afterwards: no read failed and none took 2 s; every checkout, retried by its client with the same
 * Idempotency-Key whenever an answer did not come, is one paid order with one completed payment;
 * stock went down by exactly what was paid for; and the cluster view shows the nodes as they are.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { randomUUID } from "node:crypto";
import { freshServiceDatabases, type ServiceDatabases } from "../support/databases";
import { isRunning, startTs, waitFor, type Child } from "../support/processes";
import { removeShopKafka } from "../support/kafka";
import { stack, uniqueName } from "../support/stack";

const PORT = 4300 + (process.pid % 200);
const api = (p: string) => `http://127.0.0.1:${PORT}/api/v1${p}`;
const EVERY_CONTEXT = "users,products,baskets,orders,payments,notifications";

interface NodeSpec {
  id: string;
  services: string;
}

interface Layout {
  name: string;
  /** Started first; the first one migrates the databases and creates the admin. */
  initial: NodeSpec[];
  /** Joins once the cluster is ready: the node the SIGTERM will stop. */
  joiner: NodeSpec;
  /** SIGKILLed under load (one of `initial`), then replaced. */
  victim: string;
  replacement: NodeSpec;
}

const LAYOUTS: Layout[] = [
  {
    name: "gateway, a node with the other contexts, two products nodes",
    initial: [{ id: "core", services: "users,baskets,orders,payments,notifications" }, { id: "products-1", services: "products" }],
    joiner: { id: "products-2", services: "products" },
    victim: "products-1",
    replacement: { id: "products-1b", services: "products" },
  },
  {
    name: "gateway and two backends with every context",
    initial: [{ id: "backend-a", services: EVERY_CONTEXT }],
    joiner: { id: "backend-b", services: EVERY_CONTEXT },
    victim: "backend-a",
    replacement: { id: "backend-a2", services: EVERY_CONTEXT },
  },
];
const ADMIN = { email: "admin@node-loss.test", password: "admin password 1" };
const STOCK = 10_000;

let databases: ServiceDatabases;
let dataDir: string;
let common: Record<string, string>;
let namespace: string | undefined;
let nodes: Child[] = [];

interface Answer {
  status: number;
  body: any;
}

/** One request; a connection that fails or a time-out reads as status 0 (the client saw no answer). */
async function call(method: string, url: string, token?: string, body?: unknown, headers: Record<string, string> = {}): Promise<Answer> {
  try {
    const res = await fetch(url, {
      method,
      headers: { ...headers, ...(token && { authorization: `Bearer ${token}` }), ...(body !== undefined && { "content-type": "application/json" }) },
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(30_000),
    });
    const text = await res.text();
    return { status: res.status, body: text ? JSON.parse(text) : undefined };
  } catch {
    return { status: 0, body: undefined };
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * What a careful client does: the same request again (same Idempotency-Key) while no answer came, a
 * 5xx came, or the payment is still being charged elsewhere; anything else is the answer.
 */
async function withRetries(what: string, attempt: () => Promise<Answer>, done: (a: Answer) => boolean, poll = false): Promise<Answer> {
  const deadline = Date.now() + 90_000;
  let last: Answer = { status: 0, body: undefined };
  while (Date.now() < deadline) {
    last = await attempt();
    if (done(last)) return last;
    const retryable = last.status === 0 || last.status >= 500 || (last.status === 409 && ["PAYMENT_IN_PROGRESS", "PROVIDER_UNAVAILABLE"].includes(last.body?.type));
    if (!retryable && !poll) break;
    await sleep(250);
  }
  throw new Error(`${what}: ${last.status} ${JSON.stringify(last.body)}`);
}

function startNode(spec: NodeSpec, extra: Record<string, string> = {}): Child {
  const node = startTs("shop.ts", { ...common, SERVICES: spec.services, NODE_ID: spec.id, PORT: "0", ...extra });
  nodes.push(node);
  return node;
}

async function joined(adminToken: string, spec: NodeSpec): Promise<void> {
  const service = spec.services.split(",")[0];
  await waitFor(async () => (await clusterNodes(adminToken)).some((n) => n.id === spec.id && n.available && n.services.includes(service)), 60_000, `${spec.id} to join\n${output()}`);
}

async function clusterNodes(adminToken: string): Promise<{ id: string; available: boolean; services: string[] }[]> {
  const res = await call("GET", api("/admin/cluster"), adminToken);
  return res.status === 200 ? res.body.nodes : [];
}

/** Every item of a paged admin list. */
async function everything(listPath: string, token: string): Promise<any[]> {
  const items: any[] = [];
  for (let offset = 0; ; offset += 100) {
    const page = await call("GET", api(`${listPath}?limit=100&offset=${offset}`), token);
    expect(page.status).toBe(200);
    items.push(...page.body.items);
    if (items.length >= page.body.total || page.body.items.length === 0) return items;
  }
}

const output = () => nodes.map((n, i) => `--- node ${i} ---\n${n.output().slice(-3000)}`).join("\n");

describe.each(LAYOUTS)("$name", (layout) => {
  beforeAll(async () => {
    nodes = [];
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "shop-node-loss-"));
    databases = await freshServiceDatabases();
    namespace = uniqueName("nodeloss");
    common = {
      TRANSPORTER: stack.natsUrl(),
      NAMESPACE: namespace,
      JWT_SECRET: "node-loss-secret".padEnd(40, "x"),
      KAFKA_BROKERS: stack.kafkaBrokers().join(","),
      KAFKA_TOPIC_PREFIX: `${namespace}.`,
      KAFKA_SESSION_TIMEOUT_MS: "6000",
      REDIS_URL: stack.redisUrl(),
      ...databases.env,
      DATA_DIR: dataDir,
      READ_TIMEOUT_MS: "1000",
      PAYMENT_CLAIM_TIMEOUT_SECONDS: "3",
      RESERVATION_SWEEP_SECONDS: "1",
      API_RATE_LIMIT: "0",
      AUTH_RATE_LIMIT: "0",
    };
    // The first node creates the admin; each migrates its own databases (the joiners find them done).
    layout.initial.forEach((spec, i) => startNode(spec, i === 0 ? { ADMIN_EMAIL: ADMIN.email, ADMIN_PASSWORD: ADMIN.password } : {}));
    // The micro-cache off: every read crosses to a backend.
    nodes.push(startTs("shop.ts", { ...common, SERVICES: "api", NODE_ID: "gateway", PORT: String(PORT), HTTP_CACHE_TTL_MS: "0" }));
    await waitFor(async () => (await fetch(`http://127.0.0.1:${PORT}/health/ready`)).status === 200, 90_000, `the cluster to be ready\n${output()}`);
  }, 120_000);

  afterAll(async () => {
    await Promise.all(nodes.map((n) => n.stop("SIGKILL")));
    await Promise.all([databases?.drop(), namespace && removeShopKafka(stack.kafkaBrokers(), namespace)]);
    fs.rmSync(dataDir, { recursive: true, force: true });
  }, 60_000);

  it("loses a node under load (SIGKILL), then restarts the other (SIGTERM), without a failed or slow read or a lost checkout", async () => {
    const admin = (await call("POST", api("/users/login"), undefined, ADMIN)).body.accessToken as string;
    const survivor = startNode(layout.joiner);
    await joined(admin, layout.joiner);

    const productIds: number[] = [];
    for (let i = 0; i < 3; i++) {
      const created = await call("POST", api("/admin/products"), admin, { sku: `NL-${i}`, name: `Node loss ${i}`, price: 1000 + i, currency: "USD", stock: STOCK, category: "test" });
      expect(created.status).toBe(201);
      productIds.push(created.body.id);
    }
    const customers: string[] = [];
    for (let i = 0; i < 6; i++) {
      const email = `buyer${i}@node-loss.test`;
      expect((await call("POST", api("/users/register"), undefined, { email, password: "buyer password", firstName: "B", lastName: "N" })).status).toBe(201);
      customers.push((await call("POST", api("/users/login"), undefined, { email, password: "buyer password" })).body.accessToken);
    }

    let loading = true;
    const reads = { ok: 0, failed: [] as string[], slowestMs: 0 };
    const reader = async () => {
      while (loading) {
        const id = productIds[reads.ok % productIds.length];
        const started = performance.now();
        const res = await call("GET", api(`/products/${id}`));
        reads.slowestMs = Math.max(reads.slowestMs, performance.now() - started);
        if (res.status === 200 && res.body.id === id) reads.ok++;
        else reads.failed.push(`${res.status} ${JSON.stringify(res.body)}`);
      }
    };

    /** Every checkout a customer completed: the order, its product and quantity. */
    const bought: { token: string; orderId: string; productId: number; quantity: number }[] = [];
    const buyer = async (token: string, n: number) => {
      for (let round = 0; loading; round++) {
        const productId = productIds[(n + round) % productIds.length];
        const quantity = 1 + ((n + round) % 3);
        // Setting a quantity is safe to repeat (adding one is not).
        await withRetries("basket", () => call("PUT", api(`/basket/items/${productId}`), token, { quantity }), (a) => a.status === 200);
        const orderKey = randomUUID();
        const order = await withRetries("checkout", () => call("POST", api("/orders"), token, {}, { "idempotency-key": orderKey }), (a) => a.status === 201 || a.status === 200);
        const paymentKey = randomUUID();
        const payment = await withRetries("payment", () => call("POST", api("/payments"), token, { orderId: order.body.id }, { "idempotency-key": paymentKey }), (a) => a.status === 201 || a.status === 200);
        const paid = await withRetries("pay", () => call("POST", api(`/payments/${payment.body.id}/process`), token, { paymentMethod: "pm_card_visa" }), (a) => a.status === 200);
        expect(paid.body.status).toBe("completed");
        bought.push({ token, orderId: order.body.id, productId, quantity });
        // The next round starts once this payment's events have emptied the basket.
        await withRetries("basket emptied", () => call("GET", api("/basket"), token), (a) => a.status === 200 && a.body.items.length === 0, true);
      }
    };

    const load = Promise.all([...Array.from({ length: 6 }, reader), ...customers.map((token, n) => buyer(token, n))]);

    await sleep(3_000);
    const victim = nodes[layout.initial.findIndex((spec) => spec.id === layout.victim)];
    const victimPid = victim.process.pid!;
    await victim.stop("SIGKILL");
    expect(isRunning(victimPid)).toBe(false); // the node itself is gone, not a wrapper around it
    const boughtAtKill = bought.length;

    await sleep(3_000);
    startNode(layout.replacement);
    await joined(admin, layout.replacement);
    await sleep(1_000);
    // Rolling on: the other one leaves gracefully while the load goes on.
    const survivorPid = survivor.process.pid!;
    await survivor.stop("SIGTERM");
    expect(isRunning(survivorPid)).toBe(false);
    expect(survivor.process.exitCode).toBe(0);
    await sleep(3_000);
    loading = false;
    await load;

    expect(reads.failed).toEqual([]);
    expect(reads.ok).toBeGreaterThan(100);
    // A read caught on the dead node waits READ_TIMEOUT_MS (1 s here), then another node answers.
    expect(reads.slowestMs).toBeLessThan(2_000);
    expect(bought.length).toBeGreaterThan(boughtAtKill);

    // Each checkout is one order, paid once; nothing else was ordered or charged.
    for (const { token, orderId } of bought) {
      await waitFor(async () => (await call("GET", api(`/orders/${orderId}`), token)).body?.status === "paid", 60_000, `order ${orderId} to be paid`);
    }
    const orders = await everything("/admin/orders", admin);
    expect(orders.map((o) => o.id).sort()).toEqual(bought.map((b) => b.orderId).sort());
    const payments = await everything("/admin/payments", admin);
    expect(payments.filter((p) => p.status === "completed").map((p) => p.orderId).sort()).toEqual(bought.map((b) => b.orderId).sort());
    expect(payments.length).toBe(bought.length);

    // Stock went down by what was paid for, once the commits are applied.
    for (const productId of productIds) {
      const sold = bought.filter((b) => b.productId === productId).reduce((n, b) => n + b.quantity, 0);
      await waitFor(async () => (await call("GET", api(`/admin/products/${productId}`), admin)).body?.stock === STOCK - sold, 60_000, `product ${productId} stock to be ${STOCK - sold}`);
    }

    // The cluster view: the gateway, the nodes that stayed and the replacement; not the dead nor the departed.
    const view = await call("GET", api("/admin/cluster"), admin);
    const available = view.body.nodes.filter((n: any) => n.available).map((n: any) => n.id).sort();
    const expected = [...layout.initial.map((spec) => spec.id).filter((id) => id !== layout.victim), layout.replacement.id, "gateway"].sort();
    expect(available).toEqual(expected);
    expect(view.body.balancer).toBe("transporter");
    const get = view.body.actions.find((a: any) => a.name === "products.get");
    const servedBy = get.endpoints.filter((e: any) => e.available).map((e: any) => e.nodeID);
    expect(servedBy).toContain(layout.replacement.id);
    expect(get.endpoints.find((e: any) => e.nodeID === layout.replacement.id)).toMatchObject({ circuit: "closed", calls: expect.any(Number) });
  }, 300_000);
});
