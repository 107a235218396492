/**
 * The request id (and, with tracing on, the trace id and the current span) of the action or event
 * being handled, carried by AsyncLocalStorage so that every log line written while handling it
 * (even deep in domain or adapter code) names it, and so that work done on its behalf (a database
 * query, an integration event written to the outbox) joins its trace.
 *
 * The gateway enters a request's context once, around all of its HTTP handling
 * (withRequestContext); the middleware below enters one only where the id changes: for a request
 * that arrives from another node, an event, or a call made outside any request. Everything else
 * inherits its caller's context through the promise chain, so a gateway request pays for one
 * AsyncLocalStorage.run, not one per action it calls. With tracing on, the tracing middleware
 * (lib/telemetry/tracing.ts) enters one per traced action instead, naming its span.
 */
import { AsyncLocalStorage } from "node:async_hooks";
import type { Middleware } from "moleculer";

export interface RequestContext {
  requestId?: string;
  /** With tracing on: the trace (32 hex) this work belongs to. */
  traceId?: string;
  /** With tracing on: the Moleculer id of the span this work runs in (parent of what it starts). */
  spanId?: string;
  /** With tracing on: whether that trace is sampled (exported). */
  sampled?: boolean;
}

const storage = new AsyncLocalStorage<RequestContext>();

export function currentRequestId(): string | undefined {
  return storage.getStore()?.requestId;
}

export function currentTraceId(): string | undefined {
  return storage.getStore()?.traceId;
}

/** The whole context of the work being done, if any. */
export function currentRequestContext(): RequestContext | undefined {
  return storage.getStore();
}

/** Runs `work` as part of request `requestId`: the gateway's handling of one HTTP request, an error handler. */
export function withRequestId<T>(requestId: string | undefined, work: () => T): T {
  return storage.run({ requestId }, work);
}

/** Runs `work` in `context` (a request, a trace's span). */
export function withRequestContext<T>(context: RequestContext, work: () => T): T {
  return storage.run(context, work);
}

/**
 * Runs `work` outside any request: for loops that run on their own (a relay woken by a request
 * must not carry that request's id into every later cycle, nor its trace).
 */
export function outsideAnyRequest<T>(work: () => T): T {
  return storage.exit(work);
}

/**
 * Runs `next(ctx)` in ctx's request context, entering it only if the current one names another
 * request. With tracing on, a trace that is not sampled (no span: lib/telemetry/tracing.ts) is named
 * here, with the context's id standing for its span, so its decision travels on in what it writes.
 */
function inContextOf(next: (ctx: any) => unknown) {
  return (ctx: any) => {
    if (storage.getStore()?.requestId === ctx.requestID) return next(ctx);
    const traceId: string | undefined = ctx.meta?.traceId;
    return storage.run(traceId ? { requestId: ctx.requestID, traceId, spanId: ctx.id, sampled: false } : { requestId: ctx.requestID }, next, ctx);
  };
}

/** Broker middleware: runs each local action and event handler inside its request's context. */
export const RequestContextMiddleware: Middleware = {
  name: "RequestContext",
  localAction: inContextOf,
  localEvent: inContextOf,
} as Middleware;
