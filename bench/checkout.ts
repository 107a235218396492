/**
 * The checkout scenario on the real stack (scripts/stack.sh up): the shop on PostgreSQL, MariaDB,
 * Redis and Kafka. CLIENTS customers register and sign in first; then, on the clock, each buys
 * ROUNDS times (add to basket, checkout, create the payment, pay) and waits for its basket to be
 * emptied by the payment.completed event before the next round. Printed next to their goals:
 * checkouts/s and flow latency, CPU per checkout of every process involved, SQL statements and
 * transactions per checkout, and event lag; then stock, orders and payments must add up.
 *
 *   BENCH_CLIENTS (default 20), BENCH_ROUNDS (default 10),
 *   BENCH_NODES (default 1): 2 runs two shop nodes over NATS, each with every service and its own gateway.
 */
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { freshServiceDatabases, type ServiceDatabases } from "../test/support/databases";
import { byPid, CLK_TCK, STACK_SERVERS, startCpuWindow, type CpuUsage } from "./support/cpu";
import { consumerLags, type ServiceDatabase } from "./support/event-lag";
import { removeShopKafka } from "../test/support/kafka";
import { waitForConsumers, watchBasketClears } from "./support/kafka";
import { embeddedShopEnv, ROOT, sleep, startScript, stopAll, waitFor } from "./support/processes";
import { PG_STATS_SETTLE_MS, startSqlCounter, waitForNoBackends, type SqlWork } from "./support/sql-counters";
import { spread } from "./support/stats";
import { shopClient, type Schemas, type ShopClient } from "../lib/http/client";
import { atLeast, atMost, figureLine, fmt, GoalTable, type Table } from "./support/report";

const CLIENTS = Number(process.env.BENCH_CLIENTS ?? 20);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 10);
const FIRST_PORT = 3811;
/**
 * The embedded default has no Kafka to watch: its clients poll GET /basket, this often. Each poll
 * is a request the shop serves (at 10 ms, 37 of them per checkout: more than the checkout itself),
 * so the lag there is known to ±50 ms.
 */
const BASKET_POLL_MS = 50;
const ADMIN = { email: "admin@bench.test", password: "admin password 1" };
/** Two of this product per checkout, at this price. */
const QUANTITY = 2;
const PRICE = 1250;

const GOALS = {
  checkoutsPerSecond: atLeast(100, "/s"),
  flowP50: atMost(100, " ms"),
  flowP99: atMost(300, " ms"),
  cpuTotal: atMost(20, " ms"),
  cpuShop: atMost(10, " ms"),
  basketClearP99: atMost(250, " ms"),
  /** No consumer more than 1 s behind. */
  consumerLagMax: atMost(1000, " ms"),
  scaling: atLeast(1.7, "×"),
};

export interface Layout {
  nodes: number;
  /** Over NATS (TRANSPORTER) rather than one embedded broker; always so with several nodes. */
  transporter: boolean;
}

export function layoutFromEnv(): Layout {
  const nodes = Number(process.env.BENCH_NODES ?? 1);
  if (!Number.isInteger(nodes) || nodes < 1) throw new Error(`BENCH_NODES must be a whole number ≥ 1, got ${process.env.BENCH_NODES}`);
  return { nodes, transporter: nodes > 1 };
}

export interface CheckoutResult {
  checkoutsPerSecond: number;
  flowP50Ms: number;
}

// ------------------------------------------------------------------------------ HTTP clients

/** The answer of a typed-client call, or an error naming the request when it failed. */
async function ok<D>(what: string, call: Promise<{ data?: D; error?: unknown; response: Response }>): Promise<D> {
  const { data, error, response } = await call;
  if (!response.ok) throw new Error(`${what}: ${response.status} ${JSON.stringify(error)}`);
  return data as D;
}

/** One customer (or the admin) talking to one gateway, through the typed client generated from the OpenAPI document. */
class Api {
  client: ShopClient;
  constructor(readonly gateway: string) {
    this.client = shopClient(gateway);
  }

