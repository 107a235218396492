/**
 * The storefront's first load on the embedded default: the JavaScript index.html loads (gzip; goal
 * under 200 KB) and, over cold loads in Debian's Chromium (a new browser context each: no cache),
 * the time from navigation start until the catalog's first "Add to basket" button can be clicked
 * (goal: median under 1 s), next to DOMContentLoaded.
 */
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import { createRequire } from "node:module";
import os from "node:os";
import path from "node:path";
import zlib from "node:zlib";
import { seededShopEnv } from "./catalog";
import { ROOT, startScript, stopAll, waitFor } from "./support/processes";
import { atMost, figureLine, fmt, GoalTable, type Table } from "./support/report";
import { percentile } from "./support/stats";

const LOADS = Number(process.env.BENCH_LOADS ?? 7);
const PORT = 3871;
const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
const GOALS = { jsKb: atMost(200, " KB"), interactiveMs: atMost(1000, " ms") };

/** What this benchmark uses of playwright-core (typed here: the root project has neither its types nor the DOM's). */
interface Browser {
  newContext(): Promise<{ newPage(): Promise<Page>; close(): Promise<void> }>;
  close(): Promise<void>;
}
interface Page {
  goto(url: string, opts: { waitUntil: "commit" }): Promise<unknown>;
  locator(selector: string, opts: { hasText: string }): { first(): { waitFor(opts: { state: "visible"; timeout: number }): Promise<void> } };
  evaluate<T>(expression: string): Promise<T>;
}

/** The JavaScript index.html loads (its entry and the chunks it preloads), gzipped at level 9. */
function firstLoadJsBytes(): number {
  const dist = path.join(ROOT, "web/dist");
  const html = fs.readFileSync(path.join(dist, "index.html"), "utf8");
  const scripts = [...html.matchAll(/(?:src|href)="(\/assets\/[^"]+\.js)"/g)].map((m) => m[1]);
  return scripts.reduce((sum, src) => sum + zlib.gzipSync(fs.readFileSync(path.join(dist, src)), { level: 9 }).length, 0);
}

export async function storefrontScenario(tables: Table[]): Promise<void> {
  execFileSync("bash", [path.join(ROOT, "scripts/web.sh"), "ensure"], { cwd: ROOT, stdio: ["ignore", "ignore", "inherit"] });
  // playwright-core is the storefront's own dev dependency (web/node_modules).
  const { chromium } = createRequire(path.join(ROOT, "web/package.json"))("playwright-core") as { chromium: { launch(opts: object): Promise<Browser> } };
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "shop-bench-storefront-"));
  const table = new GoalTable(`Storefront first load, embedded default, ${LOADS} cold loads in headless Chromium`);
  tables.push(table);
  const browser = await chromium.launch({ executablePath: CHROMIUM, headless: true });
  try {
    const shop = startScript("shop.ts", { ...seededShopEnv(dataDir), PORT: String(PORT) });
    await waitFor(`http://127.0.0.1:${PORT}/health/ready`, 30_000, shop);

    const interactive: number[] = [];
    const domContentLoaded: number[] = [];
    for (let i = 0; i < LOADS; i++) {
      const context = await browser.newContext();
      const page = await context.newPage();
      await page.goto(`http://127.0.0.1:${PORT}/`, { waitUntil: "commit" });
      await page.locator("button:not([disabled])", { hasText: "Add to basket" }).first().waitFor({ state: "visible", timeout: 30_000 });
      // Both in the page's own clock, from navigation start.
      const [ready, dcl] = await page.evaluate<[number, number]>('[performance.now(), performance.getEntriesByType("navigation")[0].domContentLoadedEventEnd]');
      interactive.push(ready);
      domContentLoaded.push(dcl);
      await context.close();
    }

    const jsKb = firstLoadJsBytes() / 1024;
    const median = percentile(interactive, 50);
    console.log(`\nStorefront first load on the embedded default (${LOADS} cold loads, headless ${CHROMIUM}):`);
    console.log(figureLine("first-load JavaScript, gzip", `${fmt(jsKb, 1)} KB`, { goal: GOALS.jsKb, value: jsKb }));
    console.log(figureLine("DOMContentLoaded, median", `${fmt(percentile(domContentLoaded, 50))} ms`));
    console.log(figureLine("first product clickable, median", `${fmt(median)} ms`, { goal: GOALS.interactiveMs, value: median }));
    console.log(figureLine("first product clickable, slowest", `${fmt(Math.max(...interactive))} ms`));
    table.figure("first-load JavaScript, gzip", `${fmt(jsKb, 1)} KB`, GOALS.jsKb, jsKb);
    table.figure("DOMContentLoaded, median", `${fmt(percentile(domContentLoaded, 50))} ms`);
    table.figure("first product clickable, median / slowest", `${fmt(median)} / ${fmt(Math.max(...interactive))} ms`, GOALS.interactiveMs, median);
  } finally {
    await browser.close();
    await stopAll();
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
}
