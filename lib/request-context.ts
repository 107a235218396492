/**
 * The request id of the action or event being handled, carried by AsyncLocalStorage so that
 * every log line written while handling it (even deep in domain or adapter code) names it.
 *
 * The gateway enters a request's context once, around all of its HTTP handling
 * (withRequestId); the middleware below enters one only where the id changes: for a request that
 * arrives from another node, an event, or a call made outside any request. Everything else
 * inherits its caller's context through the promise chain, so a gateway request pays for one
 * AsyncLocalStorage.run, not one per action it calls.
 */
import { AsyncLocalStorage } from "node:async_hooks";
import type { Middleware } from "moleculer";

interface RequestContext {
  requestId?: string;
}

const storage = new AsyncLocalStorage<RequestContext>();

export function currentRequestId(): string | undefined {
  return storage.getStore()?.requestId;
}

/** Runs `work` as part of request `requestId`: the gateway's handling of one HTTP request, an error handler. */
export function withRequestId<T>(requestId: string | undefined, work: () => T): T {
  return storage.run({ requestId }, work);
}

/** Runs `next(ctx)` in ctx's request context, entering it only if the current one names another request. */
function inContextOf(next: (ctx: any) => unknown) {
  return (ctx: any) => (storage.getStore()?.requestId === ctx.requestID ? next(ctx) : storage.run({ requestId: ctx.requestID }, next, ctx));
}

/** Broker middleware: runs each local action and event handler inside its request's context. */
export const RequestContextMiddleware: Middleware = {
  name: "RequestContext",
  localAction: inContextOf,
  localEvent: inContextOf,
} as Middleware;