  async signIn(email: string, password: string): Promise<this> {
    const session = await ok("sign in", this.client.POST("/api/v1/users/login", { body: { email, password } }));
    this.client = shopClient(this.gateway, { token: session.accessToken });
    return this;
  }
}

/** Registration and sign-in happen before the clock starts: they are not part of a checkout. */
function signUpClients(gateways: string[]): Promise<Api[]> {
  return Promise.all(
    Array.from({ length: CLIENTS }, async (_, c) => {
      const api = new Api(gateways[c % gateways.length]);
      const email = `client${c}@bench.test`;
      await ok("register", api.client.POST("/api/v1/users/register", { body: { email, password: "bench password", firstName: "B", lastName: `${c}` } }));
      return api.signIn(email, "bench password");
    }),
  );
}

interface Checkout {
  /** Add to basket, POST /orders, POST /payments, POST /payments/:id/process. */
  flowMs: number;
  /** Each of those four requests, in that order. */
  stepsMs: number[];
  /**
   * From the pay response until the basket was cleared (payment.completed, through Kafka): the
   * basket.cleared event's time when the run watches those, else until GET /basket showed it empty.
   */
  basketClearMs: number;
  polls: number;
}

/**
 * Waits, after the pay response (at `paidAt`, epoch ms), until the order's basket is cleared and
 * returns how long after `paidAt` it was cleared.
 */
type BasketClearWait = (orderId: string, paidAt: number) => Promise<number>;

async function checkout(api: Api, productId: number, key: string, waitForClear?: BasketClearWait): Promise<Checkout> {
  const t0 = performance.now();
  const shop = api.client;
  const stepsMs: number[] = [];
  const step = async <T>(request: Promise<T>): Promise<T> => {
    const start = performance.now();
    const answer = await request;
    stepsMs.push(performance.now() - start);
    return answer;
  };
  await step(ok("add to basket", shop.POST("/api/v1/basket/items", { body: { productId, quantity: QUANTITY } })));
  const order = await step(ok("checkout", shop.POST("/api/v1/orders", { body: {}, params: { header: { "Idempotency-Key": `${key}-o` } } })));
  const payment = await step(ok("payment", shop.POST("/api/v1/payments", { body: { orderId: order.id }, params: { header: { "Idempotency-Key": `${key}-p` } } })));
  const paid = await step(ok("pay", shop.POST("/api/v1/payments/{id}/process", { params: { path: { id: payment.id } }, body: { paymentMethod: "pm_card_visa" } })));
  const paidAt = performance.now();
  if (paid.status !== "completed") throw new Error(`payment ${payment.id} is ${paid.status}`);
  // The next round needs an empty basket; how long that takes is the event lag a customer sees.
  if (waitForClear) return { flowMs: paidAt - t0, stepsMs, basketClearMs: await waitForClear(order.id, Date.now()), polls: 0 };
  let polls = 0;
  for (;;) {
    polls++;
    if ((await ok("basket", shop.GET("/api/v1/basket"))).itemCount === 0) break;
    await sleep(BASKET_POLL_MS);
  }
  return { flowMs: paidAt - t0, stepsMs, basketClearMs: performance.now() - paidAt, polls };
}

/** Every client buys ROUNDS times in a row, all clients at once. */
async function buyRounds(clients: Api[], productId: number, waitForClear?: BasketClearWait): Promise<Checkout[]> {
  const perClient = await Promise.all(
    clients.map(async (api, c) => {
      const mine: Checkout[] = [];
      for (let r = 0; r < ROUNDS; r++) mine.push(await checkout(api, productId, `c${c}-r${r}`, waitForClear));
      return mine;
    }),
  );
  return perClient.flat();
}

// ------------------------------------------------------------------------------ the shop

interface ShopNode {
  name: string;
  pid: number;
  gateway: string;
  stop(): Promise<void>;
}

/** The stack's TEST_* variables say where the servers are. */
export function loadStackEnv(): void {
  for (const line of execFileSync("bash", [path.join(ROOT, "scripts/stack.sh"), "env", "--test"], { encoding: "utf8" }).split("\n")) {
    const m = /^export (\w+)=(.*)$/.exec(line);
    if (m) process.env[m[1]] = m[2];
  }
}

