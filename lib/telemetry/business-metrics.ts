/**
 * What the shop does, as counters people alert on and draw (deploy/grafana): orders by what
 * happened to them, payments by outcome, money taken and given back per currency, reservations
 * refused for want of stock, baskets emptied. Each service records its own, after the transaction
 * that made it true has committed; several nodes of a service each count theirs (sum them).
 * Amounts are integer minor units of their currency, as everywhere in the shop.
 */
import type { ServiceBroker } from "moleculer";
import { counter } from "./shop-metrics";

export function orderMetrics(broker: ServiceBroker) {
  return {
    created: counter(broker, { name: "shop.orders.created", description: "Orders placed at checkout (stock reserved, awaiting payment)" }),
    /** A status an order moved to after its creation: paid, cancelled, expired, payment_failed, fulfilled, partially_refunded, refunded. */
    moved: counter(broker, { name: "shop.order.status_changes", labelNames: ["status"], description: "Orders moved to a status (paid, cancelled, expired, payment_failed, fulfilled, partially_refunded, refunded)" }),
  };
}

export function paymentMetrics(broker: ServiceBroker) {
  return {
    /** completed, failed, cancelled (settled), requires_action (the customer must act: 3-D Secure). */
    outcome: counter(broker, { name: "shop.payments", labelNames: ["provider", "outcome"], description: "Payment outcomes: completed, failed, cancelled, requires_action" }),
    revenue: counter(broker, { name: "shop.revenue.minor_units", labelNames: ["currency"], description: "Money taken by completed payments, in minor units of the currency" }),
    refunded: counter(broker, { name: "shop.refunded.minor_units", labelNames: ["currency"], description: "Money given back by succeeded refunds, in minor units of the currency" }),
  };
}

export function stockMetrics(broker: ServiceBroker) {
  return {
    /** reserved, or refused: not enough stock for some line (the checkout's 409). */
    reservation: counter(broker, { name: "shop.stock.reservations", labelNames: ["outcome"], description: "Stock reservation requests: reserved, or refused for want of stock" }),
  };
}

export function basketMetrics(broker: ServiceBroker) {
  return {
    /** order_paid (the payment flow), customer, admin. */
    cleared: counter(broker, { name: "shop.baskets.cleared", labelNames: ["reason"], description: "Baskets emptied: order_paid, customer, admin" }),
  };
}
