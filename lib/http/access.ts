/**
 * What an action declares to be reachable over REST. An action is routed only if it declares both
 * `rest` (method and path under /api/v1) and `auth` (who may call it); the gateway refuses the rest.
 */
export type Access = "public" | "user" | "admin";

/** Client errors an action can answer by itself (the gateway's own are added to every route: lib/http/openapi.ts). */
export type ActionError = 400 | 402 | 403 | 404 | 409 | 422;

/** An OpenAPI link from a success answer to another operation (the stateful tests follow them). */
export interface ResponseLink {
  operationId: string;
  parameters?: Record<string, string>;
  requestBody?: unknown;
  description?: string;
}

/**
 * What an action answers over HTTP, from which the OpenAPI document is generated: the body of each
 * success status (a JSON Schema, usually `ref("Product")` from lib/http/schemas.ts; 201 carries a
 * Location header; 204 has no body) and the client errors it can answer by itself.
 */
export interface ResponseDeclaration {
  200?: Record<string, unknown>;
  201?: Record<string, unknown>;
  204?: true;
  /** A 503 that is not an error but a report (readiness: `{status: "down"}`). */
  503?: Record<string, unknown>;
  /** A 200 that replays an earlier request with the same Idempotency-Key (with `Idempotent-Replayed: true`). */
  replay?: true;
  errors?: ActionError[];
  /** Links from the success answer (the first of 201, 200) to operations on what it names. */
  links?: Record<string, ResponseLink>;
}

/** Request headers an action reads: `Idempotency-Key` (pattern in lib/http/responses.ts), `Stripe-Signature`. */
export type RequestHeaders = Partial<Record<"Idempotency-Key" | "Stripe-Signature", "required" | "optional">>;

export interface Caller {
  id: string;
  role: "user" | "admin";
}

declare module "moleculer" {
  interface ActionSchema {
    /** Who may call this action through the gateway. Without it the action is not reachable over REST. */
    auth?: Access;
    /** One-line description for the OpenAPI document. */
    summary?: string;
    /** "auth": the stricter per-IP and per-email limit of sign-in and registration. */
    rateLimit?: "auth";
    /** Its HTTP answers, for the OpenAPI document (required of every routed action). */
    responses?: ResponseDeclaration;
    /** The request headers it reads. */
    headers?: RequestHeaders;
    /** The fewest fields a JSON body may have (a PATCH with nothing to change is refused). */
    bodyMinProperties?: number;
    /** OpenAPI tags (default: the service's name). */
    tags?: string[];
  }
}

/** The caller the gateway authenticated, as carried in ctx.meta. */
export interface ShopMeta {
  user?: Caller;
  idempotencyKey?: string;
  clientIp?: string;
  $statusCode?: number;
  /** The Location header of a 201. */
  $location?: string;
  $responseType?: string;
  $responseHeaders?: Record<string, string>;
  [key: string]: unknown;
}
