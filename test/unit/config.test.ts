import path from "node:path";
import { loadConfig, ConfigError, SERVICE_NAMES } from "../../lib/config";

describe("configuration", () => {
  it("defaults to the embedded shop: every service, no transporter, SQLite under ./data", () => {
    const cfg = loadConfig({});
    expect(cfg.embedded).toBe(true);
    expect(cfg.transporter).toBeUndefined();
    expect(cfg.services).toEqual([...SERVICE_NAMES]);
    expect(cfg.port).toBe(3000);
    expect(cfg.db.products).toBe(`sqlite:${path.resolve("data", "products.sqlite")}`);
    expect(cfg.redisUrl).toBeUndefined();
    expect(cfg.paymentProvider).toBe("simulated");
  });

  it("reads a node's services, transporter and database URLs", () => {
    const cfg = loadConfig({
      SERVICES: "api, products",
      TRANSPORTER: "nats://127.0.0.1:4222",
      PRODUCTS_DB_URL: "postgres://u:p@db/products",
      DATA_DIR: "/tmp/shop",
      KAFKA_BROKERS: "a:9092,b:9092",
    });
    expect(cfg.services).toEqual(["api", "products"]);
    expect(cfg.embedded).toBe(false);
    expect(cfg.db.products).toBe("postgres://u:p@db/products");
    expect(cfg.db.users).toBe("sqlite:/tmp/shop/users.sqlite");
    expect(cfg.kafkaBrokers).toEqual(["a:9092", "b:9092"]);
  });

  it.each([
    [{ PORT: "http" }, /PORT must be a whole number/],
    [{ PORT: "70000" }, /PORT must be between/],
    [{ SERVICES: "products,warehouse" }, /unknown service "warehouse"/],
    [{ LOG_FORMAT: "xml" }, /LOG_FORMAT must be one of json, text/],
    [{ PRODUCTS_DB_URL: "mongodb://x" }, /PRODUCTS_DB_URL must start with/],
    [{ JWT_SECRET: "short" }, /at least 32 characters/],
    [{ PAYMENT_PROVIDER: "stripe" }, /needs STRIPE_SECRET_KEY/],
    // Split over nodes without Kafka, integration events would stay in the process that wrote them.
    [{ TRANSPORTER: "nats://n:4222", SERVICES: "payments" }, /KAFKA_BROKERS is required: this node runs payments on TRANSPORTER without products, baskets, orders, notifications/],
    [{ TRANSPORTER: "nats://n:4222", SERVICES: "api,orders,products" }, /KAFKA_BROKERS is required/],
    [{ LOAD_BALANCER: "Fastest" }, /LOAD_BALANCER must be one of transporter, RoundRobin, Random, CpuUsage, Latency/],
    [{ ACTION_TIMEOUTS: "orders.checkout=15000,products" }, /ACTION_TIMEOUTS must be service.action=milliseconds pairs/],
    [{ ACTION_TIMEOUTS: "orders.checkout=50" }, /ACTION_TIMEOUTS must be service.action=milliseconds pairs \(100–600000\), got "orders.checkout=50"/],
    [{ CIRCUIT_BREAKER_THRESHOLD: "1.5" }, /CIRCUIT_BREAKER_THRESHOLD must be a number above 0 and at most 1/],
    [{ CIRCUIT_BREAKER_THRESHOLD: "0" }, /CIRCUIT_BREAKER_THRESHOLD must be a number above 0/],
    [{ READ_TIMEOUT_MS: "50" }, /READ_TIMEOUT_MS must be between 100/],
    [{ KAFKA_SESSION_TIMEOUT_MS: "1000" }, /KAFKA_SESSION_TIMEOUT_MS must be between 6000/],
  ])("refuses %j with a message naming the variable", (env, message) => {
    expect(() => loadConfig(env)).toThrow(ConfigError);
    expect(() => loadConfig(env)).toThrow(message);
  });

  it("reads the fault-tolerance settings", () => {
    const cfg = loadConfig({ LOAD_BALANCER: "Latency", READ_TIMEOUT_MS: "1500", CIRCUIT_BREAKER_THRESHOLD: "0.25", CIRCUIT_BREAKER_MIN_REQUESTS: "5", SHUTDOWN_TIMEOUT_MS: "30000" });
    expect(cfg.broker).toMatchObject({ balancer: "Latency", readTimeoutMs: 1500, shutdownTimeoutMs: 30_000, circuitBreaker: { threshold: 0.25, minRequests: 5, windowSeconds: 60 } });
    expect(loadConfig({}).broker.balancer).toBe("transporter");
    expect(loadConfig({ ACTION_TIMEOUTS: "orders.checkout=15000, products.get=1000" }).broker.actionTimeouts).toEqual({ "orders.checkout": 15_000, "products.get": 1_000 });
  });

  it.each([
    ["every event service in one node", { TRANSPORTER: "nats://n:4222", SERVICES: "users,products,baskets,orders,payments,notifications" }],
    ["a node with no event service", { TRANSPORTER: "nats://n:4222", SERVICES: "api,users" }],
    ["a split node with Kafka", { TRANSPORTER: "nats://n:4222", SERVICES: "payments", KAFKA_BROKERS: "k:9092" }],
    ["the embedded default with some services", { SERVICES: "api,products" }],
  ])("starts %s", (_name, env) => {
    expect(() => loadConfig(env)).not.toThrow();
  });
});
