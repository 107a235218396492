/**
 * Pure basket rules: lines with the catalog's price snapshot, limits, one currency, totals.
 * Both stores (Redis and memory) apply changes through `applyChange`, so the rules live here once.
 */
import { DomainError } from "../../lib/errors";

export const MAX_LINES = 50;
export const MAX_QUANTITY_PER_LINE = 999;

export interface BasketLine {
  productId: number;
  name: string;
  /** Minor units, from the catalog when the line last changed. */
  unitPrice: number;
  currency: string;
  quantity: number;
}

export interface Basket {
  userId: string;
  lines: BasketLine[];
}

/** What the catalog says of a product when a line changes (never the client). */
export interface CatalogEntry {
  productId: number;
  name: string;
  unitPrice: number;
  currency: string;
  available: number;
}

export type BasketChange =
  | { kind: "add"; product: CatalogEntry; quantity: number }
  | { kind: "set"; product: CatalogEntry; quantity: number }
  | { kind: "remove"; productId: number };

export const emptyBasket = (userId: string): Basket => ({ userId, lines: [] });

/** The basket after the change, or a DomainError saying why not. Never mutates its input. */
export function applyChange(basket: Basket, change: BasketChange): Basket {
  if (change.kind === "remove") return { ...basket, lines: basket.lines.filter((l) => l.productId !== change.productId) };

  const { product } = change;
  const existing = basket.lines.find((l) => l.productId === product.productId);
  const quantity = change.kind === "add" ? (existing?.quantity ?? 0) + change.quantity : change.quantity;
  if (quantity === 0) return { ...basket, lines: basket.lines.filter((l) => l.productId !== product.productId) };

  if (quantity > MAX_QUANTITY_PER_LINE) {
    // The basket's state, not the request, is what stands in the way: a conflict.
    throw new DomainError(409, "QUANTITY_LIMIT", `At most ${MAX_QUANTITY_PER_LINE} of one product per basket`, { productId: product.productId, quantity, max: MAX_QUANTITY_PER_LINE });
  }
  if (!existing && basket.lines.length >= MAX_LINES) {
    throw new DomainError(409, "BASKET_FULL", `At most ${MAX_LINES} different products per basket`, { max: MAX_LINES });
  }
  const other = basket.lines.find((l) => l.productId !== product.productId);
  if (other && other.currency !== product.currency) {
    throw new DomainError(409, "CURRENCY_MISMATCH", `The basket is in ${other.currency}; this product is priced in ${product.currency}`, {
      basketCurrency: other.currency,
      productCurrency: product.currency,
    });
  }
  if (quantity > product.available) {
    throw new DomainError(409, "INSUFFICIENT_STOCK", "Not enough stock for this quantity", { productId: product.productId, requested: quantity, available: product.available });
  }
  const line: BasketLine = { productId: product.productId, name: product.name, unitPrice: product.unitPrice, currency: product.currency, quantity };
  return {
    ...basket,
    lines: existing ? basket.lines.map((l) => (l.productId === product.productId ? line : l)) : [...basket.lines, line],
  };
}

export interface BasketView {
  userId: string;
  items: (Omit<BasketLine, "currency"> & { lineTotal: number; currency: string })[];
  itemCount: number;
  total: number;
  currency: string | null;
  expiresAt: string | null;
}

export function toBasketView(basket: Basket, expiresAt: Date | null): BasketView {
  const items = basket.lines.map((l) => ({ ...l, lineTotal: l.unitPrice * l.quantity }));
  return {
    userId: basket.userId,
    items,
    itemCount: items.reduce((n, l) => n + l.quantity, 0),
    total: items.reduce((sum, l) => sum + l.lineTotal, 0),
    currency: basket.lines[0]?.currency ?? null,
    expiresAt: expiresAt ? expiresAt.toISOString() : null,
  };
}
