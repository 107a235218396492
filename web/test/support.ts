/**
 * Browser tests' plumbing: the embedded shop in a child process (Node with tsx's loader, so the
 * signal reaches the process that does the work) on a free port with its own data directory and a
 * first admin, Debian's Chromium driven by playwright-core, and a watch on every page for console
 * errors, uncaught exceptions, CSP violations and failed requests.
 */
import { spawn, type ChildProcess } from "node:child_process";
import fs from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { chromium, type Browser, type BrowserContext, type Page, type Request } from "playwright-core";

export const ROOT = path.resolve(import.meta.dirname, "../..");
export const ADMIN = { email: "admin@web.test", password: "admin password 1" };
export const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
/** Where screenshots go: web/test-results by default; scripts/web.sh screenshots points it at docs/screenshots. */
export const SCREENSHOT_DIR = path.resolve(ROOT, process.env.SCREENSHOT_DIR ?? "web/test-results");

export interface Shop {
  url: string;
  child: ChildProcess;
  output: () => string;
  stop(): Promise<void>;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

/**
 * The embedded shop in a child process; or, with WEB_TEST_SHOP_URL, a shop already running (the
 * real stack, for instance), which must be fresh, have the admin ADMIN and run with `env`.
 */
export async function startShop(env: Record<string, string> = {}): Promise<Shop> {
  if (process.env.WEB_TEST_SHOP_URL) {
    const url = process.env.WEB_TEST_SHOP_URL.replace(/\/$/, "");
    return { url, child: undefined as unknown as ChildProcess, output: () => "", stop: async () => undefined };
  }
  if (!fs.existsSync(path.join(ROOT, "web/dist/index.html"))) throw new Error("web/dist is not built: run scripts/web.sh build");
  const port = await freePort();
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "shop-web-"));
  const child = spawn(process.execPath, ["--experimental-async-context-frame", "--import", "tsx", path.join(ROOT, "shop.ts")], {
    cwd: ROOT,
    env: {
      PATH: process.env.PATH ?? "",
      HOME: process.env.HOME ?? "/tmp",
      PORT: String(port),
      DATA_DIR: dataDir,
      LOG_LEVEL: "warn",
      LOG_FORMAT: "text",
      JWT_SECRET: "web-test-secret-".padEnd(48, "x"),
      ADMIN_EMAIL: ADMIN.email,
      ADMIN_PASSWORD: ADMIN.password,
      // One address signs many people up; the limits have their own e2e test.
      API_RATE_LIMIT: "0",
      AUTH_RATE_LIMIT: "0",
      ...env,
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  child.stdout?.on("data", (d) => (out += d));
  child.stderr?.on("data", (d) => (out += d));
  const url = `http://127.0.0.1:${port}`;
  const stop = () =>
    new Promise<void>((resolve) => {
      const done = () => {
        fs.rmSync(dataDir, { recursive: true, force: true });
        resolve();
      };
      if (child.exitCode !== null || child.signalCode !== null) return done();
      const timer = setTimeout(() => child.kill("SIGKILL"), 15_000);
      child.once("exit", () => {
        clearTimeout(timer);
        done();
      });
      child.kill("SIGTERM");
    });
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`the shop exited (${child.exitCode}):\n${out}`);
    const ready = await fetch(`${url}/health/ready`).then((r) => r.status === 200, () => false);
    if (ready) break;
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`the shop was not ready within 60 s:\n${out}`);
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  return { url, child, output: () => out, stop };
}

/** A JSON call to the shop's API from the test (seeding, checking what the page says). */
export async function call<T = any>(shop: Shop, pathname: string, init: { method?: string; body?: unknown; token?: string } = {}): Promise<T> {
  const headers: Record<string, string> = {};
  if (init.token) headers.authorization = `Bearer ${init.token}`;
  if (init.body !== undefined) headers["content-type"] = "application/json";
  const res = await fetch(`${shop.url}/api/v1${pathname}`, { method: init.method ?? "GET", headers, body: init.body === undefined ? undefined : JSON.stringify(init.body) });
  const text = await res.text();
  if (!res.ok) throw new Error(`${init.method ?? "GET"} ${pathname}: ${res.status} ${text}`);
  return (text ? JSON.parse(text) : undefined) as T;
}

