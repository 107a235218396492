/**
 * The catalog-read scenario: an embedded shop on a seeded SQLite catalog (no external server),
 * each figure next to a reference answering the same JSON:
 * - cached reads (the gateway's micro-cache answers) against a plain node:http server;
 * - an uncached product read (a second shop with HTTP_CACHE_TTL_MS=0: through the broker) against a
 *   bare moleculer-web gateway with one local action.
 * autocannon loads each server in turn from this process; reference and shop alternate over
 * ROUNDS runs and each reports its median run (on two shared cores a single run swings by 20%).
 *
 *   BENCH_SECONDS (default 10), BENCH_ROUNDS (default 3), BENCH_CONNECTIONS (default 50), BENCH_PRODUCTS (default 1000)
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { execFileSync } from "node:child_process";
import autocannon from "autocannon";
import { embeddedShopEnv, ROOT, startScript, stopAll, waitFor } from "./support/processes";
import { medianBy } from "./support/stats";
import { atLeast, atMost, fmt, Table, verdict } from "./support/report";

const SECONDS = Number(process.env.BENCH_SECONDS ?? 10);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 50);
const PRODUCTS = Number(process.env.BENCH_PRODUCTS ?? 1000);
const WARM_UP_SECONDS = 3;

const GOALS = { ratio: atLeast(0.8, "×"), p99: atMost(15, " ms") };

interface Server {
  label: string;
  port: number;
}

const SERVERS = {
  plain: { label: "plain node:http", port: 3802 },
  shop: { label: "shop", port: 3801 },
  shopUncached: { label: "shop, micro-cache off", port: 3803 },
  bare: { label: "bare moleculer-web", port: 3804 },
} satisfies Record<string, Server>;

const PRODUCT_PATH = "/api/v1/products/42";
const LIST_PATH = "/api/v1/products?category=books&sort=-price&limit=20";

/** A shop figure and the reference it is held to. */
interface Comparison {
  name: string;
  path: string;
  reference: Server;
  subject: Server;
}

const COMPARISONS: Comparison[] = [
  { name: "GET /api/v1/products/:id (cached)", path: PRODUCT_PATH, reference: SERVERS.plain, subject: SERVERS.shop },
  { name: "GET /api/v1/products/:id uncached", path: PRODUCT_PATH, reference: SERVERS.bare, subject: SERVERS.shopUncached },
  { name: "GET /api/v1/products?category=&sort=&limit=20 (cached)", path: LIST_PATH, reference: SERVERS.plain, subject: SERVERS.shop },
];

interface Figures {
  rps: number;
  p50: number;
  p99: number;
  errors: number;
}

async function load(server: Server, urlPath: string, seconds: number): Promise<Figures> {
  const result = await autocannon({ url: `http://127.0.0.1:${server.port}${urlPath}`, connections: CONNECTIONS, duration: seconds, pipelining: 1 });
  return { rps: result.requests.average, p50: result.latency.p50, p99: result.latency.p99, errors: result.errors + result.non2xx };
}

/** Reference and subject alternate; each reports its median run by req/s. */
async function measure(c: Comparison): Promise<{ reference: Figures; subject: Figures }> {
  await load(c.reference, c.path, WARM_UP_SECONDS);
  await load(c.subject, c.path, WARM_UP_SECONDS);
  const runs = { reference: [] as Figures[], subject: [] as Figures[] };
  for (let round = 0; round < ROUNDS; round++) {
    runs.reference.push(await load(c.reference, c.path, SECONDS));
    runs.subject.push(await load(c.subject, c.path, SECONDS));
  }
  return { reference: medianBy(runs.reference, (f) => f.rps), subject: medianBy(runs.subject, (f) => f.rps) };
}

const COLUMNS = [58, 24, 9, 8, 8, 8];
const row = (cells: string[]) => cells.map((cell, i) => (i < 2 ? cell.padEnd(COLUMNS[i]) : cell.padStart(COLUMNS[i]))).join("");

function printComparison(c: Comparison, figures: { reference: Figures; subject: Figures }): number {
  for (const [server, f] of [[c.reference, figures.reference], [c.subject, figures.subject]] as const) {
    console.log(row([server === c.reference ? c.name : "", server.label, fmt(f.rps), String(f.p50), String(f.p99), String(f.errors)]));
  }
  const ratio = figures.subject.rps / figures.reference.rps;
  console.log(
    `${"".padEnd(COLUMNS[0])}→ ${ratio.toFixed(2)}× ${c.reference.label} (goal ${GOALS.ratio.text}: ${verdict(ratio, GOALS.ratio)}), ` +
      `p99 ${figures.subject.p99} ms (goal ${GOALS.p99.text}: ${verdict(figures.subject.p99, GOALS.p99)})\n`,
  );
  return ratio;
}

