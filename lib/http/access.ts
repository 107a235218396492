/**
 * What an action declares to be reachable over REST. An action is routed only if it declares both
 * `rest` (method and path under /api/v1) and `auth` (who may call it); the gateway refuses the rest.
 */
export type Access = "public" | "user" | "admin";

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
