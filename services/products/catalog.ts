/**
 * Pure catalog rules: what a client may ask of the catalog and how a product is shown.
 * No Moleculer, no SQL: unit-tested on its own.
 */
import { httpUrl, name, pageParams, queryInt, text } from "../../lib/params";

export { MAX_PAGE_SIZE } from "../../lib/params";
export const DEFAULT_PAGE_SIZE = 20;
/** Prices are minor units up to ten million in major units; filters share the bound. */
export const MAX_PRICE = 1_000_000_000;

export const SORT_FIELDS = ["price", "name", "createdAt", "stock", "id"] as const;
export type SortField = (typeof SORT_FIELDS)[number];

export interface SortOrder {
  field: SortField;
  direction: "ASC" | "DESC";
}

/** "price" → price ascending, "-price" → descending. Ties are always broken by id. */
export function parseSort(sort: string | undefined): SortOrder[] {
  if (!sort) return [{ field: "id", direction: "ASC" }];
  const descending = sort.startsWith("-");
  const field = (descending ? sort.slice(1) : sort) as SortField;
  const primary: SortOrder = { field, direction: descending ? "DESC" : "ASC" };
  return field === "id" ? [primary] : [primary, { field: "id", direction: "ASC" }];
}

export const SORT_VALUES = SORT_FIELDS.flatMap((f) => [f, `-${f}`]);

export interface ProductRecord {
  id: number;
  sku: string;
  name: string;
  description: string | null;
  price: number;
  currency: string;
  stock: number;
  reserved: number;
  category: string;
  imageUrl: string | null;
  isActive: boolean | number;
  createdAt: Date | string;
  updatedAt: Date | string;
}

export interface ProductView {
  id: number;
  sku: string;
  name: string;
  description: string | null;
  price: number;
  currency: string;
  stock: number;
  /** Stock minus live reservations: what can still be bought. */
  available: number;
  category: string;
  imageUrl: string | null;
  isActive: boolean;
  createdAt: string;
  updatedAt: string;
}

const iso = (d: Date | string): string => (d instanceof Date ? d.toISOString() : new Date(d).toISOString());

export function toView(p: ProductRecord): ProductView {
  return {
    id: Number(p.id),
    sku: p.sku,
    name: p.name,
    // A product created without them has no such key until it is read back: always say null.
    description: p.description ?? null,
    price: Number(p.price),
    currency: p.currency,
    stock: Number(p.stock),
    available: Math.max(0, Number(p.stock) - Number(p.reserved)),
    category: p.category,
    imageUrl: p.imageUrl ?? null,
    isActive: Boolean(p.isActive),
    createdAt: iso(p.createdAt),
    updatedAt: iso(p.updatedAt),
  };
}

/** What admins see: the public view plus the units held by live reservations. */
export function toAdminView(p: ProductRecord): ProductView & { reserved: number } {
  return { ...toView(p), reserved: Number(p.reserved) };
}

/** Products with at most this many units available count as low on stock in the stats. */
export const LOW_STOCK_THRESHOLD = 10;

export interface CategorySummary {
  name: string;
  count: number;
  /** Mean price in minor units, rounded to the nearest unit. */
  averagePrice: number;
}

export interface CatalogStats {
  products: number;
  categories: number;
  averagePrice: number;
  /** Sum of price x stock over the active catalog, in minor units. */
  inventoryValue: number;
  lowStock: number;
  outOfStock: number;
  lowStockThreshold: number;
}

/** SQL aggregates come back as strings or numbers depending on the dialect. */
export const toInt = (v: unknown): number => Math.round(Number(v ?? 0));

/** Parameter schemas (fastest-validator) shared by the actions and the OpenAPI document. */
export const productFields = {
  sku: { type: "string", min: 1, max: 64, pattern: /^[A-Za-z0-9._-]+$/ },
  name: name(200),
  description: text(5000, { optional: true, nullable: true }),
  price: { type: "number", integer: true, min: 0, max: MAX_PRICE, convert: false },
  currency: { type: "string", pattern: /^[A-Z]{3}$/, optional: true },
  stock: { type: "number", integer: true, min: 0, max: 1_000_000_000, convert: false },
  category: name(100),
  imageUrl: httpUrl(500, { optional: true, nullable: true }),
  isActive: { type: "boolean", optional: true, convert: false },
} as const;

/** Names are stored trimmed (the rules only ask that they are not blank). */
export const TRIMMED_FIELDS = ["name", "category"] as const;

export const listParams = {
  ...pageParams,
  category: text(100, { min: 1, optional: true }),
  // Bounded like every number that reaches SQL: 1e21 is no price, and some drivers cannot send it.
  minPrice: queryInt({ min: 0, max: MAX_PRICE, optional: true }),
  maxPrice: queryInt({ min: 0, max: MAX_PRICE, optional: true }),
  q: text(100, { min: 1, optional: true }),
  sort: { type: "enum", values: SORT_VALUES, optional: true },
} as const;
