/**
 * Tracing on Moleculer's own tracer, exported to OpenTelemetry (lib/telemetry/otel-exporter.ts).
 *
 * Moleculer starts a span for every action and event handler and carries the parent's id, the
 * request id and the sampling decision from node to node over the transporter. The shop adds:
 * - the trace id, in `ctx.meta.traceId` (32 hex): it is a trace's own (from the client's
 *   `traceparent`, a Kafka message, or new), not the request id, which stays what X-Request-ID says;
 * - a request context per traced handler (lib/request-context.ts) naming its span, so that the
 *   work it does without a Moleculer context (SQL queries, outbox writes) joins its trace, and a
 *   call made from such work (a consumer's) becomes the child of that span;
 * - spans of its own for what Moleculer does not see (startSpan): the HTTP request at the gateway,
 *   SQL statements, the outbox relay's publish and the Kafka consumer's processing.
 *
 * A trace that is not sampled makes no span at all (not even one Moleculer then drops): its
 * decision, and its trace id, still travel (ctx.tracing, ctx.meta.traceId, a traceparent with flags
 * 00 in messages), so a trace is kept or dropped whole, on every node. New traces are decided by
 * trace id (OpenTelemetry's TraceIdRatioBased), so every node decides alike.
 *
 * With tracing off none of this is installed: Moleculer's Tracing middleware has no hooks, and
 * every helper here returns at its first line.
 */
import * as Moleculer from "moleculer";
import type { BrokerOptions, Middleware, ServiceBroker, Span } from "moleculer";
import { currentRequestContext, withRequestContext, type RequestContext } from "../request-context";
import type { TracingConfig } from "./otel-config";
import { formatTraceparent, parseTraceparent, randomTraceId, spanIdOf, traceIdOf, traceIdRatioSampled } from "./trace-ids";

/** Moleculer's built-in middlewares by name (exported, but not in its type declarations). */
const BuiltinMiddlewares = (Moleculer as any).Middlewares;

export type SpanKind = "server" | "client" | "producer" | "consumer" | "internal";

/** The tracer of the broker whose tracing is on (one per process in practice), for the helpers below. */
let activeTracer: any;
let activeConfig: TracingConfig | undefined;

/** Whether spans are being made in this process. */
export function tracingActive(): boolean {
  return activeTracer !== undefined;
}

/** The broker's `tracing` option: Moleculer's tracer with the OpenTelemetry exporter, or off. */
export function tracingOptions(settings: TracingConfig | undefined, exporter: () => unknown): BrokerOptions["tracing"] {
  if (!settings) return { enabled: false };
  return {
    enabled: true,
    exporter: [exporter() as any],
    actions: true,
    events: true,
    // Never asked: every span starts with its trace's decision (rootSampled at the gateway,
    // newTraceSampled elsewhere, the parent's otherwise), made by trace id.
    sampling: { rate: 1 },
    // No parameters, metadata or responses in spans: they carry passwords, tokens and personal data.
    tags: { action: { params: false, meta: false, response: false }, event: { params: false, meta: false } },
    errorFields: ["name", "message", "code", "type"],
    stackTrace: false,
    // Read back by ShopTracingMiddleware (Moleculer keeps options it does not know).
    shopSettings: settings,
  } as BrokerOptions["tracing"];
}

/**
 * Moleculer's Tracing middleware, with the shop's trace id and request context around it. Takes
 * its place in the chain (moleculer.config.ts); with tracing off it is Moleculer's own, hookless.
 */
export function ShopTracingMiddleware(broker: ServiceBroker): Middleware {
  const builtin = BuiltinMiddlewares.Tracing(broker);
  if (!broker.isTracingEnabled()) return builtin;
  const tracer = (broker as any).tracer;
  activeTracer = tracer;
  activeConfig = (tracer.opts as any).shopSettings;

  /** The handler inside its span: in a request context naming the span. */
  const inItsSpan = (next: (ctx: any) => unknown) => (ctx: any) =>
    withRequestContext({ requestId: ctx.requestID, traceId: ctx.meta.traceId, spanId: ctx.span?.id ?? ctx.id, sampled: !!ctx.tracing }, () => next(ctx));

  /** Before the span starts: the trace this context belongs to. */
  const adopt = (ctx: any) => {
    if (!ctx.parentID) {
      // A call made outside any Moleculer context, but inside a span of ours (a consumer's work).
      const scope = currentRequestContext();
      if (scope?.spanId && scope.traceId) {
        ctx.parentID = scope.spanId;
        ctx.meta.traceId ??= scope.traceId;
        ctx.tracing = scope.sampled;
      }
    }
    ctx.meta.traceId ??= traceIdOf(ctx.requestID);
  };

  const ratio = activeConfig?.sampler.ratio ?? 1;
  const wrap = (hook: "localAction" | "localEvent") => (next: any, def: any) => {
    const traced = builtin[hook](inItsSpan(next), def);
    return function shopTracing(this: unknown, ctx: any) {
      adopt(ctx);
      // A new trace (a timer's call): decided by its id. Not sampled: no span, the decision travels on.
      if (ctx.tracing === null || ctx.tracing === undefined) ctx.tracing = traceIdRatioSampled(ctx.meta.traceId, ratio);
      return ctx.tracing ? traced.call(this, ctx) : next.call(this, ctx);
    };
  };

  return {
    name: "Tracing",
    localAction: wrap("localAction"),
    localEvent: wrap("localEvent"),
    stopped() {
      if (activeTracer === tracer) activeTracer = activeConfig = undefined;
    },
  } as unknown as Middleware;
}

