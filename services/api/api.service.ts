/**
 * The API gateway (moleculer-web). REST lives under /api/v1 and is built only from actions that
 * declare both `rest` and `auth`; everything else (including $node.*) is unreachable over HTTP.
 */
import { randomUUID } from "node:crypto";
import path from "node:path";
import type { IncomingMessage, ServerResponse } from "node:http";
import ApiGateway from "moleculer-web";
import serveStatic from "serve-static";
import { Errors, type ActionSchema, type Context, type Service, type ServiceSchema } from "moleculer";
import type { ApiSettingsSchema } from "moleculer-web";
import { config, SERVICE_NAMES } from "../../lib/config";
import { normalizeEmail } from "../../lib/email";
import { nestedDeeperThan } from "../../lib/http/client-input";
import { withRequestContext } from "../../lib/request-context";
import { runHealthChecks } from "../../lib/health";
import { balancerInEffect, clusterView } from "../../lib/cluster";
import { counterIncrement, prometheusText } from "../../lib/prometheus";
import { resolveJwtSecret, TokenService, InvalidTokenError } from "../../lib/auth/tokens";
import { AccessCache, type AccessState } from "../../lib/auth/access-cache";
import { buildOpenApi, type RouteEntry } from "../../lib/http/openapi";
import { AliasIndex, type AliasLike, type AliasMatch } from "../../lib/http/alias-index";
import { allowHeader, MethodNotAllowedError, pathOf } from "../../lib/http/methods";
import { ref } from "../../lib/http/schemas";
import { ResponseCache } from "../../lib/http/response-cache";
import { clientIp, MemoryRateLimitStore, RateLimiter, RedisRateLimitStore, type RateLimitStore } from "../../lib/http/rate-limit";
import Redis from "ioredis";
import { API_SECURITY_HEADERS, PAGE_SECURITY_HEADERS } from "../../lib/http/security-headers";
import type { ShopMeta } from "../../lib/http/access";
import { swaggerUiHtml, swaggerUiInit } from "./docs";
import { storefrontRoute } from "../../lib/http/storefront";
import { RequestObserver, traceHeader, traceRootCall, type ObservedRequest } from "../../lib/http/request-observer";

const { UnAuthorizedError, ForbiddenError } = ApiGateway.Errors;
const API_PREFIX = "/api/v1";
const SWAGGER_DIR = path.dirname(require.resolve("swagger-ui-dist/package.json"));
const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;
const DOCS_PREFIX = "/api/docs";
/** Deeper than any request of the shop, far shallower than what overflows a recursive walk (cache keys, JSON). */
const MAX_BODY_DEPTH = 32;
/** Accounts whose access state a gateway node keeps (the oldest goes first beyond it). */
const ACCESS_CACHE_ENTRIES = 100_000;

/** Bodies the gateway cannot read (body-parser's failures by type, and our depth limit), in the shop's error vocabulary. */
const BODY_ERRORS: Record<string, { name: string; message: string; type: string; code: number }> = {
  "entity.parse.failed": { name: "BadRequestError", message: "Malformed JSON body", type: "INVALID_JSON", code: 400 },
  "entity.too.large": { name: "PayloadTooLargeError", message: "Request body too large", type: "PAYLOAD_TOO_LARGE", code: 413 },
  "encoding.unsupported": { name: "BadRequestError", message: "Unsupported body encoding", type: "UNSUPPORTED_ENCODING", code: 415 },
  "charset.unsupported": { name: "BadRequestError", message: "Unsupported body charset", type: "UNSUPPORTED_CHARSET", code: 415 },
  "encoding.invalid": { name: "BadRequestError", message: "The body cannot be decoded as its Content-Encoding says", type: "INVALID_BODY_ENCODING", code: 400 },
  "request.size.invalid": { name: "BadRequestError", message: "The body does not match its Content-Length", type: "INVALID_BODY_LENGTH", code: 400 },
  "request.aborted": { name: "BadRequestError", message: "Request aborted", type: "REQUEST_ABORTED", code: 400 },
  "entity.too.deep": { name: "BadRequestError", message: `Request body nested deeper than ${MAX_BODY_DEPTH} levels`, type: "BODY_TOO_DEEP", code: 400 },
};
/**
 * A corrupt gzip, deflate, br or zstd body fails in zlib, whose error reaches us without body-parser's
 * type or status (moleculer-web keeps only message and code): its code is what says so.
 */