/**
 * What every shop node of a real-stack run is given: the stack's servers, the run's own databases,
 * data directory, namespace, Kafka topic prefix and JWT secret, and no rate limits.
 */
export function realStackEnv(tag: string, dataDir: string, databases: ServiceDatabases): NodeJS.ProcessEnv {
  return {
    ...process.env,
    DATA_DIR: dataDir, NAMESPACE: tag, API_RATE_LIMIT: "0", AUTH_RATE_LIMIT: "0",
    JWT_SECRET: `${tag}-jwt-secret`.padEnd(40, "x"),
    KAFKA_BROKERS: process.env.TEST_KAFKA_BROKERS, KAFKA_TOPIC_PREFIX: `${tag}.`, REDIS_URL: process.env.TEST_REDIS_URL,
    ...databases.env,
  };
}

const databaseName = (url: string) => new URL(url).pathname.slice(1);

/**
 * Starts the shop's nodes one after the other: the first migrates the databases and creates the
 * admin, the next ones find both done.
 */
async function startShop(layout: Layout, databases: ServiceDatabases, tag: string, dataDir: string, extraEnv: NodeJS.ProcessEnv = {}): Promise<ShopNode[]> {
  const common: NodeJS.ProcessEnv = {
    ...realStackEnv(tag, dataDir, databases),
    LOG_LEVEL: "warn", SERVICES: undefined,
    TRANSPORTER: layout.transporter ? process.env.TEST_NATS_URL : undefined,
    // Every node runs every service: calls stay in process (preferLocal) rather than cross NATS.
    LOAD_BALANCER: "RoundRobin",
    ...extraEnv,
  };
  const nodes: ShopNode[] = [];
  for (let i = 0; i < layout.nodes; i++) {
    const port = FIRST_PORT + i;
    const env = { ...common, PORT: String(port), NODE_ID: `${tag}-node${i + 1}`, ...(i === 0 && { ADMIN_EMAIL: ADMIN.email, ADMIN_PASSWORD: ADMIN.password }) };
    const started = startScript("shop.ts", env);
    nodes.push({ name: `shop node ${i + 1} (pid ${started.pid})`, pid: started.pid, gateway: `http://127.0.0.1:${port}`, stop: started.stop });
    await waitFor(`http://127.0.0.1:${port}/health/ready`, 60_000, started);
  }
  return nodes;
}

function layoutLine(layout: Layout, nodes: ShopNode[]): string {
  const gateways = nodes.map((n) => n.gateway.replace("http://127.0.0.1", "")).join(", ");
  const broker = layout.transporter ? `over NATS (${process.env.TEST_NATS_URL})` : "(embedded broker, no transporter)";
  const shop = layout.nodes > 1 ? `${layout.nodes} shop nodes ${broker}, each with every service and its own gateway` : `1 shop node ${broker} with every service and the gateway`;
  return (
    `layout: ${shop} (${gateways}); ${CLIENTS} clients spread across the gateways; events over Kafka; ` +
    "users, products, orders, notifications on PostgreSQL, payments on MariaDB, baskets and cache on Redis"
  );
}

// ------------------------------------------------------------------------------ checks and reports

/** Stock, orders and payments add up once every event has been applied (the checks that guard the figures). */
async function checkInvariants(admin: Api, productId: number, initialStock: number, total: number): Promise<boolean> {
  const expectedStock = initialStock - QUANTITY * total;
  const deadline = Date.now() + 60_000;
  let product: Schemas["AdminProduct"] | undefined;
  while (Date.now() < deadline) {
    product = await ok("product", admin.client.GET("/api/v1/admin/products/{id}", { params: { path: { id: productId } } }));
    if (product.stock === expectedStock) break;
    await sleep(200);
  }
  const paidOrders = (await ok("orders", admin.client.GET("/api/v1/admin/orders", { params: { query: { status: "paid", limit: 1 } } }))).total;
  const stats = await ok("payment stats", admin.client.GET("/api/v1/admin/payments/stats"));
  const checks = {
    [`stock down by exactly ${QUANTITY} per checkout`]: product?.stock === expectedStock && product.available === product.stock,
    "every order paid": paidOrders === total,
    "one completed payment per order": stats.count.completed === total,
    "revenue equals the orders' total": stats.revenue.USD === total * QUANTITY * PRICE,
  };
  console.log("\nInvariants:");
  for (const [check, ok] of Object.entries(checks)) console.log(`  ${ok ? "ok  " : "FAIL"} ${check}`);
  return Object.values(checks).every(Boolean);
}

