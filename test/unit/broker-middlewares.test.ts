/**
 * The broker's middleware chain as moleculer.config.ts builds it: Moleculer's own, in Moleculer's
 * order, with Metrics and Timeout swapped for the shop's leaner ones, which behave as Moleculer's do.
 * Then the metrics they record, as /metrics shows them.
 */
import { Errors, INTERNAL_MIDDLEWARES, ServiceBroker, type BrokerOptions } from "moleculer";
import brokerConfig from "../../moleculer.config";
import { prometheusNameOf, prometheusText, ShopPrometheusReporter } from "../../lib/prometheus";

/** The shop's broker, in this process, with a reporter of its own and no logs. */
function shopBroker(options: BrokerOptions = {}): ServiceBroker {
  return new ServiceBroker({
    ...brokerConfig,
    nodeID: "unit",
    logger: false,
    transporter: null,
    cacher: "Memory",
    metrics: { enabled: true, reporter: [new ShopPrometheusReporter({ port: null }) as any] },
    started: undefined,
    ...options,
  });
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe("the middleware chain", () => {
  it("is Moleculer's, in Moleculer's order, after the shop's own four", async () => {
    const shop = shopBroker();
    const moleculer = new ServiceBroker({ logger: false, cacher: "Memory", metrics: true });
    const names = (broker: ServiceBroker) => (broker as any).middlewares.list.map((mw: { name?: string }) => mw.name);
    expect(names(shop)).toEqual(["RequestContext", "DomainErrors", "ClientInput", "RepeatableActions", ...names(moleculer)]);
    expect(names(moleculer)).toEqual(INTERNAL_MIDDLEWARES);
  });
});

describe("TimeoutMiddleware", () => {
  let broker: ServiceBroker;
  beforeAll(async () => {
    broker = shopBroker({ requestTimeout: 200 });
    broker.createService({
      name: "slow",
      actions: {
        wait: { handler: (ctx: any) => sleep(ctx.params.ms).then(() => ctx.params.ms) },
        // `timeout` is an action option Moleculer reads but does not declare in its types.
        quick: { timeout: 30, handler: (ctx: any) => sleep(ctx.params.ms).then(() => "done") } as any,
        fails: { handler: () => Promise.reject(new Errors.MoleculerClientError("no", 409, "NO")) },
        nested: { handler: (ctx: any) => ctx.call("slow.wait", { ms: 150 }) },
      },
    });
    await broker.start();
  });
  afterAll(() => broker.stop());

  it("answers what the action answers within the timeout", async () => {
    await expect(broker.call("slow.wait", { ms: 10 })).resolves.toBe(10);
  });

  it("rejects a call over the broker's requestTimeout with RequestTimeoutError", async () => {
    const started = Date.now();
    const err = await broker.call("slow.wait", { ms: 1000 }).catch((e) => e);
    expect(err).toBeInstanceOf(Errors.RequestTimeoutError);
    expect(err).toMatchObject({ code: 504, type: "REQUEST_TIMEOUT", data: { action: "slow.wait" } });
    expect(Date.now() - started).toBeLessThan(900);
  });

  it("prefers the call's timeout to the action's, and the action's to the broker's", async () => {
    await expect(broker.call("slow.quick", { ms: 60 })).rejects.toBeInstanceOf(Errors.RequestTimeoutError);
    await expect(broker.call("slow.quick", { ms: 60 }, { timeout: 500 })).resolves.toBe("done");
    await expect(broker.call("slow.wait", { ms: 60 }, { timeout: 20 })).rejects.toBeInstanceOf(Errors.RequestTimeoutError);
  });

  it("passes the action's own errors through", async () => {
    await expect(broker.call("slow.fails")).rejects.toMatchObject({ name: "MoleculerClientError", code: 409 });
  });

  it("gives a nested call what is left of its caller's time", async () => {
    // 150 ms of work under a 100 ms budget: the nested call times out, not at its own 200 ms.
    const started = Date.now();
    await expect(broker.call("slow.nested", {}, { timeout: 100 })).rejects.toBeInstanceOf(Errors.RequestTimeoutError);
    expect(Date.now() - started).toBeLessThan(140);
  });

  it("counts timeouts and leaves no timer behind", async () => {
    const timers = () => process.getActiveResourcesInfo().filter((r) => r === "Timeout").length;
    const before = timers();
    for (let i = 0; i < 20; i++) await broker.call("slow.wait", { ms: 0 });
    expect(timers()).toBeLessThanOrEqual(before);
    expect(prometheusText(broker)).toMatch(/^moleculer_request_timeout_total\{.*action="slow\.(wait|quick)".*\} [1-9]/m);
  });
});

describe("RequestMetricsMiddleware and the /metrics text", () => {
  let broker: ServiceBroker;
  beforeAll(async () => {
    broker = shopBroker();
    broker.createService({
      name: "catalog",
      actions: {
        get: { cache: { keys: ["id"] }, params: { id: "number|convert:true" }, handler: (ctx: any) => ({ id: ctx.params.id }) },
        broken: { handler: () => Promise.reject(new Errors.MoleculerClientError("gone", 404, "GONE")) },
      },
    });
    broker.createService({ name: "front", actions: { show: { handler: (ctx: any) => ctx.call("catalog.get", { id: 1 }) } } });
    await broker.start();
    for (let i = 0; i < 5; i++) await broker.call("front.show");
    await broker.call("catalog.broken").catch(() => undefined);
  });
  afterAll(() => broker.stop());

  const series = (text: string, name: string, labels: string) =>
    text.split("\n").filter((line) => line.startsWith(`${name}{`) && labels.split(",").every((l) => line.includes(l)));
  const value = (line: string | undefined) => Number(line?.split(" ").pop());

  it("counts calls per action and caller, with the labels Moleculer uses (in snake_case)", () => {
    const text = prometheusText(broker)!;
    expect(value(series(text, "moleculer_request_total", 'action="front.show",type="local",caller="null"')[0])).toBe(5);
    expect(value(series(text, "moleculer_request_total", 'action="catalog.get",caller="front"')[0])).toBe(5);
    expect(value(series(text, "moleculer_request_active", 'action="catalog.get"')[0])).toBe(0);
    expect(value(series(text, "moleculer_request_error_total", 'action="catalog.broken",error_name="MoleculerClientError",error_code="404",error_type="GONE"')[0])).toBe(1);
  });

  it("writes histograms as Prometheus does: cumulative buckets up to +Inf, _sum and _count, in seconds", () => {
    const text = prometheusText(broker)!;
    expect(text).toMatch(/^# TYPE moleculer_request_time_seconds histogram$/m);
    const buckets = series(text, "moleculer_request_time_seconds_bucket", 'action="catalog.get"');
    const counts = buckets.map(value);
    expect(buckets.at(-1)).toContain('le="+Inf"');
    expect(counts.at(-1)).toBe(5);
    expect(counts).toEqual([...counts].sort((a, b) => a - b));
    // Moleculer's bounds are milliseconds: served in seconds, in order.
    const bounds = buckets.slice(0, -1).map((line) => Number(/le="([^"]+)"/.exec(line)![1]));
    expect(bounds).toEqual([...bounds].sort((a, b) => a - b));
    expect(bounds[0]).toBeLessThan(0.01);
    expect(value(series(text, "moleculer_request_time_seconds_count", 'action="catalog.get"')[0])).toBe(5);
    const sum = value(series(text, "moleculer_request_time_seconds_sum", 'action="catalog.get"')[0]);
    expect(sum).toBeGreaterThan(0);
    expect(sum).toBeLessThan(1); // five quick calls: well under a second, not milliseconds
    // Moleculer's cacher histograms too, through the same lean type.
    expect(value(series(text, "moleculer_cacher_get_time_seconds_count", 'namespace=')[0])).toBe(5);
  });

  it("follows Prometheus' naming: counters and only counters end in _total, sizes in _bytes, labels in snake_case", () => {
    const text = prometheusText(broker)!;
    const types = [...text.matchAll(/^# TYPE (\S+) (\S+)$/gm)].map(([, name, type]) => ({ name, type }));
    for (const { name, type } of types) expect(name.endsWith("_total")).toBe(type === "counter");
    expect(types).toEqual(expect.arrayContaining([{ name: "moleculer_registry_nodes", type: "gauge" }, { name: "moleculer_request_total", type: "counter" }]));
    for (const labels of text.matchAll(/\{([^}]*)\}/g)) expect(labels[1]).not.toMatch(/(^|,)[a-z_]*[A-Z]/);
    // Process and OS metrics (collected outside tests) by the same rules.
    expect(prometheusNameOf({ name: "process.memory.rss", type: "gauge", unit: "byte" }).name).toBe("process_memory_rss_bytes");
    expect(prometheusNameOf({ name: "os.memory.total", type: "gauge", unit: "byte" }).name).toBe("os_memory_total_bytes");
    expect(prometheusNameOf({ name: "moleculer.transporter.packets.sent.bytes", type: "counter", unit: "byte" }).name).toBe("moleculer_transporter_packets_sent_bytes_total");
    expect(prometheusNameOf({ name: "process.uptime", type: "gauge", unit: "second" }).name).toBe("process_uptime_seconds");
    expect(prometheusNameOf({ name: "shop.outbox.relay_cycles", type: "counter" }).name).toBe("shop_outbox_relay_cycles_total");
    expect(prometheusNameOf({ name: "moleculer.event.received.time", type: "histogram", unit: "millisecond" })).toEqual({ name: "moleculer_event_received_time_seconds", scale: 0.001 });
  });

  it("names no host, user, process arguments or network, and no node id (the host name by default)", () => {
    const text = prometheusText(broker)!;
    expect(text).not.toMatch(/^(process_arguments|process_pid|process_ppid|os_hostname|os_user_\w+|os_network_\w+|os_release|os_cpu_info_\w+|os_datetime_\w+)\b/m);
    expect(text).not.toMatch(/node_?id="unit"/i);
    expect(text).toMatch(/^moleculer_registry_nodes\{namespace="[^"]*"\} \d+/m);
  });

  it("shows a metric's HELP and TYPE before its first series (an alert can name an open circuit before one opens)", () => {
    const text = prometheusText(broker)!;
    expect(text).toMatch(/^# TYPE moleculer_circuit_breaker_opened_active gauge$/m);
    expect(text).not.toMatch(/^moleculer_circuit_breaker_opened_active\{/m);
  });

  it("keeps no quantile windows and no rates", () => {
    const text = prometheusText(broker)!;
    expect(text).not.toMatch(/quantile=|_rate\{|_min\{|_max\{|_stddev\{/);
    for (const metric of (broker.metrics as any).store.values()) {
      expect(metric.rate).toBeFalsy();
      if (metric.type === "histogram") for (const item of metric.values.values()) expect(item.quantileValues).toBeUndefined();
    }
  });

  it("is well-formed exposition text: HELP and TYPE once per family, every sample a name, labels and a number", () => {
    const text = prometheusText(broker)!;
    const families = new Set<string>();
    for (const line of text.split("\n").filter(Boolean)) {
      const type = /^# TYPE (\S+) (counter|gauge|histogram)$/.exec(line);
      if (type) {
        expect(families.has(type[1])).toBe(false);
        families.add(type[1]);
        continue;
      }
      if (line.startsWith("# HELP ")) continue;
      expect(line).toMatch(/^[a-zA-Z_:][a-zA-Z0-9_:]*(\{([a-zA-Z_][a-zA-Z0-9_]*="([^"\\\n]|\\["\\n])*",?)*\})? (NaN|[-+]?(\d+(\.\d*)?|\.\d+)([eE][-+]?\d+)?|[-+]Inf)$/);
    }
    expect(families.size).toBeGreaterThan(20);
  });
});
