/**
 * Every integration event of the shop, in one place: its type, the version of its payload's shape
 * and the payload itself. Publishers build envelopes and consumers register handlers by these
 * types, so changing a payload is a compile error in every service that touches it, not a dead
 * letter at run time. Raise a type's version when its shape changes incompatibly.
 */
import type { Envelope } from "./envelope";

type StockLines = { productId: number; quantity: number }[];

export type IntegrationEvents = {
  /** A checkout reserved stock and created an order that must be paid by `payBy`. */
  "order.created": { orderId: string; userId: string; total: number; currency: string; payBy: string };
  /** The customer cancelled an order before it was paid. */
  "order.cancelled": { orderId: string; userId: string };
  /** Nobody paid by `payBy` (plus the payment grace): the order lapsed. */
  "order.expired": { orderId: string; userId: string };
  /** A completed payment was accepted for an order awaiting it: the goods are sold. */
  "order.paid": { orderId: string; userId: string; paymentId: string; amount: number; currency: string };
  /** A charge the order cannot keep (it lapsed, was cancelled, or its stock is gone): refund it in full. */
  "order.refund_requested": { orderId: string; userId: string; reason: string };

  "payment.completed": { paymentId: string; orderId: string; userId: string; amount: number; currency: string };
  "payment.failed": { paymentId: string; orderId: string; userId: string; amount: number; currency: string; reason: string };
  "payment.refunded": {
    paymentId: string;
    orderId: string;
    userId: string;
    refundId: number;
    amount: number;
    refundedTotal: number;
    fullyRefunded: boolean;
    currency: string;
    reason: string;
  };

  "stock.reserved": { orderId: string; lines: StockLines };
  "stock.released": { orderId: string; lines: StockLines };
  "stock.updated": { orderId: string; lines: StockLines };
  /** A paid order's reservation was no longer there to commit and the stock could not be taken again. */
  "stock.commit_failed": { orderId: string; reason: string };

  "basket.cleared": { userId: string; orderId: string; reason: string };
};

export type EventType = keyof IntegrationEvents;

/** The payload version each type is published with; consumers refuse other versions. */
export const SCHEMA_VERSIONS: Readonly<Record<EventType, string>> = {
  "order.created": "1",
  "order.cancelled": "1",
  "order.expired": "1",
  "order.paid": "1",
  "order.refund_requested": "1",
  "payment.completed": "1",
  "payment.failed": "1",
  "payment.refunded": "1",
  "stock.reserved": "1",
  "stock.released": "1",
  "stock.updated": "1",
  "stock.commit_failed": "1",
  "basket.cleared": "1",
};

export type IntegrationEvent<T extends EventType = EventType> = Envelope<IntegrationEvents[T]> & { type: T };

/** A service's consumers, by event type; `this` is the service. */
export type EventHandlers = { [T in EventType]?: (this: any, event: IntegrationEvent<T>) => Promise<unknown> };