function reportFlow(checkouts: Checkout[], seconds: number, table: GoalTable): { rate: number; p50: number } {
  const rate = checkouts.length / seconds;
  const flow = spread(checkouts.map((c) => c.flowMs));
  console.log(`\nThroughput and latency (${checkouts.length} checkouts in ${fmt(seconds, 1)} s):`);
  console.log(figureLine("completed checkouts/s", `${fmt(rate, 1)}/s`, { goal: GOALS.checkoutsPerSecond, value: rate }));
  console.log(figureLine("flow p50 (basket add, order, payment, pay)", `${fmt(flow.p50)} ms`, { goal: GOALS.flowP50, value: flow.p50 }));
  console.log(figureLine("flow p99", `${fmt(flow.p99)} ms`, { goal: GOALS.flowP99, value: flow.p99 }));
  ["POST /basket/items", "POST /orders", "POST /payments", "POST /payments/:id/process"].forEach((request, i) => {
    const s = spread(checkouts.map((c) => c.stepsMs[i]));
    console.log(figureLine(`  ${request}, p50 / p99`, `${fmt(s.p50)} / ${fmt(s.p99)} ms`));
  });
  table.figure("completed checkouts/s", fmt(rate, 1), GOALS.checkoutsPerSecond, rate);
  table.figure("flow p50 (basket add, POST /orders, POST /payments, POST /payments/:id/process)", `${fmt(flow.p50)} ms`, GOALS.flowP50, flow.p50);
  table.figure("flow p99", `${fmt(flow.p99)} ms`, GOALS.flowP99, flow.p99);
  return { rate, p50: flow.p50 };
}

/** CPU time over the window: the shop's nodes, the stack's servers, and this process (the load generator, apart). */
interface CpuShares {
  shop: CpuUsage[];
  servers: CpuUsage[];
  client: CpuUsage;
}

function startCpuShares(nodes: ShopNode[]): { stop(): CpuShares } {
  const shop = nodes.map((n) => byPid(n.name, [n.pid]));
  const window = startCpuWindow([...shop, ...STACK_SERVERS, byPid("load generator", [process.pid])]);
  return {
    stop() {
      const usage = window.stop();
      return { shop: usage.slice(0, shop.length), servers: usage.slice(shop.length, -1), client: usage[usage.length - 1] };
    },
  };
}

function reportCpu(cpu: CpuShares, total: number, seconds: number, table: GoalTable): void {
  const perCheckout = (usage: CpuUsage[]) => usage.reduce((sum, u) => sum + u.ms, 0) / total;
  const ms = (usage: CpuUsage[]) => `${fmt(perCheckout(usage), 2)} ms`;
  const processes = (u: CpuUsage) => `${u.processes} process${u.processes === 1 ? "" : "es"}`;
  const [all, shop] = [perCheckout([...cpu.shop, ...cpu.servers]), perCheckout(cpu.shop)];

  console.log(`\nCPU per checkout over the ${fmt(seconds, 1)} s window (/proc/<pid>/stat utime + stime, CLK_TCK ${CLK_TCK}):`);
  for (const u of cpu.shop) console.log(figureLine(u.name, ms([u])));
  for (const u of cpu.servers) console.log(figureLine(`${u.name} (${processes(u)})`, ms([u])));
  console.log(figureLine("total", ms([...cpu.shop, ...cpu.servers]), { goal: GOALS.cpuTotal, value: all }));
  console.log(figureLine("shop (all nodes)", ms(cpu.shop), { goal: GOALS.cpuShop, value: shop }));
  console.log(figureLine("load generator (this process; not in the total)", ms([cpu.client])));
  const calls = (field: "reads" | "writes") => fmt(cpu.shop.reduce((sum, u) => sum + u[field], 0) / total, 1);
  console.log(figureLine("shop system calls: reads / writes (/proc/<pid>/io)", `${calls("reads")} / ${calls("writes")}`));
  table.figure("system calls per checkout, shop: reads / writes", `${calls("reads")} / ${calls("writes")}`);

  table.figure("CPU per checkout, total (shop + servers)", ms([...cpu.shop, ...cpu.servers]), GOALS.cpuTotal, all);
  table.figure("CPU per checkout, shop", ms(cpu.shop), GOALS.cpuShop, shop);
  for (const u of cpu.servers) table.figure(`CPU per checkout, ${u.name}`, ms([u]));
}

