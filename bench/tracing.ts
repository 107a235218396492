/**
 * What tracing costs: the same shops with tracing off, on with every trace exported over
 * OTLP/protobuf (OTEL_TRACES_SAMPLER=always_on: the worst case), and on with one trace in ten kept
 * (parentbased_traceidratio 0.1: what a busy production would run), side by side.
 * - Catalog reads on the embedded shop (seeded SQLite, no external server): a product read through
 *   the broker (micro-cache off: HTTP span, gateway route, action), and the same read answered by
 *   the gateway's micro-cache (HTTP span only). The three alternate over ROUNDS runs; the median of
 *   each is compared.
 * - The checkout on the real stack (bench/checkout.ts), once with tracing off, once on
 *   (BENCH_TRACING_CHECKOUT=0 leaves it out).
 * The spans go to a sink in this process that answers 200 and counts them by request.
 *
 *   BENCH_SECONDS (default 10), BENCH_ROUNDS (default 3), BENCH_CONNECTIONS (default 50), BENCH_PRODUCTS (default 1000)
 */
import fs from "node:fs";
import http from "node:http";
import os from "node:os";
import path from "node:path";
import type { AddressInfo } from "node:net";
import autocannon from "autocannon";
import { seededShopEnv } from "./catalog";
import { checkoutScenario, layoutFromEnv } from "./checkout";
import { startScript, stopAll, waitFor } from "./support/processes";
import { medianBy } from "./support/stats";
import { fmt, Table } from "./support/report";

const SECONDS = Number(process.env.BENCH_SECONDS ?? 10);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 50);
const WARM_UP_SECONDS = 3;
const PRODUCT_PATH = "/api/v1/products/42";

interface Figures {
  rps: number;
  p50: number;
  p99: number;
  errors: number;
}

/** An OTLP/HTTP endpoint that takes every export and keeps only the count. */
async function startSink(): Promise<{ url: string; exports: () => number; close: () => Promise<void> }> {
  let exports = 0;
  const server = http.createServer((req, res) => {
    req.resume();
    req.on("end", () => {
      exports++;
      res.writeHead(200, { "content-type": "application/x-protobuf" });
      res.end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}`, exports: () => exports, close: () => new Promise((r) => server.close(() => r())) };
}

async function load(port: number, seconds: number): Promise<Figures> {
  const result = await autocannon({ url: `http://127.0.0.1:${port}${PRODUCT_PATH}`, connections: CONNECTIONS, duration: seconds, pipelining: 1 });
  return { rps: result.requests.average, p50: result.latency.p50, p99: result.latency.p99, errors: result.errors + result.non2xx };
}

/** The shops load in turn, round after round; each reports its median run by req/s. */
async function compare(ports: number[]): Promise<Figures[]> {
  for (const port of ports) await load(port, WARM_UP_SECONDS);
  const runs: Figures[][] = ports.map(() => []);
  for (let round = 0; round < ROUNDS; round++) for (const [i, port] of ports.entries()) runs[i].push(await load(port, SECONDS));
  return runs.map((r) => medianBy(r, (f) => f.rps));
}

export async function tracingScenario(tables: Table[]): Promise<void> {
  const sink = await startSink();
  const tracingOn = { OTEL_EXPORTER_OTLP_ENDPOINT: sink.url, OTEL_EXPORTER_OTLP_PROTOCOL: "http/protobuf", OTEL_TRACES_SAMPLER: "always_on" };
  const tracingTenth = { ...tracingOn, OTEL_TRACES_SAMPLER: "parentbased_traceidratio", OTEL_TRACES_SAMPLER_ARG: "0.1" };
  const table = new Table(`Tracing off and on, ${CONNECTIONS} connections, median of ${ROUNDS} × ${SECONDS} s`, [
    "scenario", "off req/s", "on, all traces: req/s (÷ off)", "on, 1 trace in 10: req/s (÷ off)", "p99 off / all / 1 in 10",
  ]);
  tables.push(table);
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "shop-bench-tracing-"));
  try {
    const env = seededShopEnv(path.join(dataDir, "seed"));
    const shops = [
      { name: "`GET /api/v1/products/:id` through the broker (micro-cache off)", ports: [3821, 3822, 3823], extra: { HTTP_CACHE_TTL_MS: "0" } },
      { name: "`GET /api/v1/products/:id` from the gateway's micro-cache", ports: [3824, 3825, 3826], extra: {} },
    ];
    for (const shop of shops) {
      for (const [i, tracing] of [{}, tracingOn, tracingTenth].entries()) {
        const port = shop.ports[i];
        // Each process its own copy of the catalog: two processes never share one SQLite file.
        const dir = path.join(dataDir, String(port));
        fs.cpSync(path.join(dataDir, "seed"), dir, { recursive: true });
        const started = startScript("shop.ts", { ...env, ...shop.extra, ...tracing, DATA_DIR: dir, PORT: String(port) });
        await waitFor(`http://127.0.0.1:${port}/health/ready`, 20_000, started);
      }
    }
    console.log(`\nTracing off and on: ${CONNECTIONS} connections, median of ${ROUNDS} alternating ${SECONDS} s runs, ${os.availableParallelism()} cores, Node ${process.version}\n`);
    for (const shop of shops) {
      const before = sink.exports();
      const [off, all, tenth] = await compare(shop.ports);
      const ratio = (f: Figures) => `${(f.rps / off.rps).toFixed(2)}×`;
      console.log(
        `${shop.name}\n  off ${fmt(off.rps)} req/s (p99 ${off.p99} ms), on ${fmt(all.rps)} req/s (p99 ${all.p99} ms) ${ratio(all)}, ` +
          `on at 1 in 10 ${fmt(tenth.rps)} req/s (p99 ${tenth.p99} ms) ${ratio(tenth)}; ${sink.exports() - before} exports received\n`,
      );
      table.add(shop.name, fmt(off.rps), `${fmt(all.rps)} (${ratio(all)})`, `${fmt(tenth.rps)} (${ratio(tenth)})`, `${off.p99} / ${all.p99} / ${tenth.p99} ms`);
    }
    await stopAll();

    if (process.env.BENCH_TRACING_CHECKOUT !== "0") {
      const layout = layoutFromEnv();
      const off = await checkoutScenario(tables, layout, {}, ", tracing off");
      const on = await checkoutScenario(tables, layout, tracingOn, ", tracing on");
      const ratio = on.checkoutsPerSecond / off.checkoutsPerSecond;
      console.log(`\ncheckout, tracing on ÷ off: ${ratio.toFixed(2)}× checkouts/s (flow p50 ${fmt(off.flowP50Ms)} → ${fmt(on.flowP50Ms)} ms)`);
      table.add(
        `checkout, real stack (${layout.nodes} node${layout.nodes > 1 ? "s" : ""}): checkouts/s (flow p50)`,
        `${fmt(off.checkoutsPerSecond, 1)} (${fmt(off.flowP50Ms)} ms)`,
        `${fmt(on.checkoutsPerSecond, 1)} (${fmt(on.flowP50Ms)} ms) (${ratio.toFixed(2)}×)`,
        "",
        "",
      );
    }
  } finally {
    await stopAll();
    await sink.close();
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
}
