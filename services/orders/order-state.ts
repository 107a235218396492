/** The order's life, in one place. Anything not listed here is an illegal transition (409). */
import { DomainError } from "../../lib/errors";

export const ORDER_STATUSES = ["pending_payment", "paid", "fulfilled", "cancelled", "expired", "payment_failed", "refunded", "partially_refunded"] as const;
export type OrderStatus = (typeof ORDER_STATUSES)[number];

export const ORDER_TRANSITIONS: Readonly<Record<OrderStatus, readonly OrderStatus[]>> = {
  // expired: nobody paid by payBy (plus the payment grace); its stock goes back.
  pending_payment: ["paid", "cancelled", "expired", "payment_failed"],
  paid: ["fulfilled", "refunded", "partially_refunded"],
  partially_refunded: ["partially_refunded", "refunded"],
  fulfilled: [],
  cancelled: [],
  expired: [],
  payment_failed: [],
  refunded: [],
};

/** Statuses in which an order can no longer keep a charge: a payment completing now is refunded. */
export const CLOSED_UNPAID: readonly OrderStatus[] = ["cancelled", "expired", "payment_failed"];

export function canMove(from: OrderStatus, to: OrderStatus): boolean {
  return ORDER_TRANSITIONS[from].includes(to);
}

export function assertMove(from: OrderStatus, to: OrderStatus): void {
  if (!canMove(from, to)) throw new DomainError(409, "ILLEGAL_TRANSITION", `An order cannot go from ${from} to ${to}`, { from, to });
}
