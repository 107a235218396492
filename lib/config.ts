/**
 * The whole configuration, read once from the environment (12-factor).
 * An absent variable means the embedded default: one process, no network server.
 * A malformed value stops the process at start with a message naming the variable.
 */
import path from "node:path";
import os from "node:os";
import { OtelConfigError, tracingConfig } from "./telemetry/otel-config";

/** The bounded contexts built so far; each one joins this list (and services/index.ts) as it lands. */
export const SERVICE_NAMES = ["api", "users", "products", "baskets", "orders", "payments", "notifications"] as const;
export type ServiceName = (typeof SERVICE_NAMES)[number];

/** Services that own a SQL database, with the variable that points at it. */
export const DB_SERVICES = ["users", "products", "orders", "payments", "notifications"] as const;
export type DbServiceName = (typeof DB_SERVICES)[number];

/** Services that publish or consume integration events: across processes these need Kafka. */
export const EVENT_SERVICES = ["products", "baskets", "orders", "payments", "notifications"] as const;

export class ConfigError extends Error {}

type Env = Record<string, string | undefined>;

function str(env: Env, name: string, fallback: string): string {
  const v = env[name];
  return v === undefined || v.trim() === "" ? fallback : v.trim();
}

function optional(env: Env, name: string): string | undefined {
  const v = env[name];
  return v === undefined || v.trim() === "" ? undefined : v.trim();
}

function int(env: Env, name: string, fallback: number, min = 0, max = Number.MAX_SAFE_INTEGER): number {
  const raw = optional(env, name);
  if (raw === undefined) return fallback;
  if (!/^\d+$/.test(raw)) throw new ConfigError(`${name} must be a whole number, got "${raw}"`);
  const n = Number(raw);
  if (n < min || n > max) throw new ConfigError(`${name} must be between ${min} and ${max}, got ${n}`);
  return n;
}

function fraction(env: Env, name: string, fallback: number): number {
  const raw = optional(env, name);
  if (raw === undefined) return fallback;
  const n = Number(raw);
  if (!/^(0(\.\d+)?|1(\.0+)?)$/.test(raw) || n <= 0) throw new ConfigError(`${name} must be a number above 0 and at most 1, got "${raw}"`);
  return n;
}

/**
 * How a call picks one of several nodes running the action: `transporter` lets the transporter
 * balance (NATS queue groups: a node that dies or leaves stops receiving at once), the others are
 * Moleculer's own strategies over its registry.
 */
export const BALANCERS = ["transporter", "RoundRobin", "Random", "CpuUsage", "Latency"] as const;

/** ACTION_TIMEOUTS: `service.action=ms` pairs, comma separated (orders.checkout=15000,products.get=1000). */
function actionTimeouts(env: Env): Record<string, number> {
  const pairs = list(env, "ACTION_TIMEOUTS") ?? [];
  return Object.fromEntries(
    pairs.map((pair) => {
      const m = /^([a-z][\w-]*\.[A-Za-z]\w*)=(\d+)$/.exec(pair);
      const ms = m ? Number(m[2]) : NaN;
      if (!m || ms < 100 || ms > 600_000) throw new ConfigError(`ACTION_TIMEOUTS must be service.action=milliseconds pairs (100–600000), got "${pair}"`);
      return [m[1], ms];
    }),
  );
}

function oneOf<T extends string>(env: Env, name: string, allowed: readonly T[], fallback: T): T {
  const raw = str(env, name, fallback);
  if (!(allowed as readonly string[]).includes(raw)) {
    throw new ConfigError(`${name} must be one of ${allowed.join(", ")}, got "${raw}"`);
  }
  return raw as T;
}

function list(env: Env, name: string): string[] | undefined {
  const raw = optional(env, name);
  return raw === undefined ? undefined : raw.split(",").map((s) => s.trim()).filter(Boolean);
}