/** Seeds a catalog into a fresh data directory and returns the shop's environment for it. */
export function seededShopEnv(dataDir: string): NodeJS.ProcessEnv {
  fs.mkdirSync(dataDir, { recursive: true });
  const env = embeddedShopEnv(dataDir);
  console.log(`Seeding ${PRODUCTS} products…`);
  execFileSync(process.execPath, ["--import", "tsx", path.join(ROOT, "scripts/seed.ts"), "--count", String(PRODUCTS)], { cwd: ROOT, env, stdio: ["ignore", "ignore", "inherit"] });
  return env;
}

/** Starts the four servers; the references answer exactly what the shop answers. */
async function startServers(dataDir: string): Promise<void> {
  const env = seededShopEnv(path.join(dataDir, "cached"));
  // The second shop reads a copy of the catalog: two processes never share one SQLite file.
  fs.cpSync(path.join(dataDir, "cached"), path.join(dataDir, "uncached"), { recursive: true });

  const shop = startScript("shop.ts", { ...env, PORT: String(SERVERS.shop.port) });
  const shopUncached = startScript("shop.ts", { ...env, DATA_DIR: path.join(dataDir, "uncached"), PORT: String(SERVERS.shopUncached.port), HTTP_CACHE_TTL_MS: "0" });
  await waitFor(`http://127.0.0.1:${SERVERS.shop.port}/health/ready`, 20_000, shop);
  await waitFor(`http://127.0.0.1:${SERVERS.shopUncached.port}/health/ready`, 20_000, shopUncached);

  const bodies: Record<string, string> = {};
  for (const p of [PRODUCT_PATH, LIST_PATH]) bodies[p] = await (await fetch(`http://127.0.0.1:${SERVERS.shop.port}${p}`)).text();
  const uncached = await (await fetch(`http://127.0.0.1:${SERVERS.shopUncached.port}${PRODUCT_PATH}`)).text();
  if (uncached !== bodies[PRODUCT_PATH]) throw new Error("the two shops answer different products: the comparison would be unfair");

  const routesFile = path.join(dataDir, "routes.json");
  fs.writeFileSync(routesFile, JSON.stringify(bodies));
  const productFile = path.join(dataDir, "product.json");
  fs.writeFileSync(productFile, bodies[PRODUCT_PATH]);
  const plain = startScript("bench/plain-server.ts", { ...process.env, PORT: String(SERVERS.plain.port) }, [routesFile]);
  const bare = startScript("bench/bare-gateway.ts", { ...process.env, PORT: String(SERVERS.bare.port) }, [productFile]);
  await waitFor(`http://127.0.0.1:${SERVERS.plain.port}${PRODUCT_PATH}`, 20_000, plain);
  await waitFor(`http://127.0.0.1:${SERVERS.bare.port}${PRODUCT_PATH}`, 20_000, bare);
}

export async function catalogScenario(tables: Table[]): Promise<void> {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "shop-bench-"));
  const table = new Table(`Catalog reads, embedded shop, ${CONNECTIONS} connections, median of ${ROUNDS} × ${SECONDS} s`, [
    "scenario", "reference", "reference req/s", "shop req/s", `ratio (goal ${GOALS.ratio.text})`, `shop p50 / p99 (goal p99 ${GOALS.p99.text})`,
  ]);
  tables.push(table);
  try {
    await startServers(dataDir);
    console.log(`\n${CONNECTIONS} connections, median of ${ROUNDS} alternating ${SECONDS} s runs after a ${WARM_UP_SECONDS} s warm-up, ${os.availableParallelism()} cores, Node ${process.version}\n`);
    console.log(row(["scenario", "server", "req/s", "p50 ms", "p99 ms", "errors"]));
    for (const c of COMPARISONS) {
      const figures = await measure(c);
      const ratio = printComparison(c, figures);
      table.add(
        `\`${c.path}\`${c.subject === SERVERS.shopUncached ? " (micro-cache off)" : ""}`,
        c.reference.label,
        fmt(figures.reference.rps),
        fmt(figures.subject.rps),
        `${ratio.toFixed(2)}× ${verdict(ratio, GOALS.ratio)}`,
        `${figures.subject.p50} ms / ${figures.subject.p99} ms ${verdict(figures.subject.p99, GOALS.p99)}`,
      );
    }
  } finally {
    await stopAll();
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
}
