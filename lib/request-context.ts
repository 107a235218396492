/**
 * The request id of the action or event being handled, carried by AsyncLocalStorage so that
 * every log line written while handling it (even deep in domain or adapter code) names it.
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

/** Runs `work` as part of request `requestId`: for code outside any action, such as the gateway's error handler. */
export function withRequestId<T>(requestId: string | undefined, work: () => T): T {
  return storage.run({ requestId }, work);
}

/** Broker middleware: runs each local action and event handler inside its request's context. */
export const RequestContextMiddleware: Middleware = {
  name: "RequestContext",
  localAction(next: any) {
    return (ctx: any) => storage.run({ requestId: ctx.requestID }, () => next(ctx));
  },
  localEvent(next: any) {
    return (ctx: any) => storage.run({ requestId: ctx.requestID }, () => next(ctx));
  },
} as Middleware;
