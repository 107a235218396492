/**
 * Pure rules of stock reservations: what a reservation request is, and how a set of reservation
 * rows reads as one reservation of an order. No I/O.
 */

export interface StockLine {
  productId: number;
  quantity: number;
}

export type ReservationStatus = "active" | "committed" | "released" | "restocked";

export interface Reservation {
  orderId: string;
  status: ReservationStatus;
  expiresAt: string | null;
  lines: StockLine[];
}

export interface Shortage {
  productId: number;
  requested: number;
  available: number;
  reason: "insufficient_stock" | "not_found" | "inactive";
}

/**
 * One line per product (quantities of repeated products added up), in ascending product order:
 * every transaction locks product rows in the same order, which keeps deadlocks away.
 */
export function normalizeLines(lines: StockLine[]): StockLine[] {
  const totals = new Map<number, number>();
  for (const { productId, quantity } of lines) totals.set(productId, (totals.get(productId) ?? 0) + quantity);
  return [...totals].map(([productId, quantity]) => ({ productId, quantity })).sort((a, b) => a.productId - b.productId);
}

/** The rows of one order's reservation share a status, since they move together in one transaction. */
export function toReservation(
  orderId: string,
  rows: { productId: number; quantity: number; status: string; expiresAt: Date | string }[],
): Reservation {
  const statuses = new Set(rows.map((r) => r.status));
  const status: ReservationStatus = statuses.has("active")
    ? "active"
    : statuses.has("committed")
      ? "committed"
      : statuses.has("restocked")
        ? "restocked"
        : "released";
  const expiry = rows.map((r) => new Date(r.expiresAt).getTime()).reduce((a, b) => Math.min(a, b), Infinity);
  return {
    orderId,
    status,
    expiresAt: Number.isFinite(expiry) ? new Date(expiry).toISOString() : null,
    lines: normalizeLines(rows.map((r) => ({ productId: Number(r.productId), quantity: Number(r.quantity) }))),
  };
}
