/**
 * The watch every browser test relies on: it counts a request that failed, and an abort on a page
 * still open, but not what the browser cancels because the page is being left.
 */
import assert from "node:assert/strict";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { after, before, it } from "node:test";
import type { Browser, Page } from "playwright-core";
import { launch, watch } from "./support.ts";

let browser: Browser;
let server: http.Server;
let base = "";

const page = (script: string) => `<!doctype html><title>t</title><p>page</p><script>${script}</script>`;

before(async () => {
  server = http.createServer((req, res) => {
    if (req.url === "/slow") return void setTimeout(() => res.end("late"), 3_000);
    if (req.url === "/broken") return void req.socket.destroy();
    const script = new URL(req.url ?? "/", base).searchParams.get("run") ?? "";
    res.setHeader("content-type", "text/html").end(page(script));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  browser = await launch();
});

after(async () => {
  await browser?.close();
  server?.closeAllConnections();
  server?.close();
});

async function problemsOf(script: string, then: (p: Page) => Promise<void>): Promise<string[]> {
  const context = await browser.newContext();
  const problems = watch(context);
  const p = await context.newPage();
  await p.goto(`${base}/?run=${encodeURIComponent(script)}`);
  await then(p);
  await context.close();
  return problems;
}

it("does not count a request cancelled by leaving the page", async () => {
  const problems = await problemsOf("window.pending = fetch('/slow')", async (p) => {
    await p.waitForTimeout(200);
    await p.goto(`${base}/`);
  });
  assert.deepEqual(problems, []);
});

it("counts a request aborted on a page still open, and one that failed", async () => {
  const aborted = await problemsOf("const c = new AbortController(); fetch('/slow', { signal: c.signal }).catch(() => {}); setTimeout(() => c.abort(), 100)", (p) => p.waitForTimeout(500));
  assert.ok(aborted.some((problem) => /^request failed .*\/slow net::ERR_ABORTED$/.test(problem)), aborted.join("\n"));
  const broken = await problemsOf("fetch('/broken').catch(() => {})", (p) => p.waitForTimeout(500));
  assert.ok(broken.some((problem) => /^request failed .*\/broken net::ERR_/.test(problem)), broken.join("\n"));
});
