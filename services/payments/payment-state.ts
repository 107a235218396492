/** The payment's life, in one place. Anything not listed here is an illegal transition (409). */
import { DomainError } from "../../lib/errors";

export const PAYMENT_STATUSES = ["pending", "processing", "completed", "failed", "cancelled", "partially_refunded", "refunded"] as const;
export type PaymentStatus = (typeof PAYMENT_STATUSES)[number];

export const PAYMENT_TRANSITIONS: Readonly<Record<PaymentStatus, readonly PaymentStatus[]>> = {
  // The provider's word that money moved wins over what we had recorded: a success reported late
  // (a webhook after a cancel or a failure) completes the payment, and the order side then decides
  // whether to keep it or refund it. Nothing else leaves failed or cancelled.
  pending: ["processing", "cancelled", "completed"],
  processing: ["completed", "failed", "cancelled", "pending"],
  completed: ["partially_refunded", "refunded"],
  partially_refunded: ["partially_refunded", "refunded"],
  failed: ["completed"],
  cancelled: ["completed"],
  refunded: [],
};

/** Closed without money: only the provider's late word that money moved leaves them (to completed). */
export const CLOSED: readonly PaymentStatus[] = ["failed", "cancelled"];

/** Payments whose money we hold (net of refunds): refunds apply to these. */
export const REFUNDABLE: readonly PaymentStatus[] = ["completed", "partially_refunded"];

export function canMove(from: PaymentStatus, to: PaymentStatus): boolean {
  return PAYMENT_TRANSITIONS[from].includes(to);
}

/** The statuses a payment may move to `to` from (for conditional updates). */
export function sourcesOf(to: PaymentStatus): PaymentStatus[] {
  return PAYMENT_STATUSES.filter((from) => canMove(from, to));
}

export function assertMove(from: PaymentStatus, to: PaymentStatus): void {
  if (!canMove(from, to)) throw new DomainError(409, "ILLEGAL_TRANSITION", `A payment cannot go from ${from} to ${to}`, { from, to });
}
