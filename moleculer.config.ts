/**
 * Broker configuration, built from the environment (lib/config.ts).
 * Fault tolerance is set here explicitly rather than left to Moleculer's defaults.
 */
import { INTERNAL_MIDDLEWARES, type BrokerOptions, type Errors, type Middleware } from "moleculer";
import { config } from "./lib/config";
import { currentRequestContext, RequestContextMiddleware } from "./lib/request-context";
import { RequestMetricsMiddleware, ShopPrometheusReporter, useLeanHistograms } from "./lib/prometheus";
import { registerHealthCheck } from "./lib/health";
import { DomainErrorMiddleware } from "./lib/errors";
import { isInfrastructureFault, TimeoutMiddleware } from "./lib/faults";
import { RepeatableActionsMiddleware, TransporterBalancingMiddleware } from "./lib/repeatable-actions";
import { ClientInputMiddleware } from "./lib/http/client-input";
import { replCommands } from "./lib/repl-commands";
import { ShopTracingMiddleware, tracingOptions } from "./lib/telemetry/tracing";
import { OtelTraceExporter } from "./lib/telemetry/otel-exporter";
import { startHealthMetrics } from "./lib/telemetry/health-metrics";

const cfg = config();
/** LOAD_BALANCER=transporter on a node with a transporter: NATS queue groups pick the node. */
const TRANSPORTER_BALANCES = cfg.transporter !== undefined && cfg.broker.balancer === "transporter";

// Histograms without quantile windows or rates (lib/prometheus.ts): before the broker registers any.
useLeanHistograms();

/** Moleculer's internal middlewares that the shop replaces, by name. */
const LEAN_MIDDLEWARES: Record<string, Middleware> = {
  Metrics: RequestMetricsMiddleware as unknown as Middleware,
  Timeout: TimeoutMiddleware as unknown as Middleware,
  Tracing: ShopTracingMiddleware as unknown as Middleware,
};

function logger(): BrokerOptions["logger"] {
  if (cfg.logFormat === "json") {
    return {
      type: "Pino",
      options: {
        level: cfg.logLevel,
        pino: {
          options: {
            base: undefined,
            timestamp: () => `,"time":"${new Date().toISOString()}"`,
            formatters: { level: (label: string) => ({ level: label }) },
            // Every line written while handling a request names it (and its trace, with tracing on).
            mixin: () => {
              const context = currentRequestContext();
              if (!context) return {};
              return context.traceId ? { requestId: context.requestId, traceId: context.traceId } : { requestId: context.requestId };
            },
          },
        },
      },
    };
  }
  return {
    type: "Console",
    options: {
      level: cfg.logLevel,
      colors: process.stdout.isTTY,
      formatter: (type: string, args: unknown[], bindings: any, { printArgs }: any) => {
        const context = currentRequestContext();
        const ids = context?.requestId ? ` [${context.requestId}${context.traceId ? ` trace=${context.traceId}` : ""}]` : context?.traceId ? ` [trace=${context.traceId}]` : "";
        return [
          `[${new Date().toISOString()}] ${type.toUpperCase().padEnd(5)} ${bindings.nodeID}/${String(bindings.mod).toUpperCase()}${ids}:`,
          ...printArgs(args),
        ];
      },
    },
  };
}

