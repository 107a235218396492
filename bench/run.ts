/**
 * npm run bench [catalog|checkout]: both scenarios by default.
 *
 * catalog: the catalog-read scenario. A seeded embedded shop and a plain node:http server
 * answering the same bytes run side by side; autocannon loads each in turn from this process.
 *
 *   BENCH_SECONDS (default 10), BENCH_ROUNDS (default 3), BENCH_CONNECTIONS (default 50), BENCH_PRODUCTS (default 1000)
 */
import { execFileSync, fork, spawn, type ChildProcess } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import autocannon from "autocannon";
import { checkoutScenario } from "./checkout";

const ROOT = path.resolve(__dirname, "..");
const TSX = path.join(ROOT, "node_modules", ".bin", "tsx");
const SECONDS = Number(process.env.BENCH_SECONDS ?? 10);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 50);
const PRODUCTS = Number(process.env.BENCH_PRODUCTS ?? 1000);
const SHOP_PORT = 3801;
const PLAIN_PORT = 3802;

interface Figures {
  rps: number;
  p50: number;
  p99: number;
  errors: number;
}

async function load(url: string, seconds: number): Promise<Figures> {
  const result = await autocannon({ url, connections: CONNECTIONS, duration: seconds, pipelining: 1 });
  return { rps: result.requests.average, p50: result.latency.p50, p99: result.latency.p99, errors: result.errors + result.non2xx };
}

async function waitFor(url: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    try {
      if ((await fetch(url)).status === 200) return;
    } catch {
      /* not up yet */
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${url} not ready within ${timeoutMs} ms`);
}

async function catalogScenario(): Promise<void> {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "shop-bench-"));
  const env = { ...process.env, DATA_DIR: dataDir, LOG_LEVEL: "warn", PORT: String(SHOP_PORT), API_RATE_LIMIT: "0", AUTH_RATE_LIMIT: "0" };
  const children: ChildProcess[] = [];
  const cleanup = () => {
    for (const c of children) c.kill("SIGTERM");
    fs.rmSync(dataDir, { recursive: true, force: true });
  };
  process.on("SIGINT", () => (cleanup(), process.exit(130)));
  try {
    console.log(`Seeding ${PRODUCTS} products…`);
    execFileSync(TSX, [path.join(ROOT, "scripts/seed.ts"), "--count", String(PRODUCTS)], { env, stdio: ["ignore", "ignore", "inherit"] });

    // As `npm start` runs it (see package.json).
    const shop = spawn(TSX, ["--experimental-async-context-frame", path.join(ROOT, "shop.ts")], { env, stdio: ["ignore", "ignore", "inherit"] });
    children.push(shop);
    await waitFor(`http://127.0.0.1:${SHOP_PORT}/health/ready`, 20_000);

    const scenarios = [
      { name: "GET /api/v1/products/:id (cached)", path: "/api/v1/products/42" },
      { name: "GET /api/v1/products?category=&sort=&limit=20 (cached)", path: "/api/v1/products?category=books&sort=-price&limit=20" },
    ];
    // The plain server answers exactly the bytes the gateway answers.
    const bodies: Record<string, string> = {};
    for (const s of scenarios) bodies[s.path] = await (await fetch(`http://127.0.0.1:${SHOP_PORT}${s.path}`)).text();
    const routesFile = path.join(dataDir, "routes.json");
    fs.writeFileSync(routesFile, JSON.stringify(bodies));
    const plain = fork(path.join(__dirname, "plain-server.ts"), [routesFile], { env: { ...env, PORT: String(PLAIN_PORT) }, execPath: TSX, execArgv: [] });
    children.push(plain);
    await new Promise((r) => plain.once("message", r));

    console.log(`\n${CONNECTIONS} connections, median of ${ROUNDS} alternating ${SECONDS} s runs after a 3 s warm-up, ${os.cpus().length} cores, Node ${process.version}\n`);
    console.log("scenario".padEnd(58) + "server".padEnd(8) + "req/s".padStart(9) + "p50 ms".padStart(8) + "p99 ms".padStart(8) + "errors".padStart(8) + "ratio".padStart(8));
    for (const s of scenarios) {
      // Plain and shop alternate over ROUNDS runs and each reports its median run (by req/s):
      // on two shared cores a single run swings by 20% or more.
      const runs: Record<"plain" | "shop", Figures[]> = { plain: [], shop: [] };
      for (const [, port] of [["plain", PLAIN_PORT], ["shop", SHOP_PORT]] as const) await load(`http://127.0.0.1:${port}${s.path}`, 3);
      for (let round = 0; round < ROUNDS; round++) {
        for (const [server, port] of [["plain", PLAIN_PORT], ["shop", SHOP_PORT]] as const) runs[server].push(await load(`http://127.0.0.1:${port}${s.path}`, SECONDS));
      }
      const median = (figures: Figures[]) => [...figures].sort((a, b) => a.rps - b.rps)[Math.floor(figures.length / 2)];
      const results = { plain: median(runs.plain), shop: median(runs.shop) };
      const ratio = results.shop.rps / results.plain.rps;
      for (const server of ["plain", "shop"] as const) {
        const f = results[server];
        console.log(
          s.name.padEnd(58) + server.padEnd(8) + f.rps.toFixed(0).padStart(9) + String(f.p50).padStart(8) + String(f.p99).padStart(8) + String(f.errors).padStart(8) +
            (server === "shop" ? `${ratio.toFixed(2)}x`.padStart(8) : "".padStart(8)),
        );
      }
    }
    console.log("\nGoal (catalog read): shop >= 0.80x the plain server's req/s, p99 < 15 ms at 50 connections.");
  } finally {
    cleanup();
  }
}

async function main(): Promise<void> {
  const wanted = process.argv[2];
  if (!wanted || wanted === "catalog") await catalogScenario();
  if (!wanted || wanted === "checkout") await checkoutScenario();
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