function services(env: Env): ServiceName[] {
  const names = list(env, "SERVICES");
  if (!names || names.includes("*") || names.includes("all")) return [...SERVICE_NAMES];
  for (const name of names) {
    if (!(SERVICE_NAMES as readonly string[]).includes(name)) {
      throw new ConfigError(`SERVICES names an unknown service "${name}" (known: ${SERVICE_NAMES.join(", ")})`);
    }
  }
  return names as ServiceName[];
}

function dbUrl(env: Env, service: DbServiceName, dataDir: string): string {
  const variable = `${service.toUpperCase()}_DB_URL`;
  const url = optional(env, variable) ?? `sqlite:${path.join(dataDir, `${service}.sqlite`)}`;
  if (!/^(postgres|postgresql|mariadb|mysql|sqlite):/.test(url)) {
    throw new ConfigError(`${variable} must start with postgres://, mariadb://, mysql:// or sqlite:, got "${url}"`);
  }
  return url;
}

export function loadConfig(env: Env = process.env) {
  const dataDir = path.resolve(str(env, "DATA_DIR", "./data"));
  const transporter = optional(env, "TRANSPORTER");
  const jwtSecret = optional(env, "JWT_SECRET");
  if (jwtSecret !== undefined && jwtSecret.length < 32) {
    throw new ConfigError("JWT_SECRET must be at least 32 characters");
  }
  const paymentProvider = oneOf(env, "PAYMENT_PROVIDER", ["simulated", "stripe"] as const, "simulated");
  const stripeSecretKey = optional(env, "STRIPE_SECRET_KEY");
  if (paymentProvider === "stripe" && !stripeSecretKey) {
    throw new ConfigError("PAYMENT_PROVIDER=stripe needs STRIPE_SECRET_KEY");
  }

  const nodeServices = services(env);
  const kafkaBrokers = list(env, "KAFKA_BROKERS");
  // The in-process bus reaches this process only: a node holding some of the event services, with
  // the others elsewhere, would mark its events sent while the other nodes never hear of them.
  const eventServicesHere = EVENT_SERVICES.filter((s) => nodeServices.includes(s));
  if (transporter !== undefined && !kafkaBrokers && eventServicesHere.length > 0 && eventServicesHere.length < EVENT_SERVICES.length) {
    throw new ConfigError(
      `KAFKA_BROKERS is required: this node runs ${eventServicesHere.join(", ")} on TRANSPORTER without ${EVENT_SERVICES.filter((s) => !eventServicesHere.includes(s)).join(", ")}, and integration events between nodes travel only through Kafka`,
    );
  }

  let tracing: ReturnType<typeof tracingConfig>;
  try {
    tracing = tracingConfig(env);
  } catch (err) {
    if (err instanceof OtelConfigError) throw new ConfigError(err.message);
    throw err;
  }

  return {
    port: int(env, "PORT", 3000, 0, 65535),
    nodeId: optional(env, "NODE_ID") ?? `${os.hostname().toLowerCase()}-${process.pid}`,
    namespace: str(env, "NAMESPACE", "shop"),
    services: nodeServices,
    transporter,
    /** Embedded: no transporter, every service in this process. */
    embedded: transporter === undefined,
    logLevel: oneOf(env, "LOG_LEVEL", ["fatal", "error", "warn", "info", "debug", "trace"] as const, "info"),
    logFormat: oneOf(env, "LOG_FORMAT", ["json", "text"] as const, "json"),
    dataDir,
    db: Object.fromEntries(DB_SERVICES.map((s) => [s, dbUrl(env, s, dataDir)])) as Record<DbServiceName, string>,
    redisUrl: optional(env, "REDIS_URL"),
    kafkaBrokers,
    kafka: {
      /** Put before every topic name: several shops (or test runs) can share one Kafka cluster. */
      topicPrefix: str(env, "KAFKA_TOPIC_PREFIX", ""),
      partitions: int(env, "KAFKA_PARTITIONS", 3, 1, 1000),
      replicationFactor: int(env, "KAFKA_REPLICATION_FACTOR", 1, 1, 10),
      /** Attempts of a consumer handler before the message becomes a dead letter. */
      maxAttempts: int(env, "KAFKA_MAX_ATTEMPTS", 5, 1, 100),
      retryBaseMs: int(env, "KAFKA_RETRY_BASE_MS", 200, 1, 60_000),
      /** The relay runs when a commit wakes it; this is its safety-net poll (a crash between commit and wake). */
      relayIntervalMs: int(env, "OUTBOX_RELAY_INTERVAL_MS", 1000, 10, 60_000),
      /**
       * A consumer silent this long leaves its group and its partitions go to the others: how long
       * events wait after a node dies (Kafka's group.min/max.session.timeout.ms bound it: 6 s–30 min).
       */
      sessionTimeoutMs: int(env, "KAFKA_SESSION_TIMEOUT_MS", 10_000, 6_000, 1_800_000),
      /** Applied offsets are committed this often (not after every message): a crash delivers at most this much again, and it is skipped. */
      commitIntervalMs: int(env, "KAFKA_COMMIT_INTERVAL_MS", 500, 10, 60_000),
    },
    events: {
      /** Sent outbox rows, applied-event ids and spent refresh tokens are kept this long, then pruned. */
      retentionDays: int(env, "EVENT_RETENTION_DAYS", 7, 1, 365),
      /** The same, in milliseconds: what every pruner subtracts from now. */
      get retentionMs(): number {
        return this.retentionDays * 24 * 3600 * 1000;
      },
      /** How often each node prunes them. */
      pruneIntervalSeconds: int(env, "PRUNE_INTERVAL_SECONDS", 3600, 10, 7 * 24 * 3600),
    },
    stripe: {
      secretKey: stripeSecretKey,
      apiBase: optional(env, "STRIPE_API_BASE"),
      webhookSecret: optional(env, "STRIPE_WEBHOOK_SECRET"),
    },
    paymentProvider,
    jwtSecret,
    admin: { email: optional(env, "ADMIN_EMAIL"), password: optional(env, "ADMIN_PASSWORD") },
    auth: {
      accessTokenTtlSeconds: int(env, "ACCESS_TOKEN_TTL_SECONDS", 15 * 60, 10, 24 * 3600),
      refreshTokenTtlSeconds: int(env, "REFRESH_TOKEN_TTL_SECONDS", 30 * 24 * 3600, 60),
      /** Requests per minute per client IP and per email on login and register; 0 turns it off. */
      rateLimit: int(env, "AUTH_RATE_LIMIT", 10, 0),
      /**
       * How long a gateway node trusts its copy of an account's access state (active, role, token
       * version). Changes drop it at once through a broadcast; this bounds staleness if one is lost.
       */
      accessCacheTtlMs: int(env, "ACCESS_CACHE_TTL_MS", 5000, 0, 60_000),
      /** scrypt's cost N = 2^this for new password hashes (each hash records its own, so it can change at any time). */
      passwordHashLogN: int(env, "PASSWORD_HASH_LOG_N", 15, 10, 20),
    },
    http: {
      corsOrigins: list(env, "CORS_ORIGINS") ?? [],
      bodyLimit: str(env, "BODY_LIMIT", "100kb"),
      trustProxy: int(env, "TRUST_PROXY", 0, 0, 10),
      /** Requests per minute per client IP on the whole API; 0 turns it off. */
      apiRateLimit: int(env, "API_RATE_LIMIT", 600, 0),
      /** Gateway micro-cache of public cached reads; 0 turns it off. */
      responseCacheTtlMs: int(env, "HTTP_CACHE_TTL_MS", 5000, 0, 3_600_000),
      responseCacheEntries: int(env, "HTTP_CACHE_ENTRIES", 10_000, 0, 1_000_000),
    },
    broker: {
      requestTimeoutMs: int(env, "REQUEST_TIMEOUT_MS", 10_000, 100),
      /** Timeout of actions that are safe to repeat (GET routes, `idempotent: true`): short, since they are retried. */
      readTimeoutMs: int(env, "READ_TIMEOUT_MS", 2_000, 100),
      /** Per action, overriding both: `service.action` → milliseconds. */
      actionTimeouts: actionTimeouts(env),
      /** Further attempts of an action that is safe to repeat, after a timeout or a node gone. */
      retries: int(env, "RETRIES", 3, 0, 10),
      balancer: oneOf(env, "LOAD_BALANCER", BALANCERS, "transporter"),
      circuitBreaker: {
        /** Share of failed calls (by infrastructure faults) in the window that opens an endpoint's circuit. */
        threshold: fraction(env, "CIRCUIT_BREAKER_THRESHOLD", 0.5),
        minRequests: int(env, "CIRCUIT_BREAKER_MIN_REQUESTS", 20, 1),
        windowSeconds: int(env, "CIRCUIT_BREAKER_WINDOW_SECONDS", 60, 1, 3600),
        halfOpenMs: int(env, "CIRCUIT_BREAKER_HALF_OPEN_MS", 10_000, 100),
      },
      /** On SIGTERM, how long a node waits for the requests it is handling before it leaves. */
      shutdownTimeoutMs: int(env, "SHUTDOWN_TIMEOUT_MS", 10_000, 0, 600_000),
      bulkheadConcurrency: int(env, "BULKHEAD_CONCURRENCY", 50, 1),
      bulkheadMaxQueue: int(env, "BULKHEAD_MAX_QUEUE", 500, 0),
    },
    baskets: {
      /** A basket disappears this long after its last change (every change restarts the clock). */
      ttlSeconds: int(env, "BASKET_TTL_SECONDS", 86_400, 1),
    },
    checkout: {
      /** An order must be paid within this (its `payBy`); its stock stays reserved until then. */
      reservationTtlSeconds: int(env, "RESERVATION_TTL_SECONDS", 15 * 60, 1),
      /** A payment started before payBy may complete this long after it (it covers the provider call). */
      paymentGraceSeconds: int(env, "PAYMENT_GRACE_SECONDS", 120, 0, 24 * 3600),
      /**
       * A confirmation in flight this long is taken as abandoned (its node died): the next attempt
       * or the payments sweep finishes it with the same provider keys. Above the provider's timeout.
       */
      paymentClaimTimeoutSeconds: int(env, "PAYMENT_CLAIM_TIMEOUT_SECONDS", 120, 1, 24 * 3600),
      /** How often lapsed orders are expired (orders) and orphaned reservations released (products). */
      sweepIntervalSeconds: int(env, "RESERVATION_SWEEP_SECONDS", 30, 1),
    },
    products: {
      /** Whether a fully refunded order's goods go back into stock. */
      restockOnRefund: oneOf(env, "RESTOCK_ON_REFUND", ["true", "false"] as const, "true") === "true",
    },
    metricsPort: optional(env, "METRICS_PORT") === undefined ? undefined : int(env, "METRICS_PORT", 0, 0, 65535),
    /** Whether the gateway serves /metrics on its public port (false: only METRICS_PORT does). */
    metricsPublic: oneOf(env, "METRICS_PUBLIC", ["true", "false"] as const, "true") === "true",
    /** One JSON line per HTTP request (method, route, status, duration, request, user and trace ids). */
    accessLog: oneOf(env, "ACCESS_LOG", ["true", "false"] as const, "false") === "true",
    /** OpenTelemetry tracing (OTEL_* variables): undefined when off. */
    tracing,
  };
}

export type Config = ReturnType<typeof loadConfig>;

let cached: Config | undefined;
/** The process-wide configuration (read on first use). */
export function config(): Config {
  cached ??= loadConfig();
  return cached;
}