function reportSql(work: SqlWork, total: number, table: GoalTable, serviceOf: (database: string) => string): void {
  const per = (n: number | undefined) => (n === undefined ? "n/a" : fmt(n / total, 1));
  const rows: [string, string][] = [
    ["PostgreSQL statements (pg_stat_statements)", per(work.pgStatements)],
    ["PostgreSQL transactions (pg_stat_database)", per(work.pgTransactions)],
    ["MariaDB statements (Questions, server-wide)", per(work.mariadbStatements)],
    ["MariaDB COMMIT + ROLLBACK (server-wide)", per(work.mariadbCommits)],
  ];
  console.log("\nSQL per checkout (from the clock's start until the consumers caught up and the shop stopped):");
  for (const [label, value] of rows) console.log(figureLine(label, value));
  if (work.pgStatementsMissing) console.log(`  (PostgreSQL statements n/a: ${work.pgStatementsMissing})`);
  if (work.pgTop.length) {
    console.log("  PostgreSQL statements run most, per checkout, by service:");
    for (const { database, calls, query } of work.pgTop) {
      console.log(`    ${fmt(calls / total, 2).padStart(6)}  ${serviceOf(database).padEnd(13)} ${query.length > 110 ? `${query.slice(0, 107)}...` : query}`);
    }
  }
  for (const [label, value] of rows) table.figure(`SQL per checkout: ${label}`, value);
}

/** `watched`: the lag is the basket.cleared events' time (real stack); else clients polled GET /basket (embedded). */
function reportBasketLag(checkouts: Checkout[], table: GoalTable, watched: boolean): void {
  const lag = spread(checkouts.map((c) => c.basketClearMs));
  const what = watched ? "basket cleared (basket.cleared's time)" : "basket seen empty";
  console.log(`\nEvent lag:`);
  console.log(figureLine(`pay response → ${what}, p50`, `${fmt(lag.p50)} ms`));
  console.log(figureLine(`pay response → ${what}, p99`, `${fmt(lag.p99)} ms`, { goal: GOALS.basketClearP99, value: lag.p99 }));
  table.figure(`pay → ${what}, p50 / p99`, `${fmt(lag.p50)} / ${fmt(lag.p99)} ms`, GOALS.basketClearP99, lag.p99);
  if (watched) return;
  const polls = checkouts.reduce((sum, c) => sum + c.polls, 0) / checkouts.length;
  console.log(figureLine(`GET /basket polls per checkout (every ${BASKET_POLL_MS} ms)`, fmt(polls, 1)));
  table.figure("GET /basket polls per checkout", fmt(polls, 1));
}

async function reportConsumerLag(dbs: ServiceDatabase[], since: number, table: GoalTable): Promise<void> {
  const { lags, wholeSeconds } = await consumerLags(dbs, since);
  console.log("  consumer lag, processed_at − outbox created_at (p50 / p99 / max):");
  for (const { consumer, lagsMs, untimed } of lags) {
    const s = spread(lagsMs);
    const extra = untimed ? `, ${untimed} without a SQL outbox row` : "";
    console.log(figureLine(`  ${consumer} (${s.count} events${extra})`, `${fmt(s.p50)} / ${fmt(s.p99)} / ${fmt(s.max)} ms`, { goal: GOALS.consumerLagMax, value: s.max }));
    table.figure(`consumer lag ${consumer}, p50 / p99 / max`, `${fmt(s.p50)} / ${fmt(s.p99)} / ${fmt(s.max)} ms`, GOALS.consumerLagMax, s.max);
  }
  if (wholeSeconds.length) console.log(`  (${wholeSeconds.join(", ")}: processed_at stored in whole seconds, so their lags are ±1 s)`);
}

