/**
 * The checkout scenario on the real stack (scripts/stack.sh up): a shop node on PostgreSQL, MariaDB,
 * Redis and Kafka; CLIENTS customers at once, each registering and then buying ROUNDS times (add to
 * basket, checkout, create the payment, pay). Prints completed checkouts/s and p50/p99 of the whole
 * flow, then checks that stock, orders and payments add up once every event has been applied.
 *
 *   BENCH_CLIENTS (default 20), BENCH_ROUNDS (default 10)
 */
import { execFileSync, spawn } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { freshDatabase } from "../test/support/databases";

const ROOT = path.resolve(__dirname, "..");
const TSX = path.join(ROOT, "node_modules", ".bin", "tsx");
const CLIENTS = Number(process.env.BENCH_CLIENTS ?? 20);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 10);
const PORT = 3811;
const base = `http://127.0.0.1:${PORT}/api/v1`;

async function call(method: string, url: string, body?: unknown, token?: string, key?: string): Promise<any> {
  const res = await fetch(`${base}${url}`, {
    method,
    headers: { "content-type": "application/json", ...(token && { authorization: `Bearer ${token}` }), ...(key && { "idempotency-key": key }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const json = res.status === 204 ? null : await res.json();
  if (res.status >= 400) throw new Error(`${method} ${url}: ${res.status} ${JSON.stringify(json)}`);
  return json;
}

const percentile = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];

export async function checkoutScenario(): Promise<void> {
  // The stack's TEST_* variables say where the servers are.
  for (const line of execFileSync("bash", [path.join(ROOT, "scripts/stack.sh"), "env", "--test"], { encoding: "utf8" }).split("\n")) {
    const m = /^export (\w+)=(.*)$/.exec(line);
    if (m) process.env[m[1]] = m[2];
  }
  const dbs = await Promise.all(["postgres", "postgres", "postgres", "mariadb", "postgres"].map((k) => freshDatabase(k as "postgres" | "mariadb")));
  const [users, products, orders, payments, notifications] = dbs;
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "shop-bench-checkout-"));
  const tag = `bench${Date.now().toString(36)}`;
  const env = {
    ...process.env,
    PORT: String(PORT), DATA_DIR: dataDir, LOG_LEVEL: "warn", NAMESPACE: tag, API_RATE_LIMIT: "0", AUTH_RATE_LIMIT: "0",
    KAFKA_BROKERS: process.env.TEST_KAFKA_BROKERS, KAFKA_TOPIC_PREFIX: `${tag}.`, REDIS_URL: process.env.TEST_REDIS_URL,
    USERS_DB_URL: users.url, PRODUCTS_DB_URL: products.url, ORDERS_DB_URL: orders.url, PAYMENTS_DB_URL: payments.url, NOTIFICATIONS_DB_URL: notifications.url,
    ADMIN_EMAIL: "admin@bench.test", ADMIN_PASSWORD: "admin password 1",
  };
  const shop = spawn(TSX, ["--experimental-async-context-frame", path.join(ROOT, "shop.ts")], { env, stdio: ["ignore", "ignore", "inherit"] });
  try {
    const deadline = Date.now() + 60_000;
    while ((await fetch(`http://127.0.0.1:${PORT}/health/ready`).then((r) => r.status, () => 0)) !== 200) {
      if (Date.now() > deadline) throw new Error("the shop did not become ready");
      await new Promise((r) => setTimeout(r, 200));
    }
    const admin = (await call("POST", "/users/login", { email: "admin@bench.test", password: "admin password 1" })).accessToken;
    const stock = CLIENTS * ROUNDS * 2 + 100;
    const product = await call("POST", "/admin/products", { sku: "BENCH-1", name: "Benchmark mug", price: 1250, stock, category: "bench" }, admin);

    console.log(`\nCheckout on the real stack: ${CLIENTS} clients x ${ROUNDS} checkouts (add to basket, checkout, payment, pay)`);
    const latencies: number[] = [];
    const started = Date.now();
    await Promise.all(
      Array.from({ length: CLIENTS }, async (_, c) => {
        const email = `client${c}@bench.test`;
        await call("POST", "/users/register", { email, password: "bench password", firstName: "B", lastName: `${c}` });
        const token = (await call("POST", "/users/login", { email, password: "bench password" })).accessToken;
        for (let r = 0; r < ROUNDS; r++) {
          const t0 = performance.now();
          await call("POST", "/basket/items", { productId: product.id, quantity: 2 }, token);
          const order = await call("POST", "/orders", {}, token, `c${c}-o${r}`);
          const payment = await call("POST", "/payments", { orderId: order.id }, token, `c${c}-p${r}`);
          const paid = await call("POST", `/payments/${payment.id}/process`, { paymentMethod: "pm_card_visa" }, token);
          if (paid.status !== "completed") throw new Error(`payment ${payment.id} is ${paid.status}`);
          latencies.push(performance.now() - t0);
          // The next round's basket must be empty: wait for payment.completed to clear it.
          while ((await call("GET", "/basket", undefined, token)).itemCount > 0) await new Promise((res) => setTimeout(res, 5));
        }
      }),
    );
    const seconds = (Date.now() - started) / 1000;
    latencies.sort((a, b) => a - b);
    const total = CLIENTS * ROUNDS;
    console.log(`completed checkouts: ${total} in ${seconds.toFixed(1)} s = ${(total / seconds).toFixed(1)}/s`);
    console.log(`flow latency (basket, checkout, payment, pay): p50 ${percentile(latencies, 50).toFixed(0)} ms, p99 ${percentile(latencies, 99).toFixed(0)} ms`);

    // Everything adds up once every event has been applied.
    const settleDeadline = Date.now() + 60_000;
    let after: any;
    while (Date.now() < settleDeadline) {
      after = await call("GET", `/admin/products/${product.id}`, undefined, admin);
      if (after.stock === stock - 2 * total) break;
      await new Promise((r) => setTimeout(r, 200));
    }
    const paidOrders = (await call("GET", "/admin/orders?status=paid&limit=1", undefined, admin)).total;
    const stats = await call("GET", "/admin/payments/stats", undefined, admin);
    const checks = {
      "stock down by exactly 2 per checkout": after.stock === stock - 2 * total && after.available === after.stock,
      "every order paid": paidOrders === total,
      "one completed payment per order": stats.count.completed === total,
      "revenue equals the orders' total": stats.revenue.USD === total * 2 * 1250,
    };
    for (const [check, ok] of Object.entries(checks)) console.log(`${ok ? "ok  " : "FAIL"} ${check}`);
    if (!Object.values(checks).every(Boolean)) process.exitCode = 1;
  } finally {
    shop.kill("SIGTERM");
    await new Promise((r) => shop.once("exit", r));
    await Promise.all(dbs.map((d) => d.drop()));
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
}
