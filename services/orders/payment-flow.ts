/**
 * The checkout-and-payment flow, in one place: its named steps, who takes each, and what undoes
 * it. The orders context is the flow's authority: for every fact another context reports, the
 * functions below decide what the order does, and the services only carry the decisions out.
 * Pure: no I/O, no Moleculer.
 *
 * The rule between the reservation and the payment: an order carries `payBy` (checkout time plus
 * RESERVATION_TTL_SECONDS). Payments refuse to charge after it (409, before the provider is asked).
 * A charge started in time may complete up to PAYMENT_GRACE_SECONDS later; after that the order
 * expires and its stock goes back. Any charge that completes for an order that can no longer keep
 * it (expired, cancelled, failed, or whose stock could not be committed) is refunded in full, and
 * the order's history says why. So no unit is ever sold twice, and no charge is kept without goods.
 */
import { CLOSED_UNPAID, type OrderStatus } from "./order-state";

export interface FlowStep {
  step: string;
  takenBy: string;
  compensation: string;
}

export const PAYMENT_FLOW: readonly FlowStep[] = [
  { step: "reserve stock", takenBy: "orders.checkout → products.reserveStock (all lines or none)", compensation: "release it: order.cancelled, order.expired or payment.failed" },
  { step: "place the order", takenBy: "orders.checkout (payBy = now + RESERVATION_TTL_SECONDS; one awaiting payment per customer)", compensation: "cancel (customer) or expire (payBy + PAYMENT_GRACE_SECONDS passed)" },
  { step: "charge", takenBy: "payments.process, refused once payBy has passed", compensation: "refund in full: order.refund_requested" },
  { step: "accept the charge", takenBy: "orders on payment.completed → order.paid", compensation: "an order that can no longer keep it asks for the refund instead" },
  { step: "commit stock", takenBy: "products on order.paid", compensation: "if the reservation is gone and the stock with it: stock.commit_failed → refund" },
  { step: "clear the basket", takenBy: "baskets on order.paid", compensation: "none: the basket is the customer's to fill again" },
];

export type Decision =
  /** Move the order (and, for `paid`, announce order.paid). */
  | { kind: "move"; to: OrderStatus; cause: string }
  /** Keep the status, write why in the history, and ask payments for a full refund. */
  | { kind: "refund"; reason: string; cause: string }
  /** Keep the status, write the fact in the history (a refund of a charge the order never kept). */
  | { kind: "record"; cause: string }
  | { kind: "ignore"; why: string };

interface OrderState {
  status: OrderStatus;
}

/** Whether a payment may still be charged for the order now (checked before any provider call). */
export function payability(order: OrderState & { payBy: Date | string | null }, now: Date): { payable: true } | { payable: false; type: string; message: string } {
  if (order.status !== "pending_payment") return { payable: false, type: "ORDER_NOT_PAYABLE", message: `The order is ${order.status}` };
  if (order.payBy && now.getTime() >= new Date(order.payBy).getTime()) {
    return { payable: false, type: "ORDER_EXPIRED", message: "The order was not paid in time and its reservation lapsed: order again" };
  }
  return { payable: true };
}

/** Whether an unpaid order has lapsed for good: payBy and the grace for payments in flight have passed. */
export function hasLapsed(order: OrderState & { payBy: Date | string | null }, now: Date, graceMs: number): boolean {
  return order.status === "pending_payment" && !!order.payBy && now.getTime() >= new Date(order.payBy).getTime() + graceMs;
}

export function onPaymentCompleted(order: OrderState, paymentId: string): Decision {
  if (order.status === "pending_payment") return { kind: "move", to: "paid", cause: `payment ${paymentId} completed` };
  if (CLOSED_UNPAID.includes(order.status)) {
    return { kind: "refund", reason: `order_${order.status}`, cause: `payment ${paymentId} completed after the order was ${order.status}: refunded in full` };
  }
  return { kind: "ignore", why: `the order is already ${order.status}` };
}

export function onPaymentFailed(order: OrderState, paymentId: string, reason: string): Decision {
  if (order.status === "pending_payment") return { kind: "move", to: "payment_failed", cause: `payment ${paymentId} failed: ${reason}` };
  return { kind: "ignore", why: `the order is ${order.status}` };
}

export function onStockCommitFailed(order: OrderState, reason: string): Decision {
  if (order.status === "paid") return { kind: "refund", reason: "out_of_stock", cause: `the stock could not be committed (${reason}): refunded in full` };
  return { kind: "ignore", why: `the order is ${order.status}` };
}

export function onPaymentRefunded(order: OrderState, refund: { amount: number; paymentId: string; fullyRefunded: boolean }): Decision {
  const cause = `refund of ${refund.amount} on payment ${refund.paymentId}`;
  if (order.status === "paid" || order.status === "partially_refunded" || order.status === "fulfilled") {
    if (order.status === "fulfilled") return { kind: "record", cause };
    return { kind: "move", to: refund.fullyRefunded ? "refunded" : "partially_refunded", cause };
  }
  if (CLOSED_UNPAID.includes(order.status)) return { kind: "record", cause };
  return { kind: "ignore", why: `the order is ${order.status}` };
}
