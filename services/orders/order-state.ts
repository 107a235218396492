/** The order's life, in one place. Anything not listed here is an illegal transition (409). */
import { DomainError } from "../../lib/errors";

export const ORDER_STATUSES = ["pending_payment", "paid", "fulfilled", "cancelled", "payment_failed", "refunded", "partially_refunded"] as const;
export type OrderStatus = (typeof ORDER_STATUSES)[number];

export const ORDER_TRANSITIONS: Readonly<Record<OrderStatus, readonly OrderStatus[]>> = {
  pending_payment: ["paid", "cancelled", "payment_failed"],
  paid: ["fulfilled", "refunded", "partially_refunded"],
  partially_refunded: ["partially_refunded", "refunded"],
  fulfilled: [],
  cancelled: [],
  payment_failed: [],
  refunded: [],
};

export function canMove(from: OrderStatus, to: OrderStatus): boolean {
  return ORDER_TRANSITIONS[from].includes(to);
}

export function assertMove(from: OrderStatus, to: OrderStatus): void {
  if (!canMove(from, to)) throw new DomainError(409, "ILLEGAL_TRANSITION", `An order cannot go from ${from} to ${to}`, { from, to });
}
