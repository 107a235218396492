/**
 * The API gateway (moleculer-web). REST lives under /api/v1 and is built only from actions that
 * declare both `rest` and `auth`; everything else (including $node.*) is unreachable over HTTP.
 */
import { randomUUID } from "node:crypto";
import path from "node:path";
import type { IncomingMessage, ServerResponse } from "node:http";
import ApiGateway from "moleculer-web";
import serveStatic from "serve-static";
import { Errors, type Context, type ServiceSchema } from "moleculer";
import { config, SERVICE_NAMES } from "../../lib/config";
import { runHealthChecks } from "../../lib/health";
import { prometheusText } from "../../lib/prometheus";
import { resolveJwtSecret, TokenService, InvalidTokenError } from "../../lib/auth/tokens";
import { buildOpenApi, type RouteEntry } from "../../lib/http/openapi";
import { ResponseCache } from "../../lib/http/response-cache";
import { clientIp, MemoryRateLimitStore, RateLimiter, RedisRateLimitStore, type RateLimitStore } from "../../lib/http/rate-limit";
import Redis from "ioredis";
import { API_SECURITY_HEADERS, PAGE_SECURITY_HEADERS } from "../../lib/http/security-headers";
import type { Access, ShopMeta } from "../../lib/http/access";
import { swaggerUiHtml, swaggerUiInit } from "./docs";

const { UnAuthorizedError, ForbiddenError } = ApiGateway.Errors;
const API_PREFIX = "/api/v1";
const SWAGGER_DIR = path.dirname(require.resolve("swagger-ui-dist/package.json"));
const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;
const DOCS_PREFIX = "/api/docs";

/** body-parser failures, in the shop's error vocabulary. */
const BODY_ERRORS: Record<string, { name: string; message: string; type: string }> = {
  "entity.parse.failed": { name: "BadRequestError", message: "Malformed JSON body", type: "INVALID_JSON" },
  "entity.too.large": { name: "PayloadTooLargeError", message: "Request body too large", type: "PAYLOAD_TOO_LARGE" },
  "encoding.unsupported": { name: "BadRequestError", message: "Unsupported body encoding", type: "UNSUPPORTED_ENCODING" },
  "charset.unsupported": { name: "BadRequestError", message: "Unsupported body charset", type: "UNSUPPORTED_CHARSET" },
};

type Req = IncomingMessage & {
  $action?: { name: string; auth?: Access; cache?: unknown; rateLimit?: "auth" };
  body?: unknown;
  $params?: Record<string, unknown>;
  $cacheGeneration?: number;
  originalUrl?: string;
};
const JSON_TYPE = "application/json; charset=utf-8";

const cfg = config();