const brokerConfig: BrokerOptions = {
  namespace: cfg.namespace,
  nodeID: cfg.nodeId,
  // Embedded: no transporter, calls stay in-process. Otherwise NATS (or any Moleculer transporter URL).
  transporter: (cfg.transporter ?? null) as BrokerOptions["transporter"],
  logger: logger(),
  logLevel: cfg.logLevel,

  cacher: cfg.redisUrl
    ? { type: "Redis", options: { prefix: `${cfg.namespace}-cache`, redis: cfg.redisUrl as any, ttl: 300 } }
    : { type: "Memory", options: { ttl: 300, clone: false } },

  requestTimeout: cfg.broker.requestTimeoutMs,
  // Retries are off by default. Actions that are safe to repeat (GET routes, `idempotent: true`)
  // get them, with READ_TIMEOUT_MS, from lib/repeatable-actions.ts; a write that is idempotent per
  // key (products.reserveStock for one order) opts in with `retryPolicy: { enabled: true }`.
  retryPolicy: {
    enabled: false,
    retries: cfg.broker.retries,
    delay: 100,
    maxDelay: 2000,
    factor: 2,
    check: (err: Error) => !!(err as Errors.MoleculerRetryableError).retryable,
  },
  circuitBreaker: {
    enabled: true,
    threshold: cfg.broker.circuitBreaker.threshold,
    minRequestCount: cfg.broker.circuitBreaker.minRequests,
    windowTime: cfg.broker.circuitBreaker.windowSeconds,
    halfOpenTime: cfg.broker.circuitBreaker.halfOpenMs,
    // Only a dependency that is down or too slow opens a circuit: no client input can (lib/faults.ts).
    check: isInfrastructureFault,
  },
  bulkhead: {
    enabled: true,
    concurrency: cfg.broker.bulkheadConcurrency,
    maxQueueSize: cfg.broker.bulkheadMaxQueue,
  },
  // On SIGTERM the node first tells the others it has no services left (and leaves the NATS queue
  // groups), then lets the requests it is handling finish before it disconnects.
  tracking: { enabled: true, shutdownTimeout: cfg.broker.shutdownTimeoutMs },
  // LOAD_BALANCER=transporter (the default): NATS queue groups pick the node, so a node that dies
  // stops receiving the moment its connection drops, instead of when its heartbeats time out. Every
  // call then travels through NATS, even to a service on the same node: nodes that each run every
  // service do better with a Moleculer strategy, which prefers the local one.
  disableBalancer: TRANSPORTER_BALANCES,
  registry: { strategy: cfg.broker.balancer === "transporter" ? "RoundRobin" : cfg.broker.balancer, preferLocal: true },
  heartbeatInterval: 5,
  heartbeatTimeout: 15,

  validator: true,
  metrics: {
    enabled: true,
    reporter: [new ShopPrometheusReporter({ port: cfg.metricsPort ?? null }) as any],
  },
  // OpenTelemetry through Moleculer's tracer (lib/telemetry): on when an OTLP endpoint is configured.
  tracing: tracingOptions(cfg.tracing, () => new OtelTraceExporter(cfg.tracing!, { namespace: cfg.namespace, nodeId: cfg.nodeId })),
  // Moleculer's internal middlewares are listed here rather than added by the broker, so that two
  // of them can be swapped, in the same place of the chain, for leaner ones that do the same:
  // Metrics (lib/prometheus.ts) and Timeout (lib/faults.ts); and Tracing is Moleculer's own with the
  // shop's trace context around it (lib/telemetry/tracing.ts). The first listed wraps the handler
  // innermost: the shop's own run inside Moleculer's, after validation, and not at all when the
  // cacher answers.
  internalMiddlewares: false,
  middlewares: [
    RequestContextMiddleware,
    DomainErrorMiddleware,
    ClientInputMiddleware,
    RepeatableActionsMiddleware(cfg.broker.readTimeoutMs, cfg.broker.actionTimeouts),
    ...(TRANSPORTER_BALANCES ? [TransporterBalancingMiddleware] : []),
    ...INTERNAL_MIDDLEWARES.map((name): Middleware | string => LEAN_MIDDLEWARES[name] ?? name),
  ],
  replOptions: { customCommands: replCommands } as BrokerOptions["replOptions"],

  // Node-wide dependencies join /health/ready next to the services' own (databases, Kafka).
  started(broker) {
    if (broker.transit) {
      registerHealthCheck("transporter", async () => {
        if (!(broker.transit as any).connected) throw new Error("not connected");
      });
    }
    const redis = (broker.cacher as any)?.client;
    if (cfg.redisUrl && redis) registerHealthCheck("redis", async () => void (await redis.ping()));
    // shop_ready and shop_health_check_up{check}, for alerts.
    (broker as any).stopHealthMetrics = startHealthMetrics(broker);
    if (!cfg.metricsPublic && cfg.metricsPort === undefined && cfg.services.includes("api")) {
      broker.logger.warn("METRICS_PUBLIC=false and no METRICS_PORT: this node serves its metrics nowhere");
    }
  },

  stopped(broker) {
    (broker as any).stopHealthMetrics?.();
  },
};

export default brokerConfig;
