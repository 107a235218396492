import { ORDER_STATUSES, canMove as orderCan, assertMove as assertOrder, type OrderStatus } from "../../services/orders/order-state";
import { PAYMENT_STATUSES, canMove as paymentCan, sourcesOf, type PaymentStatus } from "../../services/payments/payment-state";

/** Every pair of states, allowed or not: the whole table, so a change to it is a visible change here. */
const ALLOWED_ORDER = new Set([
  "pending_payment>paid", "pending_payment>cancelled", "pending_payment>expired", "pending_payment>payment_failed",
  "paid>fulfilled", "paid>refunded", "paid>partially_refunded",
  "partially_refunded>partially_refunded", "partially_refunded>refunded",
]);
const ALLOWED_PAYMENT = new Set([
  "pending>processing", "pending>cancelled", "pending>completed",
  "processing>completed", "processing>failed", "processing>cancelled", "processing>pending",
  "completed>partially_refunded", "completed>refunded",
  "partially_refunded>partially_refunded", "partially_refunded>refunded",
  // The provider's late word that money moved: the order side then keeps or refunds it.
  "failed>completed", "cancelled>completed",
]);

describe("order state machine", () => {
  const pairs = ORDER_STATUSES.flatMap((from) => ORDER_STATUSES.map((to) => [from, to] as [OrderStatus, OrderStatus]));
  it.each(pairs)("%s → %s", (from, to) => {
    const allowed = ALLOWED_ORDER.has(`${from}>${to}`);
    expect(orderCan(from, to)).toBe(allowed);
    if (!allowed) expect(() => assertOrder(from, to)).toThrow(expect.objectContaining({ code: 409, type: "ILLEGAL_TRANSITION" }));
  });
});

describe("payment state machine", () => {
  const pairs = PAYMENT_STATUSES.flatMap((from) => PAYMENT_STATUSES.map((to) => [from, to] as [PaymentStatus, PaymentStatus]));
  it.each(pairs)("%s → %s", (from, to) => {
    expect(paymentCan(from, to)).toBe(ALLOWED_PAYMENT.has(`${from}>${to}`));
  });

  it("never lets a completed payment be charged again", () => {
    expect(sourcesOf("processing")).toEqual(["pending"]);
    expect(sourcesOf("completed")).toEqual(["pending", "processing", "failed", "cancelled"]);
    expect(sourcesOf("completed")).not.toContain("completed");
  });
});