const ApiService: ServiceSchema<any> = {
  name: "api",
  mixins: [ApiGateway],

  settings: {
    port: cfg.port,
    ip: "0.0.0.0",
    // No allow-list configured means no CORS headers: browsers keep other origins out.
    cors: cfg.http.corsOrigins.length
      ? {
          origin: cfg.http.corsOrigins,
          methods: ["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"],
          allowedHeaders: ["Authorization", "Content-Type", "Idempotency-Key", "X-Request-ID"],
          exposedHeaders: ["X-Request-ID", "Retry-After"],
          maxAge: 600,
        }
      : undefined,
    log4XXResponses: false,
    logRequest: "debug",
    logResponse: "debug",
    logRouteRegistration: "debug",

    routes: [
      {
        name: "system",
        path: "/",
        mappingPolicy: "restrict",
        bodyParsers: false,
        aliases: {
          "GET /health/live": "api.live",
          "GET /health/ready": "api.ready",
          "GET /health/detailed": "api.detailed",
          "GET /metrics": "api.metrics",
          [`GET ${API_PREFIX}/openapi.json`]: "api.openapi",
          [`GET ${DOCS_PREFIX}`]: "api.docs",
          [`GET ${DOCS_PREFIX}/init.js`]: "api.docsInit",
        },
      },
      {
        name: "docs-assets",
        path: `${DOCS_PREFIX}/assets`,
        mappingPolicy: "restrict",
        bodyParsers: false,
        use: [serveStatic(SWAGGER_DIR, { index: false, fallthrough: true })],
      },
      {
        // Stripe signs the exact bytes it sends: this route keeps the body raw.
        name: "webhooks",
        path: `${API_PREFIX}/payments/webhooks`,
        mappingPolicy: "restrict",
        // Stripe sends no bearer token; one that is sent is checked like on every other route.
        authentication: true,
        authorization: true,
        mergeParams: false,
        bodyParsers: { json: false, urlencoded: false, raw: { type: () => true, limit: "1mb" } },
        aliases: { "POST /stripe": "payments.stripeWebhook" },
        onBeforeCall(ctx: Context<unknown, ShopMeta>, _route: unknown, req: Req) {
          ctx.meta.rawBody = Buffer.isBuffer(req.body) ? req.body.toString("utf8") : "";
          ctx.meta.stripeSignature = req.headers["stripe-signature"] as string | undefined;
        },
      },
      {
        name: "rest",
        path: API_PREFIX,
        whitelist: ["**"],
        autoAliases: true,
        mappingPolicy: "restrict",
        authentication: true,
        authorization: true,
        bodyParsers: { json: { strict: true, limit: cfg.http.bodyLimit }, urlencoded: false },
        callOptions: { timeout: cfg.broker.requestTimeoutMs },
        async onBeforeCall(this: any, ctx: Context<unknown, ShopMeta>, _route: unknown, req: Req) {
          const key = req.headers["idempotency-key"];
          if (typeof key === "string") ctx.meta.idempotencyKey = key;
          ctx.meta.clientIp = clientIp(req, cfg.http.trustProxy);
          // Before authentication: guessing passwords or tokens costs the guesser, not us.
          await this.enforceRateLimits(ctx, req);
        },
        // Public cached reads are rendered once and kept in the gateway's micro-cache.
        onAfterCall(this: any, ctx: Context<unknown, ShopMeta>, _route: unknown, req: Req, _res: ServerResponse, data: unknown) {
          const action = req.$action;
          const cacheable =
            req.method === "GET" && !req.headers.authorization && action?.auth === "public" && action.cache && !ctx.meta.$statusCode && data !== undefined;
          if (!cacheable) return data;
          const body = Buffer.from(JSON.stringify(data));
          // moleculer-web has made req.url route-relative by now; the cache key is the URL as sent.
          this.responseCache.set(req.originalUrl, action.name.split(".")[0], body, JSON_TYPE, req.$cacheGeneration);
          ctx.meta.$responseType = JSON_TYPE;
          return body;
        },
      },
    ],
  },

  actions: {
    // moleculer-web's route-table and route-editing actions: /api/v1/openapi.json serves the first
    // need, and no node of the cluster may rewrite the gateway's routes.
    listAliases: false,
    addRoute: false,
    removeRoute: false,

    live: {
      handler() {
        return { status: "up" };
      },
    },
    ready: {
      async handler(ctx: Context<unknown, ShopMeta>) {
        const report = await this.healthReport();
        if (report.status !== "up") ctx.meta.$statusCode = 503;
        return { status: report.status };
      },
    },
    detailed: {
      async handler(ctx: Context<unknown, ShopMeta>) {
        const report = await this.healthReport();
        if (report.status !== "up") ctx.meta.$statusCode = 503;
        return report;
      },
    },
    metrics: {
      handler(ctx: Context<unknown, ShopMeta>) {
        ctx.meta.$responseType = "text/plain; version=0.0.4; charset=utf-8";
        return prometheusText(this.broker) ?? "";
      },
    },
    openapi: {
      handler() {
        return buildOpenApi(this.restRoutes(), { title: "Moleculer Shop API", version: "1" });
      },
    },
    docs: {
      handler(ctx: Context<unknown, ShopMeta>) {
        ctx.meta.$responseType = "text/html; charset=utf-8";
        return swaggerUiHtml(`${DOCS_PREFIX}/assets`, `${DOCS_PREFIX}/init.js`);
      },
    },
    docsInit: {
      handler(ctx: Context<unknown, ShopMeta>) {
        ctx.meta.$responseType = "application/javascript; charset=utf-8";
        return swaggerUiInit(`${API_PREFIX}/openapi.json`);
      },
    },
  },

  methods: {
    /**
     * Before any routing: security headers on every response (helmet's, computed once), an
     * X-Request-ID that is the client's well-formed one or a new one (so every response and log
     * line has one), and public cached reads straight from the micro-cache.
     */
    httpHandler(req: IncomingMessage, res: ServerResponse, next?: unknown) {
      const given = req.headers["x-request-id"];
      const requestId = typeof given === "string" && REQUEST_ID.test(given) ? given : randomUUID();
      req.headers["x-request-id"] = requestId;
      delete req.headers["x-correlation-id"];
      if (req.method === "GET" && !req.headers.authorization) {
        const hit = this.responseCache.get(req.url);
        if (hit) {
          this.cacheHits.increment();
          // One raw header list: the cheapest way Node writes a response head.
          res.writeHead(200, [
            ...API_SECURITY_HEADERS.flat(),
            "X-Request-ID", requestId,
            "Content-Type", hit.contentType,
            "Content-Length", String(hit.body.length),
            "X-Cache", "HIT",
          ]);
          res.end(hit.body);
          return;
        }
        (req as Req).$cacheGeneration = this.responseCache.generation;
      }
      const headers = req.url?.startsWith(DOCS_PREFIX) ? PAGE_SECURITY_HEADERS : API_SECURITY_HEADERS;
      for (const [name, value] of headers) res.setHeader(name, value);
      res.setHeader("X-Request-ID", requestId);
      return ApiGateway.methods!.httpHandler.call(this, req, res, next);
    },

    async authenticate(_ctx: Context, _route: unknown, req: Req) {
      const header = req.headers.authorization;
      if (!header) return null;
      const match = /^Bearer ([A-Za-z0-9._~+/=-]+)$/.exec(header);
      if (!match) throw new UnAuthorizedError("ERR_INVALID_TOKEN", { reason: "expected 'Bearer <token>'" });
      try {
        const { id, role } = await this.tokens.verify(match[1]);
        return { id, role };
      } catch (err) {
        if (err instanceof InvalidTokenError) throw new UnAuthorizedError("ERR_INVALID_TOKEN", { reason: err.message });
        throw err;
      }
    },

    authorize(ctx: Context<unknown, ShopMeta>, _route: unknown, req: Req) {
      const access = req.$action?.auth;
      // An action that declares no access is not part of the public surface.
      if (!access) throw new Errors.MoleculerClientError("Not found", 404, "NOT_FOUND");
      if (access === "public") return;
      if (!ctx.meta.user) throw new UnAuthorizedError("ERR_NO_TOKEN", null);
      if (access === "admin" && ctx.meta.user.role !== "admin") {
        throw new ForbiddenError("ERR_FORBIDDEN", { reason: "admin role required" });
      }
    },

    /** Stable error body; a 5xx never leaks internals (the log has them, with the request id). */
    reformatError(err: Errors.MoleculerError) {
      const code = typeof err.code === "number" && err.code >= 400 && err.code < 600 ? err.code : 500;
      const bodyError = typeof err.type === "string" ? BODY_ERRORS[err.type] : undefined;
      if (bodyError) return { ...bodyError, code, data: null };
      if (code >= 500 && !(err instanceof Errors.MoleculerRetryableError) && code !== 503) {
        this.logger.error("Request failed:", err);
        return { name: "InternalServerError", message: "Internal server error", code, type: "INTERNAL_ERROR", data: null };
      }
      // Validation failures name the fields, not the node or action that checked them.
      const data = err instanceof Errors.ValidationError && Array.isArray(err.data)
        ? err.data.map(({ field, type, message, expected, actual }: any) => ({ field, type, message, expected, actual }))
        : err.data ?? null;
      return { name: err.name, message: err.message, code, type: err.type ?? null, data };
    },

    /** Every REST-declared action known to the registry (local or on another node). */
    declaredActions(): Map<string, any> {
      const actions = new Map<string, any>();
      const explicit = new Set(this.settings.routes.flatMap((r: any) => Object.values(r.aliases ?? {})));
      for (const item of this.broker.registry.getActionList({ onlyAvailable: true, skipInternal: true }) as any[]) {
        if ((item.action?.rest || explicit.has(item.name)) && item.action?.auth) actions.set(item.name, item.action);
      }
      return actions;
    },

    /** The general API limit per client IP; sign-in and registration also per IP and per email. */
    async enforceRateLimits(ctx: Context<unknown, ShopMeta>, req: Req) {
      const ip = ctx.meta.clientIp!;
      const keys: [RateLimiter | undefined, string][] = [[this.apiLimiter, `api:${ip}`]];
      if (req.$action?.rateLimit === "auth") {
        keys.push([this.authLimiter, `auth:ip:${ip}`]);
        const email = (req.body as { email?: unknown } | undefined)?.email;
        if (typeof email === "string") keys.push([this.authLimiter, `auth:email:${email.trim().toLowerCase()}`]);
      }
      for (const [limiter, key] of keys) {
        const retryAfter = limiter ? await limiter.check(key) : 0;
        if (retryAfter > 0) {
          ctx.meta.$responseHeaders = { ...ctx.meta.$responseHeaders, "Retry-After": String(retryAfter) };
          throw new Errors.MoleculerClientError("Too many requests", 429, "TOO_MANY_REQUESTS", { retryAfter });
        }
      }
    },

    /** The REST route table: every alias of the rest route, with what its action declares. */
    restRoutes(): RouteEntry[] {
      const actions = this.declaredActions();
      const routes: RouteEntry[] = [];
      for (const alias of this.aliases as any[]) {
        if (!["rest", "webhooks"].includes(alias.route.opts.name) || typeof alias.action !== "string") continue;
        const action = actions.get(alias.action);
        if (!action?.auth) continue;
        routes.push({
          method: alias.method,
          path: alias.fullPath,
          action: alias.action,
          auth: action.auth,
          params: action.params,
          summary: action.summary,
        });
      }
      return routes;
    },

    async healthReport() {
      const checks = await runHealthChecks();
      const missing = SERVICE_NAMES.filter((name) => !this.broker.registry.hasService(name, undefined as unknown as string));
      // Aliases are regenerated shortly after services appear: not ready until every route is in.
      const routed = new Set(this.restRoutes().map((r: RouteEntry) => r.action));
      const unrouted = [...this.declaredActions().keys()].filter((name) => !routed.has(name));
      const healthy = checks.every((c) => c.status === "up") && missing.length === 0 && unrouted.length === 0;
      const status = healthy ? "up" : "down";
      return {
        status,
        nodeId: this.broker.nodeID,
        uptimeSeconds: Math.round(process.uptime()),
        checks,
        services: { required: SERVICE_NAMES, missing },
        routes: { count: routed.size, pending: unrouted },
      };
    },
  },

  async started() {
    await this.rateLimitRedis?.connect();
  },

  async stopped() {
    this.rateLimitRedis?.disconnect();
  },

  events: {
    // Every service's data change (moleculer-db broadcasts cache.clean.<service>) drops its responses.
    "cache.clean.*"(ctx: Context) {
      this.responseCache.invalidate(String(ctx.eventName).slice("cache.clean.".length));
    },
  },

  created() {
    this.tokens = new TokenService(resolveJwtSecret(cfg, (m) => this.logger.warn(m)));
    // With Redis every gateway node shares one count per key.
    this.rateLimitRedis = cfg.redisUrl ? new Redis(cfg.redisUrl, { lazyConnect: true, maxRetriesPerRequest: 2 }) : undefined;
    const store: RateLimitStore = this.rateLimitRedis ? new RedisRateLimitStore(this.rateLimitRedis, `${cfg.namespace}:ratelimit:`) : new MemoryRateLimitStore();
    this.apiLimiter = cfg.http.apiRateLimit > 0 ? new RateLimiter(store, cfg.http.apiRateLimit) : undefined;
    this.authLimiter = cfg.auth.rateLimit > 0 ? new RateLimiter(store, cfg.auth.rateLimit) : undefined;
    this.responseCache = new ResponseCache(cfg.http.responseCacheEntries, cfg.http.responseCacheTtlMs);
    this.cacheHits = this.broker.metrics.register({
      type: "counter",
      name: "shop.http.response_cache.hits",
      description: "Public reads answered from the gateway's micro-cache",
    }) ?? { increment() {} };
  },
};

export default ApiService;
