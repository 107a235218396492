/**
 * The payment flow's decisions (services/orders/payment-flow.ts): for every order status and every
 * fact, what the order does. The rules that keep the books straight are checked over the whole table.
 */
import { ORDER_STATUSES, CLOSED_UNPAID, canMove, type OrderStatus } from "../../services/orders/order-state";
import { hasLapsed, onPaymentCompleted, onPaymentFailed, onPaymentRefunded, onStockCommitFailed, payability, PAYMENT_FLOW, type Decision } from "../../services/orders/payment-flow";

const now = new Date("2026-11-22T12:00:00Z");
const at = (seconds: number) => new Date(now.getTime() + seconds * 1000);

describe("payability: checked before any provider call", () => {
  it("lets a pending order be charged until payBy, and not from then on", () => {
    expect(payability({ status: "pending_payment", payBy: at(1) }, now)).toEqual({ payable: true });
    expect(payability({ status: "pending_payment", payBy: at(0) }, now)).toMatchObject({ payable: false, type: "ORDER_EXPIRED" });
    expect(payability({ status: "pending_payment", payBy: at(-60) }, now)).toMatchObject({ payable: false, type: "ORDER_EXPIRED" });
  });

  it.each(ORDER_STATUSES.filter((s) => s !== "pending_payment"))("refuses a %s order", (status) => {
    expect(payability({ status, payBy: at(600) }, now)).toMatchObject({ payable: false, type: "ORDER_NOT_PAYABLE" });
  });

  it("expires an order only once payBy and the grace for charges in flight have both passed", () => {
    const order = { status: "pending_payment" as const, payBy: at(-10) };
    expect(hasLapsed(order, now, 11_000)).toBe(false);
    expect(hasLapsed(order, now, 10_000)).toBe(true);
    expect(hasLapsed({ ...order, status: "paid" }, now, 0)).toBe(false);
  });
});

describe("a completed payment", () => {
  it("pays an order awaiting it", () => {
    expect(onPaymentCompleted({ status: "pending_payment" }, "p1")).toMatchObject({ kind: "move", to: "paid" });
  });

  it.each(CLOSED_UNPAID)("is refunded in full when the order is %s, and the history says why", (status) => {
    const decision = onPaymentCompleted({ status }, "p1");
    expect(decision).toMatchObject({ kind: "refund", reason: `order_${status}` });
    expect((decision as { cause: string }).cause).toContain(status);
  });

  it.each(["paid", "fulfilled", "refunded", "partially_refunded"] as OrderStatus[])("is a duplicate for a %s order", (status) => {
    expect(onPaymentCompleted({ status }, "p1").kind).toBe("ignore");
  });
});

describe("every decision of every fact on every status", () => {
  const facts: [string, (status: OrderStatus) => Decision][] = [
    ["payment.completed", (status) => onPaymentCompleted({ status }, "p1")],
    ["payment.failed", (status) => onPaymentFailed({ status }, "p1", "card_declined")],
    ["stock.commit_failed", (status) => onStockCommitFailed({ status }, "RESERVATION_RELEASED")],
    ["partial refund", (status) => onPaymentRefunded({ status }, { amount: 1, paymentId: "p1", fullyRefunded: false })],
    ["full refund", (status) => onPaymentRefunded({ status }, { amount: 1, paymentId: "p1", fullyRefunded: true })],
  ];
  const cases = facts.flatMap(([fact, decide]) => ORDER_STATUSES.map((status) => [fact, status, decide] as const));

  it.each(cases)("%s on a %s order moves only where the state machine allows", (_fact, status, decide) => {
    const decision = decide(status);
    if (decision.kind === "move") expect(canMove(status, decision.to)).toBe(true);
  });

  it("asks for a refund exactly when the order holds a charge it cannot keep", () => {
    for (const [fact, status, decide] of cases) {
      const refunds = decide(status).kind === "refund";
      const expected = (fact === "payment.completed" && CLOSED_UNPAID.includes(status)) || (fact === "stock.commit_failed" && status === "paid");
      expect({ fact, status, refunds }).toEqual({ fact, status, refunds: expected });
    }
  });
});

it("names every step with its compensation", () => {
  expect(PAYMENT_FLOW.map((s) => s.step)).toEqual(["reserve stock", "place the order", "charge", "accept the charge", "commit stock", "clear the basket"]);
  for (const step of PAYMENT_FLOW) expect(step.compensation).not.toBe("");
});