const UNDECODABLE_BODY = /^(Z_|ERR__ERROR_|ZSTD_error_)/;

/**
 * A body nested thousands deep would overflow whatever walks it next (the cacher's keys, the
 * transporter's JSON): refused like a malformed one, before any of them.
 */
function refuseDeepBody(req: Req): void {
  if (nestedDeeperThan(req.body, MAX_BODY_DEPTH)) throw bodyFailure({ type: "entity.too.deep" });
}

/** Public cached reads are rendered once and kept in the gateway's micro-cache (the rest route's onAfterCall). */
function keepInMicroCache(this: ApiThis, ctx: Context<unknown, ShopMeta>, _route: unknown, req: Req, _res: ServerResponse, data: unknown) {
  const action = req.$action;
  const cacheable =
    req.method === "GET" && !req.headers.authorization && action?.auth === "public" && action.cache && !ctx.meta.$statusCode && data !== undefined;
  if (!cacheable) return data;
  const body = Buffer.from(JSON.stringify(data));
  // moleculer-web has made req.url route-relative by now; the cache key is the URL as sent.
  this.responseCache.set(req.originalUrl!, action.name!.split(".")[0], body, JSON_TYPE, req.$cacheGeneration, (req as ObservedRequest).$alias?.fullPath);
  ctx.meta.$responseType = JSON_TYPE;
  return body;
}

/** The client error a body failure stands for, or undefined when `err` is no body failure. */
function bodyFailure(err: any): Errors.MoleculerClientError | undefined {
  const key = typeof err?.type === "string" && err.type in BODY_ERRORS ? err.type : typeof err?.code === "string" && UNDECODABLE_BODY.test(err.code) ? "encoding.invalid" : undefined;
  if (!key) return undefined;
  const { name, message, type, code } = BODY_ERRORS[key];
  const failure = new Errors.MoleculerClientError(message, code, type);
  failure.name = name;
  return failure;
}

type Req = IncomingMessage & {
  /** The action's schema, with what the shop's actions declare (auth, rateLimit: lib/http/access.ts). */
  $action?: ActionSchema;
  body?: unknown;
  $params?: Record<string, unknown>;
  $cacheGeneration?: number;
  originalUrl?: string;
};
const JSON_TYPE = "application/json; charset=utf-8";
/** The API's security headers as one flat [name, value, ...] list, for the micro-cache's writeHead. */
const API_HEADER_LIST = API_SECURITY_HEADERS.flat();

const cfg = config();
/**
 * moleculer-web's per-request log lines ("=> GET /url", "<= 200 GET /url [+0.4 ms]") are debug lines,
 * but it formats them (colours, timings) before the logger drops them: with `logging: false` on a
 * route it skips them altogether, so routes log requests only when debug lines are written at all.
 */
const ROUTE_LOGGING = cfg.logLevel === "debug" || cfg.logLevel === "trace";
/** Whether the gateway keeps rendered public reads (HTTP_CACHE_TTL_MS and HTTP_CACHE_ENTRIES above 0). */
const NO_TRACE: string[] = [];
const MICRO_CACHE = cfg.http.responseCacheTtlMs > 0 && cfg.http.responseCacheEntries > 0;

/** moleculer-web's Alias as the gateway reads it (its declarations lack fullPath, match and the route's options). */
interface GatewayAlias extends AliasLike {
  action: unknown;
  route: { opts: { name?: string } };
}
/** A registered action's schema (local or another node's), with what the shop's actions declare (lib/http/access.ts). */
type DeclaredAction = Omit<ActionSchema, "handler" | "remoteHandler" | "service">;
/** What /health/detailed answers (the HealthReport schema). */
interface HealthReport {
  status: "up" | "down";
  reason?: string;
  nodeId: string;
  uptimeSeconds: number;
  checks: Awaited<ReturnType<typeof runHealthChecks>>;
  services: { required: readonly string[]; missing: string[] };
  routes: { count: number; pending: string[] };
}

