/** What an action says about its HTTP answer beyond the body: status, Location, idempotency key. */
import type { Context } from "moleculer";
import { DomainError } from "../errors";
import type { ShopMeta } from "./access";

type Ctx = Context<unknown, ShopMeta>;

/** 201 Created, with where the new resource lives. */
export function created<T>(ctx: Ctx, location: string, body: T): T {
  ctx.meta.$statusCode = 201;
  ctx.meta.$location = location;
  return body;
}

/** 204 No Content. */
export function noContent(ctx: Ctx): null {
  ctx.meta.$statusCode = 204;
  return null;
}

export const IDEMPOTENCY_KEY = /^[A-Za-z0-9._:-]{1,128}$/;

/** The request's Idempotency-Key header, required on POSTs that create or charge (400 without it). */
export function requireIdempotencyKey(ctx: Ctx): string {
  const key = ctx.meta.idempotencyKey;
  if (!key || !IDEMPOTENCY_KEY.test(key)) {
    throw new DomainError(400, "IDEMPOTENCY_KEY_REQUIRED", "An Idempotency-Key header (1-128 of A-Z a-z 0-9 . _ : -) is required");
  }
  return key;
}

/** Marks an answer as the replay of an earlier request with the same key. */
export function replayed<T>(ctx: Ctx, body: T): T {
  ctx.meta.$responseHeaders = { ...ctx.meta.$responseHeaders, "Idempotent-Replayed": "true" };
  return body;
}
