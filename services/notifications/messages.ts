/** Pure: what the shop would tell a customer about each integration event of theirs. */
import type { Envelope } from "../../lib/events/envelope";

export interface Message {
  userId: string;
  subject: string;
  body: string;
}

const money = (amount: unknown, currency: unknown) => `${(Number(amount) / 100).toFixed(2)} ${String(currency ?? "")}`.trim();

export function messageFor(event: Envelope): Message | null {
  const d = event.data as Record<string, any>;
  if (!d.userId) return null;
  const order = String(d.orderId ?? "").slice(0, 8);
  switch (event.type) {
    case "order.created":
      return { userId: d.userId, subject: `Order ${order} received`, body: `We received your order of ${money(d.total, d.currency)}. It is reserved for you until paid.` };
    case "order.cancelled":
      return { userId: d.userId, subject: `Order ${order} cancelled`, body: "Your order was cancelled; nothing was charged." };
    case "order.expired":
      return { userId: d.userId, subject: `Order ${order} expired`, body: "Your order was not paid in time, so its items were released. Nothing was kept from you; you can order again." };
    case "payment.completed":
      return { userId: d.userId, subject: `Payment received for order ${order}`, body: `We received ${money(d.amount, d.currency)}. Thank you!` };
    case "payment.failed":
      return { userId: d.userId, subject: `Payment for order ${order} did not go through`, body: `Your payment failed (${d.reason ?? "declined"}); the items were released.` };
    case "payment.refunded":
      return { userId: d.userId, subject: `Refund for order ${order}`, body: `We refunded ${money(d.amount, d.currency)}${d.fullyRefunded ? " (the whole order)" : ""}.` };
    default:
      return null;
  }
}
