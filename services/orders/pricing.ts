/** Pure checkout pricing: a basket's lines priced again from the catalog, never from the basket. */
import { DomainError } from "../../lib/errors";

export interface BasketItem {
  productId: number;
  quantity: number;
}

export interface CatalogProduct {
  id: number;
  name: string;
  price: number;
  currency: string;
}

export interface OrderLine {
  productId: number;
  name: string;
  unitPrice: number;
  quantity: number;
  lineTotal: number;
}

export function priceLines(items: BasketItem[], catalog: CatalogProduct[]): { lines: OrderLine[]; total: number; currency: string } {
  if (items.length === 0) throw new DomainError(409, "EMPTY_BASKET", "The basket is empty: nothing to order");
  const byId = new Map(catalog.map((p) => [p.id, p]));
  const unavailable = items.filter((i) => !byId.has(i.productId)).map((i) => ({ productId: i.productId, reason: "unavailable" }));
  if (unavailable.length) throw new DomainError(409, "PRODUCT_UNAVAILABLE", "Some products can no longer be ordered", { lines: unavailable });
  const currencies = new Set(items.map((i) => byId.get(i.productId)!.currency));
  if (currencies.size > 1) throw new DomainError(409, "CURRENCY_MISMATCH", "The products are now priced in several currencies", { currencies: [...currencies] });
  const lines = items.map((i) => {
    const p = byId.get(i.productId)!;
    return { productId: p.id, name: p.name, unitPrice: p.price, quantity: i.quantity, lineTotal: p.price * i.quantity };
  });
  return { lines, total: lines.reduce((s, l) => s + l.lineTotal, 0), currency: [...currencies][0] };
}