export interface SpanOptions {
  kind?: SpanKind;
  /** OpenTelemetry attributes (semantic-convention names). */
  attributes?: Record<string, string | number | boolean | undefined>;
  /**
   * Where the span goes: default, under the span of the current request context; a trace and
   * parent span (a remote one: a client's, a message's); a trace without a parent (a new trace
   * whose id and sampling are already chosen); null, a new trace of its own.
   */
  parent?: { traceId: string; spanId?: string; sampled: boolean } | null;
  /** Moleculer's service the span belongs to (its spans' service.name). */
  service?: string;
  /** A span id of our choosing (16 hex), e.g. one already sent in a response header. */
  id?: string;
}

/**
 * Starts a span of the shop's own (HTTP, SQL, messaging) under the current request context's span,
 * or undefined when tracing is off, when there is no trace to join and `parent` is not given, or
 * when the trace is not sampled. Its Moleculer traceID is the OpenTelemetry trace id.
 */
export function startSpan(name: string, opts: SpanOptions = {}): Span | undefined {
  if (!activeTracer) return undefined;
  let parent = opts.parent;
  if (parent === undefined) {
    const scope = currentRequestContext();
    if (!scope?.traceId || !scope.spanId) return undefined;
    parent = { traceId: scope.traceId, spanId: scope.spanId, sampled: !!scope.sampled };
  }
  const traceId = parent?.traceId ?? randomTraceId();
  const sampled = parent ? parent.sampled : newTraceSampled(traceId);
  if (!sampled) return undefined;
  return activeTracer.startSpan(name, {
    id: opts.id,
    type: "shop",
    traceID: traceId,
    parentID: parent?.spanId,
    sampled,
    service: opts.service,
    tags: { "span.kind": opts.kind ?? "internal", ...opts.attributes },
  });
}

/** Finishes a span, recording `err` as its error if given. */
export function endSpan(span: Span | undefined, err?: unknown): void {
  if (!span) return;
  if (err !== undefined) span.setError(err as Error);
  span.finish();
}

/** Runs `work` with `span` as the current span (what it starts, writes or calls joins it). */
export function inSpan<T>(span: Span | undefined, work: () => T): T {
  if (!span) return work();
  const scope = currentRequestContext();
  const context: RequestContext = { requestId: scope?.requestId, traceId: span.traceID, spanId: span.id, sampled: span.sampled };
  return withRequestContext(context, work);
}

/** The W3C traceparent of the current span, for a message written now; undefined when tracing is off. */
export function currentTraceparent(): string | undefined {
  if (!activeTracer) return undefined;
  const scope = currentRequestContext();
  if (!scope?.traceId || !scope.spanId) return undefined;
  return formatTraceparent(scope.traceId, spanIdOf(scope.spanId), !!scope.sampled);
}

/** The traceparent that names `span` itself (for a message it sends, a response header). */
export function traceparentOf(span: Span): string {
  return formatTraceparent(span.traceID, spanIdOf(span.id), span.sampled);
}

/** The parent a traceparent value names, for startSpan; undefined when absent or malformed. */
export function parentFrom(traceparent: unknown): SpanOptions["parent"] {
  return parseTraceparent(traceparent);
}

/** Whether a new trace (no parent anywhere) is sampled: by its id, the same on every node. */
export function newTraceSampled(traceId: string): boolean {
  return traceIdRatioSampled(traceId, activeConfig?.sampler.ratio ?? 1);
}

/**
 * Whether a new trace at the gateway is sampled: a client's traceparent decides with a parent-based
 * sampler (OTEL_TRACES_SAMPLER, default parentbased_always_on), the ratio otherwise.
 */
export function rootSampled(settings: TracingConfig, traceId: string, parentSampled: boolean | undefined): boolean {
  if (parentSampled !== undefined && settings.sampler.parentBased) return parentSampled;
  return traceIdRatioSampled(traceId, settings.sampler.ratio);
}