/** The service's types (the pattern of services/notifications): `this` is the service with these. */
interface ApiSettings extends ApiSettingsSchema {
  rest: string;
}
interface ApiMethods {
  httpHandler(req: IncomingMessage, res: ServerResponse, next?: unknown): unknown;
  sendCacheHit(res: ServerResponse, requestId: string, hit: { body: Buffer; contentType: string }, trace: string[]): void;
  resolveAlias(url: string, method?: string): AliasMatch<GatewayAlias>;
  currentAliasIndex(): AliasIndex<GatewayAlias>;
  createAlias(...args: unknown[]): GatewayAlias;
  authenticate(ctx: Context, route: unknown, req: Req): Promise<ShopMeta["user"]> | null;
  authenticateBearer(ctx: Context, header: string): Promise<ShopMeta["user"]>;
  fetchAccessState(ctx: Context, id: string): Promise<AccessState | null>;
  authorize(ctx: Context<unknown, ShopMeta>, route: unknown, req: Req): void;
  errorHandler(req: Req, res: ServerResponse, err: any): void;
  logServerFault(req: Req, err: unknown): void;
  reformatError(err: Errors.MoleculerError): { name: string; message: string; code: number; type: string | null; data: unknown };
  declaredActions(): Map<string, DeclaredAction>;
  enforceRateLimits(ctx: Context<unknown, ShopMeta>, req: Req): Promise<void> | undefined;
  checkRateLimits(ctx: Context<unknown, ShopMeta>, keys: [RateLimiter, string][]): Promise<void>;
  restRoutes(): RouteEntry[];
  documentedRoutes(): RouteEntry[];
  healthReport(): Promise<HealthReport>;
}
/** What created() and the moleculer-web mixin put on the service. */
interface ApiVars {
  tokens: TokenService;
  accessCache: AccessCache<AccessState | null>;
  rateLimitRedis?: Redis;
  apiLimiter?: RateLimiter;
  authLimiter?: RateLimiter;
  responseCache: ResponseCache;
  requestObserver: RequestObserver;
  countCacheHit(): void;
  aliasIndex?: AliasIndex<GatewayAlias>;
  /** moleculer-web's: the aliases of every route, in match order, and its error writer. */
  aliases: GatewayAlias[];
  sendError(req: Req, res: ServerResponse, err: unknown): void;
}
type ApiThis = Service<ApiSettings> & ApiMethods & ApiVars;

