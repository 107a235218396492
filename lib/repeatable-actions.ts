/**
 * Actions that are safe to repeat get a short timeout and retries, so that a request caught on a
 * node that dies is answered by another node instead of failing (issue 12).
 *
 * Safe to repeat: an action whose REST route is a GET, or one that says `idempotent: true` (an
 * internal read such as products.getMany). Writes are not retried by the broker: a timed-out write
 * may still be running, and only the client's Idempotency-Key can make a second attempt safe.
 *
 * The settings are written into the action's schema where it is created, so they travel with the
 * node's INFO packet and every caller's broker (which runs the Timeout and Retry middlewares on its
 * side) applies them; an action's own `timeout` or `retryPolicy` wins.
 */
import type { Middleware } from "moleculer";

declare module "moleculer" {
  interface ActionSchema {
    /** Safe to repeat (a read): short timeout and retries; a GET route implies it. */
    idempotent?: boolean;
  }
}

interface ActionDefinition {
  rest?: unknown;
  idempotent?: boolean;
  timeout?: number;
  retryPolicy?: { enabled?: boolean };
}

/** Whether an action declares itself safe to repeat: `idempotent: true` or a GET route. */
export function isRepeatable(action: ActionDefinition): boolean {
  if (action.idempotent !== undefined) return action.idempotent;
  const rest = action.rest;
  if (typeof rest === "string") return /^GET\s/i.test(rest);
  if (rest && typeof rest === "object" && !Array.isArray(rest)) return String((rest as { method?: string }).method).toUpperCase() === "GET";
  return false;
}

/**
 * `timeouts` (ACTION_TIMEOUTS) sets the timeout of named actions, `service.action` → ms, over both
 * the read timeout and what the action says itself: operators tune one slow action without a build.
 */
export function RepeatableActionsMiddleware(readTimeoutMs: number, timeouts: Record<string, number> = {}): Middleware {
  return {
    name: "RepeatableActions",
    serviceCreating(_service: unknown, schema: { name?: string; actions?: Record<string, unknown> }) {
      for (const [name, action] of Object.entries(schema.actions ?? {})) {
        const configured = timeouts[`${schema.name}.${name}`];
        // A bare function is a handler without options (no route either): only a configured timeout makes it an object.
        if (!action || (typeof action === "function" && configured === undefined)) continue;
        const definition = (typeof action === "function" ? { handler: action } : action) as ActionDefinition;
        if (configured !== undefined) definition.timeout = configured;
        if (isRepeatable(definition)) {
          definition.timeout ??= readTimeoutMs;
          definition.retryPolicy ??= { enabled: true };
        }
        schema.actions![name] = definition;
      }
    },
  } as Middleware;
}

/**
 * With LOAD_BALANCER=transporter: a call aimed at a remote endpoint goes out by action name instead,
 * so that NATS picks a live node. moleculer-web picks an endpoint from the registry before it calls
 * (findNextActionEndpoint), which would send each gateway request to one named node, a dead one
 * included, until its heartbeats time out. A call that names a node (opts.nodeID) keeps it.
 */
export const TransporterBalancingMiddleware: Middleware = {
  name: "TransporterBalancing",
  call(next: (action: unknown, params: unknown, opts: unknown) => Promise<unknown>) {
    return (action: any, params: unknown, opts: unknown) => next(action && typeof action === "object" && !action.local ? action.action.name : action, params, opts);
  },
} as unknown as Middleware;
