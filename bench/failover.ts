/**
 * Failover: how long reads suffer when a node dies. On the real stack, a gateway, a node with the
 * other contexts and two products nodes over NATS; READERS clients read products (micro-cache off,
 * so every read crosses to a products node) while one products node is killed with SIGKILL.
 *
 * Printed: failed reads (goal 0), read latency before the kill and in the seconds after it, the
 * slowest read, and the failover time: from the kill until the last read slower than the steady
 * state's p99 × 10 finished (the reads caught on the dead node waiting READ_TIMEOUT_MS, then
 * answered by the other node). The same with `LOAD_BALANCER=RoundRobin RETRIES=0` in the
 * environment shows what Moleculer's own balancer does without retries.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { loadStackEnv, realStackEnv } from "./checkout";
import { freshServiceDatabases } from "../test/support/databases";
import { removeShopKafka } from "../test/support/kafka";
import { sleep, startScript, stopAll, waitFor, type Started } from "./support/processes";
import { atMost, figureLine, fmt, GoalTable, type Table } from "./support/report";
import { percentile } from "./support/stats";

const READERS = Number(process.env.BENCH_READERS ?? 20);
const BEFORE_MS = 5_000;
const AFTER_MS = 10_000;
const PORT = 3890;
const ADMIN = { email: "admin@failover.bench", password: "failover admin 1" };

interface Read {
  startedAt: number;
  ms: number;
  ok: boolean;
}

export async function failoverScenario(tables: Table[]): Promise<void> {
  loadStackEnv();
  const databases = await freshServiceDatabases();
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "shop-bench-failover-"));
  const tag = `failover${Date.now().toString(36)}`;
  const env: NodeJS.ProcessEnv = { ...realStackEnv(tag, dataDir, databases), LOG_LEVEL: "error", TRANSPORTER: process.env.TEST_NATS_URL };
  const balancing = `LOAD_BALANCER=${process.env.LOAD_BALANCER ?? "transporter"}, READ_TIMEOUT_MS=${process.env.READ_TIMEOUT_MS ?? "2000"}, RETRIES=${process.env.RETRIES ?? "3"}`;
  const table = new GoalTable(`Failover, real stack: gateway, core node, two products nodes over NATS; ${READERS} readers; one products node SIGKILLed (${balancing})`);
  tables.push(table);
  const gatewayUrl = `http://127.0.0.1:${PORT}`;
  try {
    const node = (id: string, services: string, extra: NodeJS.ProcessEnv = {}): Started => startScript("shop.ts", { ...env, NODE_ID: id, SERVICES: services, PORT: "0", ...extra });
    node("core", "users,baskets,orders,payments,notifications", { ADMIN_EMAIL: ADMIN.email, ADMIN_PASSWORD: ADMIN.password });
    const victim = node("products-1", "products");
    const gateway = node("gateway", "api", { PORT: String(PORT), HTTP_CACHE_TTL_MS: "0" });
    await waitFor(`${gatewayUrl}/health/ready`, 90_000, gateway);
    node("products-2", "products");
    const token = ((await (await fetch(`${gatewayUrl}/api/v1/users/login`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(ADMIN) })).json()) as { accessToken: string }).accessToken;
    const auth = { authorization: `Bearer ${token}`, "content-type": "application/json" };
    // Both products nodes serving before the clock starts.
    for (const deadline = Date.now() + 60_000; ; ) {
      const view = (await (await fetch(`${gatewayUrl}/api/v1/admin/cluster`, { headers: auth })).json()) as { nodes: { available: boolean; services: string[] }[] };
      if (view.nodes.filter((n) => n.available && n.services.includes("products")).length === 2) break;
      if (Date.now() > deadline) throw new Error("products-2 did not join");
      await sleep(200);
    }
    const product = (await (await fetch(`${gatewayUrl}/api/v1/admin/products`, { method: "POST", headers: auth, body: JSON.stringify({ sku: "FAILOVER-1", name: "Failover mug", price: 1000, stock: 10, category: "bench" }) })).json()) as { id: number };

    const reads: Read[] = [];
    let running = true;
    const reader = async () => {
      while (running) {
        const startedAt = performance.now();
        const ok = await fetch(`${gatewayUrl}/api/v1/products/${product.id}`, { signal: AbortSignal.timeout(30_000) }).then(async (r) => r.status === 200 && ((await r.json()) as { id: number }).id === product.id, () => false);
        reads.push({ startedAt, ms: performance.now() - startedAt, ok });
      }
    };
    const load = Promise.all(Array.from({ length: READERS }, reader));
    await sleep(BEFORE_MS);
    const killedAt = performance.now();
    process.kill(victim.pid, "SIGKILL");
    await sleep(AFTER_MS);
    running = false;
    await load;

    const before = reads.filter((r) => r.startedAt + r.ms < killedAt);
    const steadyP99 = percentile(before.map((r) => r.ms), 99);
    const after = reads.filter((r) => r.startedAt + r.ms >= killedAt);
    const slowAfter = after.filter((r) => r.ms > Math.max(10 * steadyP99, 50));
    const failoverMs = slowAfter.length ? Math.max(...slowAfter.map((r) => r.startedAt + r.ms)) - killedAt : 0;
    const failed = reads.filter((r) => !r.ok).length;
    const slowest = Math.max(...reads.map((r) => r.ms));

    console.log(`\nFailover: ${READERS} readers, SIGKILL of products-1 after ${BEFORE_MS / 1000} s, ${AFTER_MS / 1000} s more (${balancing})`);
    console.log(figureLine("reads, failed", `${fmt(reads.length)}, ${fmt(failed)}`, { goal: atMost(0), value: failed }));
    console.log(figureLine("read p50 / p99 before the kill", `${fmt(percentile(before.map((r) => r.ms), 50), 1)} / ${fmt(steadyP99, 1)} ms`));
    console.log(figureLine("read p50 / p99 after the kill", `${fmt(percentile(after.map((r) => r.ms), 50), 1)} / ${fmt(percentile(after.map((r) => r.ms), 99), 1)} ms`));
    console.log(figureLine("reads slowed by the kill (> 10 × p99)", fmt(slowAfter.length)));
    console.log(figureLine("slowest read", `${fmt(slowest)} ms`, { goal: atMost(2000, " ms"), value: slowest }));
    console.log(figureLine("failover time (kill → last slowed read answered)", `${fmt(failoverMs)} ms`));
    table.figure("reads / failed", `${fmt(reads.length)} / ${fmt(failed)}`, atMost(0), failed);
    table.figure("read p50 / p99 before the kill", `${fmt(percentile(before.map((r) => r.ms), 50), 1)} / ${fmt(steadyP99, 1)} ms`);
    table.figure("reads slowed by the kill (> 10 × p99)", fmt(slowAfter.length));
    table.figure("slowest read", `${fmt(slowest)} ms`, atMost(2000, " ms"), slowest);
    table.figure("failover time (kill → last slowed read answered)", `${fmt(failoverMs)} ms`);
    if (failed > 0) process.exitCode = 1;
  } finally {
    await stopAll();
    await databases.drop();
    await removeShopKafka(process.env.TEST_KAFKA_BROKERS!.split(","), tag).catch(() => undefined);
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
}