const ApiService: ServiceSchema<ApiSettings, ApiMethods, ApiVars> = {
  name: "api",
  mixins: [ApiGateway],

  settings: {
    port: cfg.port,
    ip: "0.0.0.0",
    // The gateway's own REST actions (admin/cluster) sit at the API root, like every service's.
    rest: "/",
    // No allow-list configured means no CORS headers: browsers keep other origins out.
    cors: cfg.http.corsOrigins.length
      ? {
          origin: cfg.http.corsOrigins,
          methods: ["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"],
          allowedHeaders: ["Authorization", "Content-Type", "Idempotency-Key", "X-Request-ID", "traceparent", "tracestate"],
          exposedHeaders: ["X-Request-ID", "Retry-After", "traceparent"],
          maxAge: 600,
        }
      : undefined,
    log4XXResponses: false,
    logRequest: "debug",
    logResponse: "debug",
    logRouteRegistration: "debug",
    // With tracing on, the gateway's call is the child of the request's HTTP span (lib/http/request-observer.ts).
    // moleculer-web also takes a function here (its declarations say an object only).
    rootCallOptions: cfg.tracing ? (traceRootCall as unknown as ApiSettingsSchema["rootCallOptions"]) : undefined,

    routes: [
      storefrontRoute(),
      {
        name: "system",
        path: "/",
        mappingPolicy: "restrict",
        bodyParsers: false,
        logging: ROUTE_LOGGING,
        aliases: {
          // GET /health is the seeds' liveness probe: it answers like /health/live.
          "GET /health": "api.health",
          "GET /health/live": "api.live",
          "GET /health/ready": "api.ready",
          "GET /health/detailed": "api.detailed",
          // METRICS_PUBLIC=false keeps it off the public port (METRICS_PORT serves it then).
          ...(cfg.metricsPublic && { "GET /metrics": "api.metrics" }),
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
        logging: ROUTE_LOGGING,
        use: [serveStatic<ServerResponse>(SWAGGER_DIR, { index: false, fallthrough: true })],
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
        logging: ROUTE_LOGGING,
        aliases: { "POST /stripe": "payments.stripeWebhook" },
        onBeforeCall(ctx: Context<unknown, ShopMeta>, _route: unknown, req: Req) {
          ctx.meta.rawBody = Buffer.isBuffer(req.body) ? req.body.toString("utf8") : "";
          ctx.meta.stripeSignature = req.headers["stripe-signature"] as string | undefined;
        },
      },
      {
        name: "rest",
        path: API_PREFIX,
        // No whitelist: mappingPolicy "restrict" already limits the route to its aliases (a
        // whitelist of "**" only cost a pattern match per request).
        autoAliases: true,
        mappingPolicy: "restrict",
        authentication: true,
        authorization: true,
        bodyParsers: { json: { strict: true, limit: cfg.http.bodyLimit }, urlencoded: false },
        logging: ROUTE_LOGGING,
        // Not async: without a rate limit to consult, nothing here waits.
        onBeforeCall(this: ApiThis, ctx: Context<unknown, ShopMeta>, _route: unknown, req: Req): Promise<void> | void {
          const key = req.headers["idempotency-key"];
          if (typeof key === "string") ctx.meta.idempotencyKey = key;
          ctx.meta.clientIp = clientIp(req, cfg.http.trustProxy);
          // Before authentication: guessing passwords or tokens costs the guesser, not us.
          const limited: Promise<void> | undefined = this.enforceRateLimits(ctx, req);
          return limited ? limited.then(() => refuseDeepBody(req)) : refuseDeepBody(req);
        },
        // Without a micro-cache there is nothing to do after the call (and no hook for moleculer-web to await).
        onAfterCall: MICRO_CACHE ? keepInMicroCache : undefined,
      },
    ],
  },

  actions: {
    // moleculer-web's route-table and route-editing actions: /api/v1/openapi.json serves the first
    // need, and no node of the cluster may rewrite the gateway's routes.
    listAliases: false,
    addRoute: false,
    removeRoute: false,
    // The HTTP envelope around each routed call (moleculer-web's): the action it calls has its own
    // circuit, and counting the same fault here too would "open" one for the whole gateway.
    // No bulkhead either: one shared by every route would let a slow action take all its slots and
    // queue every other request behind it, which is what per-action bulkheads are there to prevent.
    rest: { circuitBreaker: { enabled: false }, bulkhead: { enabled: false } },

    health: {
      summary: "Liveness (the seeds' path): 200 while the process runs",
      responses: { 200: ref("Health") },
      handler() {
        return { status: "up" };
      },
    },
    live: {
      summary: "Liveness: 200 while the process runs",
      responses: { 200: ref("Health") },
      handler() {
        return { status: "up" };
      },
    },
    ready: {
      summary: "Readiness: 200 when every dependency answers and every service is routed, 503 otherwise",
      responses: { 200: ref("Health"), 503: ref("Health") },
      async handler(ctx: Context<unknown, ShopMeta>) {
        const report = await this.healthReport();
        if (report.status !== "up") ctx.meta.$statusCode = 503;
        return { status: report.status };
      },
    },
    detailed: {
      summary: "Each dependency check with its status and latency, missing services, pending routes",
      responses: { 200: ref("HealthReport"), 503: ref("HealthReport") },
      async handler(ctx: Context<unknown, ShopMeta>) {
        const report = await this.healthReport();
        if (report.status !== "up") ctx.meta.$statusCode = 503;
        return report;
      },
    },
    metrics: {
      summary: "Prometheus text of this node",
      responses: { 200: { type: "string", contentMediaType: "text/plain" } },
      handler(ctx: Context<unknown, ShopMeta>) {
        ctx.meta.$responseType = "text/plain; version=0.0.4; charset=utf-8";
        return prometheusText(this.broker) ?? "";
      },
    },
    cluster: {
      rest: "GET /admin/cluster",
      auth: "admin",
      summary: "Nodes, their services and health; each action's endpoints with calls served, latency and circuit; the balancing strategy",
      responses: { 200: ref("ClusterView") },
      handler() {
        return clusterView(this.broker, balancerInEffect(cfg.transporter, cfg.broker.balancer));
      },
    },
    openapi: {
      summary: "This document",
      responses: { 200: ref("OpenApiDocument") },
      handler() {
        return buildOpenApi(this.documentedRoutes(), { title: "Moleculer Shop API", version: "1" });
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
      // OPTIONS that is not a CORS preflight: which methods the path answers.
      if (req.method === "OPTIONS" && !req.headers["access-control-request-method"]) {
        const allow = this.currentAliasIndex().allowedMethods(pathOf(req.url));
        if (allow.length) {
          for (const [name, value] of API_SECURITY_HEADERS) res.setHeader(name, value);
          res.writeHead(204, { Allow: allowHeader(allow) });
          res.end();
          return;
        }
      }
      const given = req.headers["x-request-id"];
      const requestId = typeof given === "string" && REQUEST_ID.test(given) ? given : randomUUID();
      const cacheable = req.method === "GET" && this.responseCache.enabled && !req.headers.authorization;
      const hit = cacheable ? this.responseCache.get(req.url!) : undefined;
      // A hit with nothing to trace or log: answered and timed on the spot.
      if (hit && this.requestObserver.metricsOnly) {
        const start = performance.now();
        this.sendCacheHit(res, requestId, hit, NO_TRACE);
        this.requestObserver.recordHit(hit.route ?? "unmatched", start);
        return;
      }
      // Metrics, access log and the HTTP span, recorded when the response is done.
      const context = this.requestObserver.begin(req, res, requestId);
      if (hit) {
        (req as ObservedRequest).$cachedRoute = hit.route;
        this.sendCacheHit(res, requestId, hit, traceHeader(req));
        return;
      }
      if (cacheable) (req as Req).$cacheGeneration = this.responseCache.generation;
      // moleculer-web takes the context's request id from these headers (a correlation id first).
      req.headers["x-request-id"] = requestId;
      if (req.headers["x-correlation-id"] !== undefined) delete req.headers["x-correlation-id"];
      const headers = req.url?.startsWith(DOCS_PREFIX) ? PAGE_SECURITY_HEADERS : API_SECURITY_HEADERS;
      for (const [name, value] of headers) res.setHeader(name, value);
      res.setHeader("X-Request-ID", requestId);
      const trace = traceHeader(req);
      if (trace.length) res.setHeader(trace[0], trace[1]);
      // Everything this request does on this node, the actions it calls included, logs under its id.
      return withRequestContext(context, () => ApiGateway.methods!.httpHandler.call(this, req, res, next));
    },

    /** A micro-cache hit: one raw header list, the cheapest way Node writes a response head. */
    sendCacheHit(res: ServerResponse, requestId: string, hit: { body: Buffer; contentType: string }, trace: string[]) {
      this.countCacheHit();
      res.writeHead(200, [
        ...API_HEADER_LIST,
        "X-Request-ID", requestId,
        "Content-Type", hit.contentType,
        "Content-Length", String(hit.body.length),
        "X-Cache", "HIT",
        ...trace,
      ]);
      res.end(hit.body);
    },

    /** moleculer-web's route lookup, from an index of its aliases (lib/http/alias-index.ts), rebuilt when they change. */
    resolveAlias(url: string, method = "GET") {
      const index = this.currentAliasIndex();
      const found = index.resolve(url, method);
      if (found) return found;
      // A path the gateway knows, with another method: 405 with Allow (errorHandler sets the header).
      const allow = index.allowedMethods(url);
      if (allow.length) throw new MethodNotAllowedError(allow);
      return false;
    },

    currentAliasIndex(): AliasIndex<GatewayAlias> {
      const aliases = this.aliases;
      if (this.aliasIndex?.aliases !== aliases || this.aliasIndex.size !== aliases.length) this.aliasIndex = new AliasIndex(aliases);
      return this.aliasIndex;
    },

    /**
     * moleculer-web's, with the alias's description formatted once: it writes it in a debug line on
     * every request, formatting it (colours, padding) before the logger drops the line.
     */
    createAlias(...args: unknown[]) {
      const alias = ApiGateway.methods!.createAlias.apply(this, args);
      const description = alias.toString();
      alias.toString = () => description;
      return alias;
    },

    // Not async: an anonymous request has nothing to verify and nothing to wait for.
    authenticate(ctx: Context, _route: unknown, req: Req) {
      const header = req.headers.authorization;
      if (!header) return null;
      return this.authenticateBearer(ctx, header);
    },

    /** The caller a bearer token stands for, as the account is now. */
    async authenticateBearer(ctx: Context, header: string) {
      const match = /^Bearer ([A-Za-z0-9._~+/=-]+)$/.exec(header);
      if (!match) throw new UnAuthorizedError("ERR_INVALID_TOKEN", { reason: "expected 'Bearer <token>'" });
      let claims: Awaited<ReturnType<TokenService["verify"]>>;
      try {
        claims = await this.tokens.verify(match[1]);
      } catch (err) {
        if (err instanceof InvalidTokenError) throw new UnAuthorizedError("ERR_INVALID_TOKEN", { reason: err.message });
        throw err;
      }
      // The account as it is now, not as it was when the token was signed: role and status changes
      // take effect on the next request. A fresh cached state costs one map lookup.
      const cached = this.accessCache.fresh(claims.id);
      const state: AccessState | null = cached ? cached.value : await this.accessCache.load(claims.id, () => this.fetchAccessState(ctx, claims.id));
      if (!state) throw new UnAuthorizedError("ERR_INVALID_TOKEN", { reason: "account not found" });
      if (!state.active) throw new UnAuthorizedError("ERR_INVALID_TOKEN", { reason: "account deactivated" });
      if (state.tokenVersion !== claims.tokenVersion) throw new UnAuthorizedError("ERR_INVALID_TOKEN", { reason: "token revoked" });
      return { id: claims.id, role: state.role };
    },

    /** Asks users for an account's access state; without an answer no token is honoured (503). */
    async fetchAccessState(ctx: Context, id: string): Promise<AccessState | null> {
      try {
        return await ctx.call("users.accessState", { id });
      } catch (err) {
        this.logger.warn(`Cannot read the access state of ${id}: ${(err as Error)?.message ?? err}`);
        throw new Errors.MoleculerRetryableError("Service unavailable", 503, "AUTH_UNAVAILABLE");
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

    /**
     * moleculer-web's handler of every failed request (replacing its own, which logs a 5xx in pieces
     * Pino drops): a body the gateway cannot read is the client's 4xx, and a 5xx is logged once.
     */
    errorHandler(req: Req, res: ServerResponse, err: any) {
      const error = bodyFailure(err) ?? err;
      if (error instanceof MethodNotAllowedError) res.setHeader("Allow", allowHeader(error.allow));
      const clientError = typeof error?.code === "number" && error.code >= 400 && error.code < 500;
      if (!clientError) this.logServerFault(req, error);
      this.sendError(req, res, error);
    },

    /** One line per 5xx in either LOG_FORMAT: the error's name, message and stack, under the request's id. */
    logServerFault(req: Req, err: unknown) {
      const error = err instanceof Error ? err : new Error(String(err));
      // Outside any action here: the id the gateway gave the request (and its trace) names the line.
      const trace = (req as ObservedRequest).$trace;
      withRequestContext({ requestId: req.headers["x-request-id"] as string | undefined, traceId: trace?.traceId, spanId: trace?.spanId, sampled: trace?.sampled }, () => {
        // Pino serialises an Error given first (as `err`: type, message, stack) and drops arguments after the message.
        if (cfg.logFormat === "json") this.logger.error(error, `Request failed: ${error.name}: ${error.message}`);
        else this.logger.error("Request failed:", error);
      });
    },

    /** Stable error body; a 5xx never leaks internals (errorHandler logged them, with the request id). */
    reformatError(err: Errors.MoleculerError) {
      const code = typeof err.code === "number" && err.code >= 400 && err.code < 600 ? err.code : 500;
      if (code >= 500 && !(err instanceof Errors.MoleculerRetryableError) && code !== 503) {
        return { name: "InternalServerError", message: "Internal server error", code, type: "INTERNAL_ERROR", data: null };
      }
      // Validation failures name the fields, not the node or action that checked them.
      const data = err instanceof Errors.ValidationError && Array.isArray(err.data)
        ? err.data.map(({ field, type, message, expected, actual }: any) => ({ field, type, message, expected, actual }))
        : err.data ?? null;
      return { name: err.name, message: err.message, code, type: err.type ?? null, data };
    },

    /** Every REST-declared action known to the registry (local or on another node). */
    declaredActions(): Map<string, DeclaredAction> {
      const actions = new Map<string, DeclaredAction>();
      const explicit = new Set((this.settings.routes ?? []).flatMap((r) => Object.values(r.aliases ?? {})));
      for (const item of this.broker.registry.getActionList({ onlyAvailable: true, skipInternal: true })) {
        if (item.action && (item.action.rest || explicit.has(item.name)) && item.action.auth) actions.set(item.name, item.action);
      }
      return actions;
    },

    /**
     * The general API limit per client IP; sign-in and registration also per IP and per email.
     * Undefined when no limit applies (the limits are off), so that the caller need not wait.
     */
    enforceRateLimits(ctx: Context<unknown, ShopMeta>, req: Req): Promise<void> | undefined {
      const ip = ctx.meta.clientIp!;
      const keys: [RateLimiter, string][] = [];
      if (this.apiLimiter) keys.push([this.apiLimiter, `api:${ip}`]);
      if (this.authLimiter && req.$action?.rateLimit === "auth") {
        keys.push([this.authLimiter, `auth:ip:${ip}`]);
        const email = (req.body as { email?: unknown } | undefined)?.email;
        // Normalised as users stores it: another case or Unicode form of an email is the same bucket.
        if (typeof email === "string") keys.push([this.authLimiter, `auth:email:${normalizeEmail(email)}`]);
      }
      return keys.length ? this.checkRateLimits(ctx, keys) : undefined;
    },

    async checkRateLimits(ctx: Context<unknown, ShopMeta>, keys: [RateLimiter, string][]) {
      for (const [limiter, key] of keys) {
        const retryAfter = await limiter.check(key);
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
      for (const alias of this.aliases) {
        const route = alias.route.opts.name;
        if ((route !== "rest" && route !== "webhooks") || typeof alias.action !== "string") continue;
        const action = actions.get(alias.action);
        if (!action?.auth) continue;
        routes.push({
          method: alias.method,
          path: alias.fullPath,
          action: alias.action,
          auth: action.auth,
          params: action.params,
          summary: action.summary,
          responses: action.responses,
          headers: action.headers,
          tags: action.tags,
          bodyMinProperties: action.bodyMinProperties,
          rawBody: route === "webhooks",
        });
      }
      return routes;
    },

    /** What the OpenAPI document shows: the REST route table and the gateway's own routes (health, metrics, the document). */
    documentedRoutes(): RouteEntry[] {
      const own = this.schema.actions as Record<string, ActionSchema>;
      const system: RouteEntry[] = [];
      for (const alias of this.aliases) {
        if (alias.route.opts.name !== "system" || typeof alias.action !== "string") continue;
        const action = own[alias.action.slice("api.".length)];
        if (!action?.responses) continue;
        system.push({ method: alias.method, path: alias.fullPath, action: alias.action, auth: "public", summary: action.summary, responses: action.responses, system: true, tags: ["api"] });
      }
      return [...system, ...this.restRoutes()];
    },

    async healthReport() {
      const checks = await runHealthChecks();
      const missing = SERVICE_NAMES.filter((name) => !this.broker.registry.hasService(name, undefined as unknown as string));
      // Aliases are regenerated shortly after services appear: not ready until every route is in.
      const routed = new Set(this.restRoutes().map((r: RouteEntry) => r.action));
      const unrouted = [...this.declaredActions().keys()].filter((name) => !routed.has(name));
      // The broker is not started while it starts or, after SIGTERM, while it drains: load
      // balancers stop sending new requests while those in flight finish.
      const accepting = this.broker.started;
      const healthy = accepting && checks.every((c) => c.status === "up") && missing.length === 0 && unrouted.length === 0;
      const status = healthy ? "up" : "down";
      return {
        status,
        ...(!accepting && { reason: "not started, or stopping" }),
        nodeId: this.broker.nodeID,
        uptimeSeconds: Math.round(process.uptime()),
        checks,
        services: { required: SERVICE_NAMES, missing },
        routes: { count: routed.size, pending: unrouted },
      };
    },
  } satisfies ApiMethods & ThisType<ApiThis>,

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
    // users broadcasts this on every role, status, password change and deletion (at most once per
    // node: a lost one is bounded by ACCESS_CACHE_TTL_MS).
    "user.accessChanged"(ctx: Context<{ id?: unknown }>) {
      const id = ctx.params?.id;
      if (typeof id === "string") this.accessCache.invalidate(id);
      else this.accessCache.clear();
    },
    // Broadcasts sent while this node was cut off from NATS never arrive: forget every account.
    "$transporter.connected"(ctx: Context<{ wasReconnect?: boolean }>) {
      if (ctx.params?.wasReconnect) this.accessCache.clear();
    },
  },

  created() {
    this.tokens = new TokenService(resolveJwtSecret(cfg, (m) => this.logger.warn(m)));
    this.accessCache = new AccessCache<AccessState | null>(ACCESS_CACHE_ENTRIES, cfg.auth.accessCacheTtlMs);
    // With Redis every gateway node shares one count per key.
    this.rateLimitRedis = cfg.redisUrl ? new Redis(cfg.redisUrl, { lazyConnect: true, maxRetriesPerRequest: 2 }) : undefined;
    const store: RateLimitStore = this.rateLimitRedis ? new RedisRateLimitStore(this.rateLimitRedis, `${cfg.namespace}:ratelimit:`) : new MemoryRateLimitStore();
    this.apiLimiter = cfg.http.apiRateLimit > 0 ? new RateLimiter(store, cfg.http.apiRateLimit) : undefined;
    this.authLimiter = cfg.auth.rateLimit > 0 ? new RateLimiter(store, cfg.auth.rateLimit) : undefined;
    this.responseCache = new ResponseCache(cfg.http.responseCacheEntries, cfg.http.responseCacheTtlMs);
    this.requestObserver = new RequestObserver(this.broker, {
      accessLog: cfg.accessLog,
      logFormat: cfg.logFormat,
      tracing: cfg.tracing,
      // A request that failed before its alias was set (a body it could not read), one served by a
      // route without aliases (the docs' static files), or one that found nothing ("unmatched").
      resolveRoute: (req: ObservedRequest & { $route?: { path: string; opts?: { aliases?: unknown; autoAliases?: unknown } } }) => {
        // The index itself: resolveAlias throws 405 for a known path with another method.
        const found = req.parsedUrl ? this.currentAliasIndex().resolve(req.parsedUrl, req.method ?? "GET") : false;
        if (found) return found.alias.fullPath;
        const route = req.$route;
        return route && !route.opts?.aliases && !route.opts?.autoAliases ? `${route.path}/*` : undefined;
      },
    });
    this.countCacheHit = counterIncrement(
      this.broker.metrics.register({
        type: "counter",
        name: "shop.http.response_cache.hits",
        description: "Public reads answered from the gateway's micro-cache",
      }),
    );
  },
};

export default ApiService;