// ------------------------------------------------------------------------------ the scenario

/** `extraEnv` goes to every shop node (the tracing scenario turns tracing on with it). */
export async function checkoutScenario(tables: Table[], layout: Layout = layoutFromEnv(), extraEnv: NodeJS.ProcessEnv = {}, label = ""): Promise<CheckoutResult> {
  loadStackEnv();
  const databases = await freshServiceDatabases();
  const { dbs } = databases;
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "shop-bench-checkout-"));
  const tag = `bench${Date.now().toString(36)}`;
  const kafkaBrokers = process.env.TEST_KAFKA_BROKERS!.split(",");
  const total = CLIENTS * ROUNDS;
  const table = new GoalTable(`Checkout, real stack, ${layout.nodes} node${layout.nodes > 1 ? "s" : ""}${layout.transporter ? " over NATS" : ""}, ${CLIENTS} clients × ${ROUNDS} checkouts${label}`);
  tables.push(table);
  try {
    const nodes = await startShop(layout, databases, tag, dataDir, extraEnv);
    const gateways = nodes.map((n) => n.gateway);
    const admin = await new Api(gateways[0]).signIn(ADMIN.email, ADMIN.password);
    const stock = total * QUANTITY + 100;
    const product = await ok("product", admin.client.POST("/api/v1/admin/products", { body: { sku: "BENCH-1", name: "Benchmark mug", price: PRICE, stock, category: "bench" } }));
    const clients = await signUpClients(gateways);
    const clears = await watchBasketClears(kafkaBrokers, `${tag}.basket-events`, `${tag}-bench-observer`);
    const waitForClear: BasketClearWait = async (orderId, paidAt) => {
      await clears.whenCleared(orderId, 30_000);
      return clears.clearedAt(orderId)! - paidAt;
    };

    console.log(`\nCheckout on the real stack: ${CLIENTS} clients × ${ROUNDS} checkouts (add to basket, checkout, payment, pay)`);
    console.log(layoutLine(layout, nodes));
    // PostgreSQL publishes a backend's transaction counts late: let the set-up's land before the window.
    await sleep(PG_STATS_SETTLE_MS);
    const pgDatabases = dbs.filter((d) => d.kind === "postgres").map((d) => databaseName(d.url));
    const sql = await startSqlCounter(process.env.TEST_POSTGRES_URL!, process.env.TEST_MARIADB_URL!, pgDatabases);

    // ---- the clock runs from here
    const cpu = startCpuShares(nodes);
    const startedAt = Date.now();
    const t0 = performance.now();
    const checkouts = await buyRounds(clients, product.id, waitForClear);
    const seconds = (performance.now() - t0) / 1000;
    const cpuShares = cpu.stop();
    await clears.stop();
    // ---- and stops here

    const { rate, p50 } = reportFlow(checkouts, seconds, table);
    reportCpu(cpuShares, total, seconds, table);

    const pending = await waitForConsumers(kafkaBrokers, `${tag}-`, 30_000);
    if (pending > 0) console.log(`\n${pending} events still unapplied after 30 s`);
    const consistent = await checkInvariants(admin, product.id, stock, total);
    if (!consistent) process.exitCode = 1;

    // Stopped backends publish their counts at once: the SQL figures are exact from here.
    for (const node of nodes) await node.stop();
    await waitForNoBackends(process.env.TEST_POSTGRES_URL!, pgDatabases);
    reportSql(await sql.stop(), total, table, (name) => dbs.find((d) => databaseName(d.url) === name)?.service ?? name);
    reportBasketLag(checkouts, table, true);
    await reportConsumerLag(dbs, startedAt, table);
    table.figure("invariants (stock, orders, payments, revenue)", consistent ? "all hold" : "FAILED");
    return { checkoutsPerSecond: rate, flowP50Ms: p50 };
  } finally {
    await stopAll();
    await databases.drop();
    await removeShopKafka(kafkaBrokers, tag).catch((err) => console.error(`could not remove the run's Kafka topics: ${err}`));
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
}

