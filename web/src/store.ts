/** What several parts of the page show at once: the session and the basket. */
import { useEffect, useState } from "preact/hooks";
import { api } from "./api";
import { onSessionChange, session, type Session } from "./session";

export interface BasketLine {
  productId: number;
  name: string;
  unitPrice: number;
  currency: string;
  quantity: number;
  lineTotal: number;
}

export interface Basket {
  items: BasketLine[];
  itemCount: number;
  total: number;
  currency: string | null;
  expiresAt: string | null;
}

let basket: Basket | null = null;
const basketListeners = new Set<() => void>();

export function setBasket(next: Basket | null): void {
  basket = next;
  for (const listener of basketListeners) listener();
}

/** The caller's basket as the server has it (totals are the server's). */
export async function refreshBasket(): Promise<Basket | null> {
  setBasket(session() ? await api<Basket>("/basket") : null);
  return basket;
}

export function useBasket(): Basket | null {
  const [, rerender] = useState(0);
  useEffect(() => {
    const update = () => rerender((n) => n + 1);
    basketListeners.add(update);
    return () => void basketListeners.delete(update);
  }, []);
  return basket;
}

export function useSession(): Session | null {
  const [current, setCurrent] = useState(session);
  useEffect(() => onSessionChange(() => setCurrent(session())), []);
  return current;
}

onSessionChange(() => {
  if (!session()) setBasket(null);
});

/** Adds units of a product (the server prices it and checks the stock); the basket as it is now. */
export async function addToBasket(productId: number, quantity: number): Promise<Basket> {
  const next = await api<Basket>("/basket/items", { method: "POST", body: { productId, quantity } });
  setBasket(next);
  return next;
}

export interface Product {
  id: number;
  sku: string;
  name: string;
  description: string | null;
  price: number;
  currency: string;
  stock: number;
  available: number;
  category: string;
  isActive: boolean;
}

export interface Page<T> {
  items: T[];
  total: number;
  limit: number;
  offset: number;
}
