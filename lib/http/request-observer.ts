/**
 * What the gateway records of every HTTP request, in one place, when the response is done:
 * - the metric `shop_http_request_duration_seconds{method,route,status}` (a histogram: its
 *   `_count` counts requests), by route pattern, never the raw URL;
 * - the access-log line (ACCESS_LOG=true, lib/http/access-log.ts);
 * - with tracing on, the HTTP server span: it continues the client's W3C `traceparent` (or starts
 *   a trace), names itself in the response's `traceparent`, and is the parent of everything the
 *   request does on every node.
 *
 * The per-request cost with tracing and the access log off is one listener and one histogram
 * update into a series looked up once per (method, route, status).
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import type { ServiceBroker, Span } from "moleculer";
import type { RequestContext } from "../request-context";
import type { LeanHistogram } from "../prometheus";
import type { TracingConfig } from "../telemetry/otel-config";
import { formatTraceparent, parseTraceparent, randomSpanId, randomTraceId, spanIdOf } from "../telemetry/trace-ids";
import { endSpan, rootSampled, startSpan } from "../telemetry/tracing";
import { AccessLog, pathOf } from "./access-log";

/** Seconds: from a micro-cache hit (well under a millisecond) to a request at the broker's timeout. */
const BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
/** Methods outside this list are counted as one (a client cannot mint label values). */
const METHODS = new Set(["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]);
/** A client that went away before any answer was sent (nginx's convention). */
const CLIENT_CLOSED = 499;

export type ObservedRequest = IncomingMessage & {
  $alias?: { fullPath: string };
  $route?: { path: string };
  $ctx?: { meta?: { user?: { id?: string } } };
  parsedUrl?: string;
  originalUrl?: string;
  /** The route of a response served from the micro-cache (its entry remembers it). */
  $cachedRoute?: string;
  /**
   * With tracing on: the request's trace, for the root call's options (traceRootCall), and the
   * traceparent the response carries (traceHeader); no span when not sampled.
   */
  $trace?: { traceId: string; spanId: string; sampled: boolean; requestId: string; span?: Span; header: string };
};

/** How a request that found no alias is named: moleculer-web's route by prefix, or unmatched. */
type RouteResolver = (req: ObservedRequest) => string | undefined;

export class RequestObserver {
  private readonly histogram: LeanHistogram | null;
  private readonly series = new Map<string, unknown>();
  private readonly hitSeries = new Map<string, unknown>();
  private readonly accessLog?: AccessLog;

  constructor(
    private readonly broker: ServiceBroker,
    private readonly opts: { accessLog: boolean; logFormat: "json" | "text"; tracing?: TracingConfig; resolveRoute: RouteResolver },
  ) {
    this.histogram = broker.metrics.register({
      type: "histogram",
      name: "shop.http.request_duration_seconds",
      labelNames: ["method", "route", "status"],
      buckets: BUCKETS,
      unit: "seconds",
      description: "HTTP requests answered by the gateway, by method, route pattern and status: duration in seconds (_count: requests)",
    }) as unknown as LeanHistogram | null;
    if (opts.accessLog) this.accessLog = new AccessLog(broker.getLogger("access"), opts.logFormat);
  }

  /** Nothing but the duration histogram to record (no tracing, no access log): a micro-cache hit can take recordHit's path. */
  get metricsOnly(): boolean {
    return !this.opts.tracing && !this.accessLog;
  }

  /**
   * A micro-cache hit answered at once (GET, 200), when metricsOnly: recorded on the spot from a series
   * kept per route, without a close listener or a label key per request.
   */
  recordHit(route: string, start: number): void {
    if (!this.histogram) return;
    let series = this.hitSeries.get(route);
    if (!series) {
      series = this.histogram.series({ method: "GET", route, status: "200" });
      this.hitSeries.set(route, series);
    }
    this.histogram.record(series as any, (performance.now() - start) / 1000);
  }

  /**
   * Starts observing a request: returns the request context to handle it in (its id, and with
   * tracing on its trace and span). The response's traceparent is the caller's to write
   * (traceHeader): a header set here would push a micro-cache hit's writeHead off Node's fast path.
   */
  begin(req: ObservedRequest, res: ServerResponse, requestId: string): RequestContext {
    const start = performance.now();
    let context: RequestContext;
    let span: Span | undefined;
    if (this.opts.tracing) {
      const header = req.headers.traceparent;
      const incoming = header === undefined ? undefined : parseTraceparent(header);
      const traceId = incoming?.traceId ?? randomTraceId();
      const sampled = rootSampled(this.opts.tracing, traceId, incoming?.sampled);
      // Not sampled: no span, but an id standing for one, so that the decision travels on.
      span = sampled
        ? startSpan(req.method ?? "HTTP", {
            kind: "server",
            service: "api",
            parent: { traceId, spanId: incoming?.spanId, sampled },
            attributes: { "http.request.method": req.method, "url.path": pathOf(req.url), "url.scheme": "http", "shop.request_id": requestId },
          })
        : undefined;
      const spanId = span?.id ?? randomSpanId();
      req.$trace = { traceId, spanId, sampled, requestId, span, header: formatTraceparent(traceId, spanIdOf(spanId), sampled) };
      context = { requestId, traceId, spanId, sampled };
    } else context = { requestId };
    res.on("close", () => {
      // Bookkeeping after the answer: whatever goes wrong here must not take the process down.
      try {
        this.done(req, res, start, requestId, span);
      } catch (err) {
        this.broker.logger.error("Recording a finished request failed:", err);
      }
    });
    return context;
  }

  private done(req: ObservedRequest, res: ServerResponse, start: number, requestId: string, span: Span | undefined): void {
    const seconds = (performance.now() - start) / 1000;
    const method = METHODS.has(req.method!) ? req.method! : "_OTHER";
    const route = req.$alias?.fullPath ?? req.$cachedRoute ?? this.opts.resolveRoute(req) ?? "unmatched";
    const status = res.headersSent ? res.statusCode : CLIENT_CLOSED;
    if (this.histogram) {
      const key = `${method} ${status} ${route}`;
      let series = this.series.get(key);
      if (!series) {
        series = this.histogram.series({ method, route, status: String(status) });
        this.series.set(key, series);
      }
      this.histogram.record(series as any, seconds);
    }
    if (span) {
      span.name = `${method} ${route}`;
      span.addTags({ "http.route": route, "http.response.status_code": status });
      endSpan(span, status >= 500 ? Object.assign(new Error(`HTTP ${status}`), { name: "HttpError", code: status }) : undefined);
    }
    this.accessLog?.write({
      method: req.method ?? "",
      route,
      path: pathOf(req.originalUrl ?? req.url),
      status,
      durationMs: Math.round(seconds * 1e6) / 1e3,
      requestId,
      userId: req.$ctx?.meta?.user?.id ?? null,
      traceId: req.$trace?.traceId ?? null,
      ...(req.$cachedRoute !== undefined && { cache: "HIT" as const }),
    });
  }
}

/** The response's `traceparent` as a [name, value] pair, or none (tracing off). */
export function traceHeader(req: ObservedRequest): [string, string] | [] {
  return req.$trace ? ["traceparent", req.$trace.header] : NO_HEADER;
}
const NO_HEADER: [] = [];

/**
 * moleculer-web's rootCallOptions with tracing on: the gateway's call is the child of the request's
 * HTTP span, keeps the request id, and carries the trace id to every node (ctx.meta.traceId).
 */
export function traceRootCall(options: Record<string, any>, req: ObservedRequest): void {
  const trace = req.$trace;
  if (!trace) return;
  options.parentSpan = { id: trace.spanId, traceID: trace.requestId, sampled: trace.sampled };
  options.meta = { ...options.meta, traceId: trace.traceId };
}