export async function adminToken(shop: Shop): Promise<string> {
  return (await call<{ accessToken: string }>(shop, "/users/login", { method: "POST", body: ADMIN })).accessToken;
}

export async function launch(): Promise<Browser> {
  if (!fs.existsSync(CHROMIUM)) throw new Error(`no Chromium at ${CHROMIUM}: run scripts/web.sh install (apt-get install chromium)`);
  return chromium.launch({ executablePath: CHROMIUM, headless: true });
}

/**
 * Everything that went wrong in the pages of a context: console errors, uncaught exceptions, CSP
 * violations, requests that failed (but not those cancelled by leaving the page) and responses of
 * 5xx. A 4xx from /api/v1 that the page
 * expected and explained (a declined checkout, a wrong password) is an answer, not an error: the
 * browser's own "Failed to load resource" line for it is not counted.
 */
export function watch(context: BrowserContext): string[] {
  const problems: string[] = [];
  const onPage = (page: Page) => {
    page.on("console", (msg) => {
      if (msg.type() !== "error" && !/Content[- ]Security[- ]Policy/i.test(msg.text())) return;
      const where = msg.location()?.url ?? "";
      if (/^Failed to load resource: the server responded with a status of 4\d\d/.test(msg.text()) && where.includes("/api/v1/")) return;
      problems.push(`console ${msg.type()} on ${page.url()}: ${msg.text()} (${where})`);
    });
    page.on("pageerror", (err) => problems.push(`uncaught on ${page.url()}: ${err.message}`));
    // Leaving a page cancels what it still had in flight (net::ERR_ABORTED): the user sees nothing
    // fail. Any other failure, or an abort on a page nobody left, is counted. A navigation the page
    // starts shows as its request; page.goto and page.reload stop the page's loads before that
    // request is seen, so they count themselves.
    let navigations = 0;
    const sentAfter = new WeakMap<Request, number>();
    const goto = page.goto.bind(page);
    const reload = page.reload.bind(page);
    page.goto = (url, options) => {
      navigations++;
      return goto(url, options);
    };
    page.reload = (options) => {
      navigations++;
      return reload(options);
    };
    page.on("request", (req) => {
      if (req.isNavigationRequest() && req.frame() === page.mainFrame()) navigations++;
      else sentAfter.set(req, navigations);
    });
    page.on("requestfailed", (req) => {
      const error = req.failure()?.errorText ?? "";
      if (error === "net::ERR_ABORTED" && navigations > (sentAfter.get(req) ?? navigations)) return;
      problems.push(`request failed on ${page.url()}: ${req.method()} ${req.url()} ${error}`);
    });
    page.on("response", (res) => {
      if (res.status() >= 500) problems.push(`${res.status()} on ${page.url()}: ${res.request().method()} ${res.url()}`);
      if (res.status() === 404 && !res.url().includes("/api/v1/")) problems.push(`404 for ${res.url()} on ${page.url()}`);
    });
  };
  context.on("page", onPage);
  for (const page of context.pages()) onPage(page);
  return problems;
}

/** A page that reports CSP violations to the console (Chromium also logs them; this names the directive). */
export async function reportCsp(context: BrowserContext): Promise<void> {
  await context.addInitScript(() => {
    document.addEventListener("securitypolicyviolation", (e) => {
      console.error(`CSP violation: ${e.violatedDirective} blocked ${e.blockedURI}`);
    });
  });
}

export async function screenshot(page: Page, name: string): Promise<string> {
  fs.mkdirSync(SCREENSHOT_DIR, { recursive: true });
  const file = path.join(SCREENSHOT_DIR, `${name}.png`);
  await page.screenshot({ path: file, fullPage: false });
  return file;
}
