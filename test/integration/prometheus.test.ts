/**
 * What ships for Prometheus and Grafana, checked with promtool (Debian package `prometheus`,
 * installed by scripts/stack.sh) and against a live node:
 * - deploy/prometheus/alerts.yml is valid (`promtool check rules`) and behaves as its unit tests say
 *   (`promtool test rules alerts.test.yml`); prometheus.yml is a valid configuration;
 * - a live /metrics, from a shop that has taken an order and a payment, passes
 *   `promtool check metrics` (Prometheus' naming conventions) and names no host, user or argument;
 * - every metric the alert rules and the Grafana dashboards (deploy/grafana) use exists on it, and
 *   every dashboard expression is valid PromQL.
 * The shop runs as a process of its own (as in production: process and OS metrics included), with
 * its metrics on METRICS_PORT only (METRICS_PUBLIC=false).
 */
import { execFileSync, spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { parse } from "yaml";
import { http } from "../support/shop";
import { freePort, ROOT, startTs, waitFor, type Child } from "../support/processes";

const PROM = path.join(ROOT, "deploy/prometheus");
const GRAFANA = path.join(ROOT, "deploy/grafana");
const DASHBOARDS = ["overview", "checkout-flow", "kafka-bridge"];

function promtool(args: string[], input?: string): { status: number | null; out: string } {
  const r = spawnSync("promtool", args, { cwd: PROM, input, encoding: "utf8" });
  if (r.error) throw new Error(`promtool is needed (Debian package prometheus; scripts/stack.sh up installs it): ${r.error.message}`);
  return { status: r.status, out: `${r.stdout}${r.stderr}` };
}

describe("alert rules", () => {
  it("pass promtool check rules and promtool test rules", () => {
    const check = promtool(["check", "rules", "alerts.yml"]);
    expect(check).toMatchObject({ status: 0, out: expect.stringMatching(/SUCCESS: 9 rules found/) });
    const unit = promtool(["test", "rules", "alerts.test.yml"]);
    expect(unit).toMatchObject({ status: 0, out: expect.stringContaining("SUCCESS") });
    expect(promtool(["check", "config", "prometheus.yml"]).status).toBe(0);
  });

  it("alert on error rate, latency, outbox age, consumer lag, dead letters, open circuits and readiness", () => {
    const alerts = parse(fs.readFileSync(path.join(PROM, "alerts.yml"), "utf8")).groups.flatMap((g: any) => g.rules.map((r: any) => r.alert));
    expect(alerts).toEqual(
      expect.arrayContaining(["ShopHighErrorRate", "ShopHighLatency", "ShopOutboxStuck", "ShopConsumerLagHigh", "ShopDeadLetters", "ShopCircuitBreakerOpen", "ShopNotReady", "ShopNodeDown"]),
    );
  });
});

describe("a live node's /metrics", () => {
  let shop: Child;
  let dataDir: string;
  let base: string;
  let metricsUrl: string;
  let text: string;

  beforeAll(async () => {
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "shop-prometheus-"));
    const [port, metricsPort] = [await freePort(), await freePort()];
    base = `http://127.0.0.1:${port}`;
    metricsUrl = `http://127.0.0.1:${metricsPort}/metrics`;
    shop = startTs("shop.ts", {
      PORT: String(port),
      METRICS_PORT: String(metricsPort),
      METRICS_PUBLIC: "false",
      DATA_DIR: dataDir,
      API_RATE_LIMIT: "0",
      AUTH_RATE_LIMIT: "0",
      ADMIN_EMAIL: "admin@prometheus.test",
      ADMIN_PASSWORD: "admin password 1",
    });
    try {
      await waitFor(async () => (await fetch(`${base}/health/ready`)).status === 200, 30_000, "the shop to be ready");
    } catch (err) {
      throw new Error(`${String(err)}\n${shop.output()}`, { cause: err });
    }
    // Something for the business metrics to count: a product, a refused and a placed order, a payment.
    const api = (p: string) => `${base}/api/v1${p}`;
    const admin = (await http(api("/users/login"), { method: "POST", body: { email: "admin@prometheus.test", password: "admin password 1" } })).body.accessToken;
    const product = (await http(api("/admin/products"), { method: "POST", token: admin, body: { sku: "CUP", name: "Cup", price: 800, stock: 1, category: "kitchen" } })).body;
    const customer = async (email: string) => {
      await http(api("/users/register"), { method: "POST", body: { email, password: "customer password", firstName: "C", lastName: "P" } });
      return (await http(api("/users/login"), { method: "POST", body: { email, password: "customer password" } })).body.accessToken as string;
    };
    const [ann, bob] = [await customer("ann@prometheus.test"), await customer("bob@prometheus.test")];
    for (const token of [ann, bob]) await http(api("/basket/items"), { method: "POST", token, body: { productId: product.id, quantity: 1 } });
    const order = await http(api("/orders"), { method: "POST", token: ann, body: {}, headers: { "idempotency-key": "ann-1" } });
    expect((await http(api("/orders"), { method: "POST", token: bob, body: {}, headers: { "idempotency-key": "bob-1" } })).status).toBe(409);
    const payment = await http(api("/payments"), { method: "POST", token: ann, body: { orderId: order.body.id }, headers: { "idempotency-key": "ann-pay-1" } });
    await http(api(`/payments/${payment.body.id}/process`), { method: "POST", token: ann, body: { paymentMethod: "pm_card_visa" } });
    await http(api(`/products/${product.id}`));
    await http(api(`/products/${product.id}`));
    await waitFor(async () => (await http(api("/basket"), { token: ann })).body.itemCount === 0, 10_000, "the basket to be cleared");
    // The bridge's gauges are refreshed every 5 s, by each service on its own timer.
    const reported = (page: string) => page.includes('shop_kafka_consumer_lag{namespace="shop",topic="payment-events",group="shop-orders"}') && page.includes('shop_dead_letters_pending{namespace="shop",service="orders"}');
    await waitFor(async () => reported(await (await fetch(metricsUrl)).text()), 15_000, "the orders service's bridge gauges to be reported");
    text = await (await fetch(metricsUrl)).text();
  }, 60_000);

  afterAll(async () => {
    await shop?.stop();
    if (dataDir) fs.rmSync(dataDir, { recursive: true, force: true });
  });

  /** Metric families on the page, with the series names a histogram family adds. */
  const families = () => {
    const names = new Set<string>();
    for (const [, name, type] of text.matchAll(/^# TYPE (\S+) (\S+)$/gm)) {
      names.add(name);
      if (type === "histogram") for (const suffix of ["_bucket", "_sum", "_count"]) names.add(name + suffix);
    }
    return names;
  };
  /** The metric names a PromQL expression reads (the shop's, Moleculer's, the process' and the OS'). */
  const metricsIn = (expr: string) => [...new Set([...expr.matchAll(/\b((?:shop|moleculer|process|os)_[a-z0-9_]+)\b/g)].map((m) => m[1]))];

  it("is served on METRICS_PORT only, not on the public port", async () => {
    expect((await fetch(`${base}/metrics`)).status).toBe(404);
    expect(text).toMatch(/^# TYPE shop_http_request_duration_seconds histogram$/m);
  });

  it("passes promtool check metrics", () => {
    const check = promtool(["check", "metrics"], text);
    expect(check).toEqual({ status: 0, out: "" });
  });

  it("names no host, OS user, process arguments, network or node id", () => {
    expect(text).not.toMatch(/^(process_arguments|process_pid|process_ppid|os_hostname|os_user_\w+|os_network_\w+|os_release|os_type|os_cpu_info_\w+)\b/m);
    expect(text).not.toContain(os.hostname());
    expect(text).not.toContain(os.userInfo().username === "root" ? 'username="root"' : os.userInfo().username);
    expect(text).not.toContain(dataDir);
    expect(text).not.toMatch(/node_?id=/i);
    // Process and OS figures that describe the shop's load are still there.
    expect(text).toMatch(/^process_memory_rss_bytes\{[^}]*\} \d+/m);
  });

  it("counts HTTP requests by route pattern, method and status, and what the shop did", () => {
    const count = (labels: string) =>
      text
        .split("\n")
        .filter((l) => l.startsWith("shop_http_request_duration_seconds_count{") && labels.split(",").every((x) => l.includes(x)))
        .reduce((n, l) => n + Number(l.split(" ").pop()), 0);
    expect(count('method="GET",route="/api/v1/products/:id",status="200"')).toBe(2);
    expect(count('method="POST",route="/api/v1/orders",status="409"')).toBe(1);
    expect(count('method="POST",route="/api/v1/payments/:id/process",status="200"')).toBe(1);
    expect(text).not.toMatch(/route="\/api\/v1\/products\/\d/);
    const value = (series: string) => Number(new RegExp(`^${series.replace(/[{}]/g, "\\$&")} (\\S+)$`, "m").exec(text)?.[1]);
    expect(value('shop_orders_created_total{namespace="shop"}')).toBe(1);
    expect(value('shop_stock_reservations_total{namespace="shop",outcome="refused"}')).toBe(1);
    expect(value('shop_payments_total{namespace="shop",provider="simulated",outcome="completed"}')).toBe(1);
    expect(value('shop_revenue_minor_units_total{namespace="shop",currency="USD"}')).toBe(800);
    expect(value('shop_order_status_changes_total{namespace="shop",status="paid"}')).toBe(1);
    expect(value('shop_baskets_cleared_total{namespace="shop",reason="order_paid"}')).toBe(1);
    expect(value('shop_ready{namespace="shop"}')).toBe(1);
    expect(value('shop_kafka_consumer_lag{namespace="shop",topic="payment-events",group="shop-orders"}')).toBe(0);
    expect(value('shop_dead_letters_pending{namespace="shop",service="orders"}')).toBe(0);
  });

  it("has every metric the alert rules use", () => {
    const rules = parse(fs.readFileSync(path.join(PROM, "alerts.yml"), "utf8")).groups.flatMap((g: any) => g.rules);
    const present = families();
    const missing = rules.flatMap((r: any) => metricsIn(r.expr).filter((m) => !present.has(m)).map((m) => `${r.alert}: ${m}`));
    expect(missing).toEqual([]);
  });

  describe.each(DASHBOARDS)("the Grafana dashboard %s", (name) => {
    const dashboard = JSON.parse(fs.readFileSync(path.join(GRAFANA, `${name}.json`), "utf8"));
    const targets: { panel: string; expr: string }[] = dashboard.panels.flatMap((p: any) => (p.targets ?? []).map((t: any) => ({ panel: p.title, expr: t.expr })));

    it("is a dashboard on a Prometheus data source chosen by variable, with panels that all query it", () => {
      expect(dashboard).toMatchObject({ uid: `shop-${name}`, title: expect.stringMatching(/^Moleculer Shop \//), schemaVersion: expect.any(Number) });
      expect(dashboard.templating.list.map((v: any) => v.name)).toEqual(["datasource", "namespace"]);
      for (const panel of dashboard.panels.filter((p: any) => p.type !== "row")) {
        expect({ panel: panel.title, datasource: panel.datasource }).toEqual({ panel: panel.title, datasource: { type: "prometheus", uid: "${datasource}" } });
        expect(panel.targets.length).toBeGreaterThan(0);
      }
      const ids = dashboard.panels.map((p: any) => p.id);
      expect(new Set(ids).size).toBe(ids.length);
    });

    it("uses only metrics the node exposes", () => {
      const present = families();
      const missing = targets.flatMap(({ panel, expr }) => metricsIn(expr).filter((m) => !present.has(m)).map((m) => `${panel}: ${m}`));
      expect(missing).toEqual([]);
      expect(targets.length).toBeGreaterThan(8);
    });

    it("has valid PromQL in every panel (promtool reads each as a recording rule)", () => {
      const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "dashboard-rules-")), "rules.yml");
      const rules = targets.map(({ expr }, i) => ({
        record: `dashboard:expr_${i}`,
        expr: expr.replace(/\$__rate_interval/g, "5m").replace(/\$__range/g, "1h").replace(/\$namespace/g, "shop"),
      }));
      fs.writeFileSync(file, JSON.stringify({ groups: [{ name, rules }] }));
      try {
        const check = promtool(["check", "rules", file]);
        expect(check).toMatchObject({ status: 0 });
      } finally {
        fs.rmSync(path.dirname(file), { recursive: true, force: true });
      }
    });
  });
});

// The same promtool the suite needs: fail with a clear message when it is absent.
beforeAll(() => {
  try {
    execFileSync("promtool", ["--version"], { stdio: "ignore" });
  } catch {
    throw new Error("promtool not found: install the Debian package prometheus (scripts/stack.sh up does)");
  }
});