/**
 * The same checkout on one node and on two: how far a second node carries it. Both run over NATS,
 * so that the ratio is the second node's and not the transporter's.
 */
export async function scalingScenario(tables: Table[]): Promise<void> {
  const load = os.loadavg()[0];
  const one = await checkoutScenario(tables, { nodes: 1, transporter: true });
  const two = await checkoutScenario(tables, { nodes: 2, transporter: true });
  const ratio = two.checkoutsPerSecond / one.checkoutsPerSecond;
  const cores = os.availableParallelism();
  console.log(`\nscaling 1→2 nodes: ${ratio.toFixed(2)}×, goal ${GOALS.scaling.text} when CPU is free (load average ${load.toFixed(1)} on ${cores} cores before the runs)`);
  tables.push(new GoalTable("Scaling, checkout on the real stack over NATS").figure("checkouts/s, 2 nodes ÷ 1 node", `${ratio.toFixed(2)}×`, GOALS.scaling, ratio));
}

/**
 * The same checkout on the embedded default (`npm start` with nothing set): one process, SQLite,
 * the in-process bus and memory caches; no server to count or wait for.
 */
export async function embeddedCheckoutScenario(tables: Table[]): Promise<CheckoutResult> {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "shop-bench-embedded-"));
  const total = CLIENTS * ROUNDS;
  const table = new GoalTable(`Checkout, embedded default (SQLite, in-process bus), ${CLIENTS} clients × ${ROUNDS} checkouts`);
  tables.push(table);
  try {
    const env: NodeJS.ProcessEnv = {
      ...embeddedShopEnv(dataDir), PORT: String(FIRST_PORT),
      JWT_SECRET: "bench-embedded-jwt-secret".padEnd(40, "x"), ADMIN_EMAIL: ADMIN.email, ADMIN_PASSWORD: ADMIN.password,
    };
    const started = startScript("shop.ts", env);
    const node: ShopNode = { name: `shop (pid ${started.pid})`, pid: started.pid, gateway: `http://127.0.0.1:${FIRST_PORT}`, stop: started.stop };
    await waitFor(`${node.gateway}/health/ready`, 60_000, started);
    const admin = await new Api(node.gateway).signIn(ADMIN.email, ADMIN.password);
    const stock = total * QUANTITY + 100;
    const product = await ok("product", admin.client.POST("/api/v1/admin/products", { body: { sku: "BENCH-1", name: "Benchmark mug", price: PRICE, stock, category: "bench" } }));
    const clients = await signUpClients([node.gateway]);

    console.log(`\nCheckout on the embedded default: ${CLIENTS} clients × ${ROUNDS} checkouts, 1 process (pid ${started.pid})`);
    const cpu = startCpuWindow([byPid(node.name, [node.pid]), byPid("load generator", [process.pid])]);
    const t0 = performance.now();
    const checkouts = await buyRounds(clients, product.id);
    const seconds = (performance.now() - t0) / 1000;
    const [shopCpu, client] = cpu.stop();

    const { rate, p50 } = reportFlow(checkouts, seconds, table);
    const perCheckout = shopCpu.ms / total;
    console.log(figureLine("CPU per checkout, shop (the only process)", `${fmt(perCheckout, 2)} ms`, { goal: GOALS.cpuShop, value: perCheckout }));
    console.log(figureLine("load generator (this process; not in the total)", `${fmt(client.ms / total, 2)} ms`));
    table.figure("CPU per checkout, shop (the only process)", `${fmt(perCheckout, 2)} ms`, GOALS.cpuShop, perCheckout);
    reportBasketLag(checkouts, table, false);
    const consistent = await checkInvariants(admin, product.id, stock, total);
    if (!consistent) process.exitCode = 1;
    table.figure("invariants (stock, orders, payments, revenue)", consistent ? "all hold" : "FAILED");
    return { checkoutsPerSecond: rate, flowP50Ms: p50 };
  } finally {
    await stopAll();
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
}
