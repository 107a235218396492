/**
 * The catalog and its stock. Public reads are cached; every write and every stock movement clears
 * the cache on every node. Reservations for checkout are actions for other services only.
 */
import type { Context, Service, ServiceSchema, ServiceSettingSchema } from "moleculer";
import { Op, fn, col, literal, UniqueConstraintError, ForeignKeyConstraintError, type InferCreationAttributes, type WhereOptions, type Sequelize } from "sequelize";
import { SqlDbMixin } from "../../mixins/sql-db.mixin";
import { containsIgnoringCase } from "../../lib/sql";
import { placeholders, selectRows } from "../../lib/sql-statements";
import { KafkaBridgeMixin } from "../../mixins/kafka-bridge.mixin";
import { SweeperMixin } from "../../mixins/sweeper.mixin";
import { entityKeygen, generationKeygen, VersionedCacheMixin } from "../../mixins/versioned-cache.mixin";
import { envelope, type Envelope } from "../../lib/events/envelope";
import type { Transaction } from "sequelize";
import { addToOutbox, integrationEventMigrations, outboxRow, processOnce, SqlDeadLetters, SqlOutbox } from "../../lib/events/stores";
import { config } from "../../lib/config";
import { idInPath, MAX_ID, pageParams, queryBool, queryInt, text, trimmed } from "../../lib/params";
import { arrayOf, page, ref } from "../../lib/http/schemas";
import { DomainError, notFound } from "../../lib/errors";
import type { ShopMeta } from "../../lib/http/access";
import { created, noContent } from "../../lib/http/responses";
import { defineProductModels, Product } from "./product.model";
import { productMigrations } from "./migrations";
import { Inventory, type Settled } from "./inventory";
import type { Reservation, StockLine } from "./stock";
import { stockMetrics } from "../../lib/telemetry/business-metrics";
import {
  DEFAULT_PAGE_SIZE,
  listParams,
  LOW_STOCK_THRESHOLD,
  parseSort,
  productFields,
  toAdminView,
  toInt,
  toView,
  TRIMMED_FIELDS,
  type CatalogStats,
  type CategorySummary,
  type ProductRecord,
  type ProductView,
} from "./catalog";

type Ctx<P = unknown> = Context<P, ShopMeta>;

interface PageQuery {
  limit?: number;
  offset?: number;
}
interface ListParams {
  limit?: number;
  offset?: number;
  category?: string;
  minPrice?: number;
  maxPrice?: number;
  q?: string;
  sort?: string;
  isActive?: boolean;
}

const cfg = config();
// Ids are INTEGER columns: a larger number names no product and is refused before SQL.
const idParam = { id: idInPath() } as const;
/** From a new or changed product to what can be done with it next (OpenAPI links). */
const PRODUCT_LINKS = {
  AdminGetProduct: { operationId: "products.adminGet", parameters: { id: "$response.body#/id" } },
  PatchProduct: { operationId: "products.patch", parameters: { id: "$response.body#/id" } },
  SetStock: { operationId: "products.setStock", parameters: { id: "$response.body#/id" } },
  ReceiveStock: { operationId: "products.receiveStock", parameters: { id: "$response.body#/id" } },
  DeleteProduct: { operationId: "products.remove", parameters: { id: "$response.body#/id" } },
};
const LIST_CACHE_KEYS = ["limit", "offset", "category", "minPrice", "maxPrice", "q", "sort"];
const orderIdParam = { orderId: { type: "string", min: 1, max: 64 } } as const;
/** How long past an order's payBy and payment grace a reservation nobody released is kept before the sweeper frees it. */
const ORPHAN_MARGIN_SECONDS = 60;

/** Editable fields of a product; `stock` has its own endpoint so reservations are respected. */
const { stock: stockField, ...editableFields } = productFields;
const optionalFields = Object.fromEntries(Object.entries(editableFields).map(([k, rule]) => [k, { ...rule, optional: true }]));

/** A product's fields as productFields accepts them (create needs no stock; replace and patch take none). */
type ProductFields = {
  sku: string;
  name: string;
  description?: string | null;
  price: number;
  currency?: string;
  stock: number;
  category: string;
  imageUrl?: string | null;
  isActive?: boolean;
};
type EditableFields = Omit<ProductFields, "stock">;
/** Sequelize's creation attributes: an absent stock, description or image is the column's default. */
type ProductCreation = InferCreationAttributes<Product>;

/** One page of a list, in the public or the admin view. */
interface ProductPage<V> {
  items: V[];
  total: number;
  limit: number;
  offset: number;
}

/**
 * The service's types (the pattern of services/notifications): `this` in actions, methods, handlers
 * and created() is the service with these, so a misspelt method or a wrong argument does not compile.
 */
interface ProductsSettings extends ServiceSettingSchema {
  /** Actions declare absolute REST paths (under /api/v1). */
  rest: string;
  /** moleculer-db's primary key field. */
  idField: string;
}
interface ProductsMethods {
  mostExpensive(limit: number): Promise<ProductView[]>;
  lowOnStock(threshold: number, page: PageQuery): Promise<ProductPage<ProductView>>;
  listProducts<V = ProductView>(params: ListParams, extraWhere?: WhereOptions, includeInactive?: boolean, view?: (p: ProductRecord) => V): Promise<ProductPage<V>>;
  findProduct(id: number, activeOnly: boolean): Promise<ProductRecord>;
  updateProduct(id: number, fields: Record<string, unknown>): Promise<ProductView>;
  saving<T>(write: () => Promise<T>): Promise<T>;
  moveStock(event: Envelope, move: (transaction: Transaction) => Promise<StockLine[]>): Promise<void>;
  releaseForOrder(event: Envelope<{ orderId: string }>): Promise<void>;
  settledAtOnce(event: Envelope<{ orderId: string }>, to: Settled): Promise<boolean>;
  commitForPaidOrder(event: Envelope<{ orderId: string }>): Promise<void>;
  stockChanged(lines: StockLine[]): Promise<void>;
  sweepExpiredReservations(): Promise<void>;
}
/** What created() and the mixins put on the service. */
interface ProductsVars {
  /** SqlDbMixin's connection to the products database. */
  sequelize: Sequelize;
  inventory: Inventory;
  metrics: ReturnType<typeof stockMetrics>;
  /** Read by the Kafka bridge: the outbox it relays and where events that keep failing end. */
  outbox: SqlOutbox;
  deadLetters: SqlDeadLetters;
  /** The Kafka bridge's: wakes the outbox relay after a write. */
  kickRelay(): void;
  /** VersionedCacheMixin's: drops these products' cached reads and every generation-keyed one. */
  invalidateCache(ids?: (string | number)[]): Promise<void>;
  /** VersionedCacheMixin's: part of every generation-keyed cache key (generationKeygen). */
  cacheGeneration: number;
}
type ProductsThis = Service<ProductsSettings> & ProductsMethods & ProductsVars;

const ProductsService: ServiceSchema<ProductsSettings, ProductsMethods, ProductsVars> = {
  name: "products",
  // Moleculer starts the last mixin first: the database (and its migrations) before the bridge.
  mixins: [
    SweeperMixin({ method: "sweepExpiredReservations", everySeconds: cfg.checkout.sweepIntervalSeconds, what: "Freeing orphaned reservations" }),
    // The orders context decides (services/orders/payment-flow.ts): a paid order's reservation is
    // committed; one that was cancelled, expired or failed its payment gives its stock back.
    VersionedCacheMixin({ service: "products", entityAction: "get" }),
    KafkaBridgeMixin({
      handlers: {
        "order.paid"(this: ProductsThis, event) {
          return this.commitForPaidOrder(event);
        },
        "order.cancelled"(this: ProductsThis, event) {
          return this.releaseForOrder(event);
        },
        "order.expired"(this: ProductsThis, event) {
          return this.releaseForOrder(event);
        },
        "payment.failed"(this: ProductsThis, event) {
          return this.releaseForOrder(event);
        },
        // A full refund puts the goods back on the shelf when RESTOCK_ON_REFUND is on.
        "payment.refunded"(this: ProductsThis, event) {
          const restock = event.data.fullyRefunded && cfg.products.restockOnRefund;
          return this.moveStock(event, async (t: Transaction) => (restock ? this.inventory.restock(event.data.orderId, t) : []));
        },
      },
    }),
    SqlDbMixin({ service: "products", models: defineProductModels, migrations: [...productMigrations, ...integrationEventMigrations] }),
  ],

  settings: {
    // Actions declare absolute REST paths (under /api/v1).
    rest: "/",
    idField: "id",
  },

  actions: {
    // ---- public catalog (static paths before /products/:id) -------------------------------

    list: {
      rest: "GET /products",
      auth: "public",
      summary: "Browse the active catalog: filters, search, sort, pages",
      params: listParams,
      responses: { 200: page("Product") },
      cache: { keys: LIST_CACHE_KEYS, keygen: generationKeygen },
      handler(this: ProductsThis, ctx: Ctx<ListParams>) {
        return this.listProducts(ctx.params);
      },
    },

    topExpensive: {
      rest: "GET /products/top-expensive",
      auth: "public",
      summary: "The most expensive active products (seeds: top-5, top-10)",
      params: { limit: queryInt({ min: 1, max: 100, default: 5 }) },
      responses: { 200: arrayOf("Product") },
      cache: { keys: ["limit"], keygen: generationKeygen },
      handler(this: ProductsThis, ctx: Ctx<{ limit: number }>) {
        return this.mostExpensive(ctx.params.limit);
      },
    },

    // The seeds' fixed routes, kept as aliases of the two reads above.
    topFive: {
      rest: "GET /products/top-5",
      auth: "public",
      summary: "The 5 most expensive active products (alias of top-expensive?limit=5)",
      responses: { 200: arrayOf("Product") },
      cache: { keys: [], keygen: generationKeygen },
      handler(this: ProductsThis) {
        return this.mostExpensive(5);
      },
    },

    topTen: {
      rest: "GET /products/top-10",
      auth: "public",
      summary: "The 10 most expensive active products (alias of top-expensive?limit=10)",
      responses: { 200: arrayOf("Product") },
      cache: { keys: [], keygen: generationKeygen },
      handler(this: ProductsThis) {
        return this.mostExpensive(10);
      },
    },

    lowStockOne: {
      rest: "GET /products/low-stock-1",
      auth: "public",
      summary: "Active products with at most 1 unit available (alias of low-stock?threshold=1)",
      params: pageParams,
      responses: { 200: page("Product") },
      cache: { keys: ["limit", "offset"], keygen: generationKeygen },
      handler(this: ProductsThis, ctx: Ctx<PageQuery>) {
        return this.lowOnStock(1, ctx.params);
      },
    },

    lowStockTen: {
      rest: "GET /products/low-stock-10",
      auth: "public",
      summary: "Active products with at most 10 units available (alias of low-stock?threshold=10)",
      params: pageParams,
      responses: { 200: page("Product") },
      cache: { keys: ["limit", "offset"], keygen: generationKeygen },
      handler(this: ProductsThis, ctx: Ctx<PageQuery>) {
        return this.lowOnStock(10, ctx.params);
      },
    },

    lowStock: {
      rest: "GET /products/low-stock",
      auth: "public",
      summary: "Active products with at most `threshold` units available (seeds: low-stock-1, low-stock-10)",
      params: { threshold: queryInt({ min: 0, max: 1_000_000, default: LOW_STOCK_THRESHOLD }), ...pageParams },
      responses: { 200: page("Product") },
      cache: { keys: ["threshold", "limit", "offset"], keygen: generationKeygen },
      handler(this: ProductsThis, ctx: Ctx<{ threshold: number } & PageQuery>) {
        return this.lowOnStock(ctx.params.threshold, ctx.params);
      },
    },

    byCategory: {
      rest: "GET /products/category/:category",
      auth: "public",
      summary: "Active products of one category",
      params: { category: text(100, { min: 1 }), ...pageParams, sort: listParams.sort },
      responses: { 200: page("Product") },
      cache: { keys: ["category", "limit", "offset", "sort"], keygen: generationKeygen },
      handler(this: ProductsThis, ctx: Ctx<ListParams>) {
        return this.listProducts(ctx.params);
      },
    },

    categories: {
      rest: "GET /products/categories",
      auth: "public",
      summary: "Categories of the active catalog with product count and average price",
      responses: { 200: arrayOf("Category") },
      cache: { keygen: generationKeygen },
      async handler(): Promise<CategorySummary[]> {
        const rows = (await Product.findAll({
          attributes: ["category", [fn("COUNT", col("id")), "count"], [fn("AVG", col("price")), "averagePrice"]],
          where: { isActive: true },
          group: ["category"],
          order: [["category", "ASC"]],
          raw: true,
        })) as unknown as { category: string; count: unknown; averagePrice: unknown }[];
        return rows.map((r) => ({ name: r.category, count: toInt(r.count), averagePrice: toInt(r.averagePrice) }));
      },
    },

    stats: {
      rest: "GET /products/stats",
      auth: "public",
      summary: "Catalog figures: products, categories, average price, inventory value, low and out of stock",
      responses: { 200: ref("CatalogStats") },
      cache: { keygen: generationKeygen },
      async handler(this: ProductsThis): Promise<CatalogStats> {
        const sequelize = this.sequelize;
        // PostgreSQL multiplies two INTEGERs as INTEGER: widen first so large inventories cannot overflow.
        const value = sequelize.getDialect() === "postgres" ? "CAST(price AS BIGINT) * stock" : "price * stock";
        const available = "stock - reserved";
        const [row] = (await Product.findAll({
          attributes: [
            [fn("COUNT", col("id")), "products"],
            [fn("COUNT", fn("DISTINCT", col("category"))), "categories"],
            [fn("AVG", col("price")), "averagePrice"],
            [fn("SUM", literal(value)), "inventoryValue"],
            [fn("SUM", literal(`CASE WHEN ${available} > 0 AND ${available} <= ${LOW_STOCK_THRESHOLD} THEN 1 ELSE 0 END`)), "lowStock"],
            [fn("SUM", literal(`CASE WHEN ${available} <= 0 THEN 1 ELSE 0 END`)), "outOfStock"],
          ],
          where: { isActive: true },
          raw: true,
        })) as unknown as Record<string, unknown>[];
        return {
          products: toInt(row.products),
          categories: toInt(row.categories),
          averagePrice: toInt(row.averagePrice),
          inventoryValue: toInt(row.inventoryValue),
          lowStock: toInt(row.lowStock),
          outOfStock: toInt(row.outOfStock),
          lowStockThreshold: LOW_STOCK_THRESHOLD,
        };
      },
    },

    get: {
      rest: "GET /products/:id",
      auth: "public",
      summary: "One active product",
      params: idParam,
      responses: { 200: ref("Product"), errors: [404] },
      cache: { keygen: entityKeygen },
      async handler(this: ProductsThis, ctx: Ctx<{ id: number }>) {
        return toView(await this.findProduct(ctx.params.id, true));
      },
    },

    /** Several active products at once, for other services (baskets, checkout re-pricing). */
    getMany: {
      idempotent: true,
      params: { ids: { type: "array", items: `number|integer|positive|max:${MAX_ID}`, min: 1, max: 200 } },
      async handler(ctx: Ctx<{ ids: number[] }>) {
        const rows = await selectRows(Product, `id IN (${placeholders(ctx.params.ids)}) AND is_active = ? ORDER BY id`, [...ctx.params.ids, true]);
        return (rows as unknown as ProductRecord[]).map(toView);
      },
    },

    // ---- admin -----------------------------------------------------------------------------

    adminList: {
      rest: "GET /admin/products",
      auth: "admin",
      summary: "The whole catalog, inactive products included",
      params: { ...listParams, isActive: queryBool({ optional: true }) },
      responses: { 200: page("AdminProduct") },
      handler(this: ProductsThis, ctx: Ctx<ListParams>) {
        return this.listProducts(ctx.params, {}, true, toAdminView);
      },
    },

    adminGet: {
      rest: "GET /admin/products/:id",
      auth: "admin",
      summary: "One product, active or not",
      params: idParam,
      responses: { 200: ref("AdminProduct"), errors: [404] },
      async handler(this: ProductsThis, ctx: Ctx<{ id: number }>) {
        return toAdminView(await this.findProduct(ctx.params.id, false));
      },
    },

    create: {
      rest: "POST /admin/products",
      auth: "admin",
      summary: "Add a product",
      params: { $$strict: true, ...productFields, stock: { ...stockField, optional: true } },
      responses: { 201: ref("Product"), errors: [409], links: PRODUCT_LINKS },
      async handler(this: ProductsThis, ctx: Ctx<EditableFields & { stock?: number }>) {
        const fields = trimmed(ctx.params, TRIMMED_FIELDS);
        const product = await this.saving(() => Product.create({ ...fields, currency: fields.currency ?? "USD" } as ProductCreation));
        await this.invalidateCache();
        return created(ctx, `/api/v1/products/${product.id}`, toView(product.get({ plain: true }) as ProductRecord));
      },
    },

    replace: {
      rest: "PUT /admin/products/:id",
      auth: "admin",
      summary: "Replace a product's details (stock has its own endpoint)",
      params: { $$strict: true, ...idParam, ...editableFields },
      responses: { 200: ref("Product"), errors: [404, 409] },
      async handler(this: ProductsThis, ctx: Ctx<{ id: number } & EditableFields>) {
        const { id, ...fields } = trimmed(ctx.params, TRIMMED_FIELDS);
        const replacement = { description: null, imageUrl: null, currency: "USD", isActive: true, ...fields };
        return this.updateProduct(id, replacement);
      },
    },

    patch: {
      rest: "PATCH /admin/products/:id",
      auth: "admin",
      summary: "Change some of a product's details (stock has its own endpoint)",
      params: { $$strict: true, ...idParam, ...optionalFields },
      // At least one field: the handler refuses an empty change.
      bodyMinProperties: 1,
      responses: { 200: ref("Product"), errors: [404, 409] },
      async handler(this: ProductsThis, ctx: Ctx<{ id: number } & Partial<EditableFields>>) {
        const { id, ...fields } = trimmed(ctx.params, TRIMMED_FIELDS);
        if (Object.keys(fields).length === 0) {
          throw new DomainError(422, "VALIDATION_ERROR", "Nothing to change", [{ field: "body", type: "required", message: "Give at least one field" }]);
        }
        return this.updateProduct(id, fields);
      },
    },

    remove: {
      rest: "DELETE /admin/products/:id",
      auth: "admin",
      summary: "Delete a product that was never reserved (otherwise deactivate it)",
      params: idParam,
      responses: { 204: true, errors: [404, 409] },
      async handler(this: ProductsThis, ctx: Ctx<{ id: number }>) {
        try {
          const deleted = await Product.destroy({ where: { id: ctx.params.id } });
          if (deleted === 0) throw notFound("product", { id: ctx.params.id });
        } catch (err) {
          if (err instanceof ForeignKeyConstraintError) {
            throw new DomainError(409, "PRODUCT_IN_USE", "The product has reservations: deactivate it instead (isActive: false)", { id: ctx.params.id });
          }
          throw err;
        }
        await this.invalidateCache([ctx.params.id]);
        return noContent(ctx);
      },
    },

    setStock: {
      rest: "PUT /admin/products/:id/stock",
      auth: "admin",
      summary: "Set the units in stock (not below what is reserved)",
      params: { $$strict: true, ...idParam, stock: stockField },
      responses: { 200: ref("AdminProduct"), errors: [404, 409] },
      async handler(this: ProductsThis, ctx: Ctx<{ id: number; stock: number }>) {
        await this.inventory.setStock(ctx.params.id, ctx.params.stock);
        await this.invalidateCache([ctx.params.id]);
        return toAdminView(await this.findProduct(ctx.params.id, false));
      },
    },

    receiveStock: {
      rest: "POST /admin/products/:id/stock/receive",
      auth: "admin",
      summary: "Goods arrived: add units to the stock (relative, safe while orders sell it)",
      params: { $$strict: true, ...idParam, quantity: { type: "number", integer: true, min: 1, max: 1_000_000, convert: false } },
      responses: { 200: ref("AdminProduct"), errors: [404, 409] },
      async handler(this: ProductsThis, ctx: Ctx<{ id: number; quantity: number }>) {
        await this.inventory.receive(ctx.params.id, ctx.params.quantity);
        await this.invalidateCache([ctx.params.id]);
        return toAdminView(await this.findProduct(ctx.params.id, false));
      },
    },

    /** Bulk import for operators (the seed script, the REPL): SKUs already present are skipped. */
    createMany: {
      params: { products: { type: "array", min: 1, max: 1000, items: { type: "object", strict: true, props: productFields } } },
      async handler(this: ProductsThis, ctx: Ctx<{ products: ProductFields[] }>) {
        const rows = ctx.params.products.map((p) => ({ ...p, currency: p.currency ?? "USD" }) as ProductCreation);
        await Product.bulkCreate(rows, { ignoreDuplicates: true });
        await this.invalidateCache();
        return { submitted: rows.length };
      },
    },

    // ---- stock reservations, for the checkout (other services only) -------------------------

    reserveStock: {
      params: {
        ...orderIdParam,
        lines: {
          type: "array",
          min: 1,
          max: 100,
          items: { type: "object", strict: true, props: { productId: "number|integer|positive", quantity: "number|integer|positive|max:10000" } },
        },
      },
      retryPolicy: { enabled: true }, // idempotent per orderId
      async handler(this: ProductsThis, ctx: Ctx<{ orderId: string; lines: StockLine[] }>) {
        let reservation: Reservation;
        try {
          reservation = await this.inventory.reserve(ctx.params.orderId, ctx.params.lines);
        } catch (err) {
          if (err instanceof DomainError && err.type === "INSUFFICIENT_STOCK") this.metrics.reservation({ outcome: "refused" });
          throw err;
        }
        this.metrics.reservation({ outcome: "reserved" });
        await this.stockChanged(reservation.lines);
        return reservation;
      },
    },

    commitReservation: {
      params: orderIdParam,
      retryPolicy: { enabled: true },
      async handler(this: ProductsThis, ctx: Ctx<{ orderId: string }>) {
        const reservation = await this.inventory.commit(ctx.params.orderId);
        await this.stockChanged(reservation.lines);
        return reservation;
      },
    },

    releaseReservation: {
      params: orderIdParam,
      retryPolicy: { enabled: true },
      async handler(this: ProductsThis, ctx: Ctx<{ orderId: string }>) {
        const reservation = await this.inventory.release(ctx.params.orderId);
        await this.stockChanged(reservation.lines);
        return reservation;
      },
    },
  },

  methods: {
    async mostExpensive(limit: number): Promise<ProductView[]> {
      const rows = await Product.findAll({ where: { isActive: true }, order: [["price", "DESC"], ["id", "ASC"]], limit, raw: true });
      return (rows as unknown as ProductRecord[]).map(toView);
    },

    /** Active products with at most `threshold` units available, fewest first. */
    lowOnStock(this: ProductsThis, threshold: number, page: PageQuery): Promise<ProductPage<ProductView>> {
      const available = literal(`stock - reserved <= ${Math.trunc(threshold)}`);
      return this.listProducts({ ...page, sort: "stock" }, { [Op.and]: [available] });
    },

    async listProducts<V = ProductView>(
      this: ProductsThis,
      params: ListParams,
      extraWhere: WhereOptions = {},
      includeInactive = false,
      // V defaults to ProductView, which toView gives.
      view: (p: ProductRecord) => V = toView as (p: ProductRecord) => V,
    ): Promise<ProductPage<V>> {
      const limit = params.limit ?? DEFAULT_PAGE_SIZE;
      const offset = params.offset ?? 0;
      const conditions: WhereOptions[] = [extraWhere];
      if (!includeInactive) conditions.push({ isActive: true });
      else if (params.isActive !== undefined) conditions.push({ isActive: params.isActive });
      if (params.category) conditions.push({ category: params.category });
      if (params.minPrice !== undefined) conditions.push({ price: { [Op.gte]: params.minPrice } });
      if (params.maxPrice !== undefined) conditions.push({ price: { [Op.lte]: params.maxPrice } });
      if (params.q) conditions.push(containsIgnoringCase(this.sequelize, "name", params.q));
      const { rows, count } = await Product.findAndCountAll({
        where: { [Op.and]: conditions },
        order: parseSort(params.sort).map((s) => [s.field, s.direction]),
        limit,
        offset,
        raw: true,
      });
      return { items: (rows as unknown as ProductRecord[]).map(view), total: count, limit, offset };
    },

    async findProduct(id: number, activeOnly: boolean): Promise<ProductRecord> {
      const [product] = await selectRows(Product, activeOnly ? "id = ? AND is_active = ?" : "id = ?", activeOnly ? [id, true] : [id]);
      if (!product) throw notFound("product", { id });
      return product as unknown as ProductRecord;
    },

    async updateProduct(this: ProductsThis, id: number, fields: Record<string, unknown>): Promise<ProductView> {
      const [changed] = await this.saving(() => Product.update(fields, { where: { id } }));
      if (changed === 0) throw notFound("product", { id });
      await this.invalidateCache([id]);
      return toView(await this.findProduct(id, false));
    },

    /** A duplicate SKU is the client's conflict, not a server error. */
    async saving<T>(write: () => Promise<T>): Promise<T> {
      try {
        return await write();
      } catch (err) {
        if (err instanceof UniqueConstraintError) throw new DomainError(409, "SKU_TAKEN", "Another product has this SKU", { field: "sku" });
        throw err;
      }
    },

    /** Applies an event's stock movement once (the inventory writes the stock event it causes). */
    async moveStock(this: ProductsThis, event: Envelope, move: (transaction: Transaction) => Promise<StockLine[]>): Promise<void> {
      let moved: StockLine[] = [];
      if ((await processOnce(this.sequelize, "products", event.id, async (t) => void (moved = await move(t)))) === "applied") await this.stockChanged(moved);
    },

    /** Gives an unpaid order's reserved units back (it was cancelled, expired, or its payment failed). */
    async releaseForOrder(this: ProductsThis, event: Envelope<{ orderId: string }>): Promise<void> {
      if (await this.settledAtOnce(event, "released")) return;
      return this.moveStock(event, async (t: Transaction) => (await this.inventory.release(event.data.orderId, t)).lines);
    },

    /** The common case in one statement where the database allows (Inventory.settleOnce); false: take the general way. */
    async settledAtOnce(this: ProductsThis, event: Envelope<{ orderId: string }>, to: Settled): Promise<boolean> {
      const settled = await this.inventory.settleOnce({ consumer: "products", eventId: event.id }, event.data.orderId, to);
      if (settled === undefined) return false;
      if (settled !== "duplicate") await this.stockChanged(settled.lines);
      return true;
    },

    /**
     * Commits a paid order's reservation. If it is gone (lapsed or released while the payment was
     * in flight), the sale cannot stand: stock.commit_failed tells the orders context, which has
     * the charge refunded. Never a charge kept without goods.
     */
    async commitForPaidOrder(this: ProductsThis, event: Envelope<{ orderId: string }>): Promise<void> {
      const { orderId } = event.data;
      if (await this.settledAtOnce(event, "committed")) return;
      return this.moveStock(event, async (t: Transaction) => {
        try {
          return (await this.inventory.commit(orderId, t)).lines;
        } catch (err) {
          if (!(err instanceof DomainError)) throw err;
          this.logger.warn(`Order ${orderId} was paid but its stock cannot be committed (${err.type}): asking for a refund`);
          await addToOutbox(this.sequelize, envelope("products", "stock.commit_failed", orderId, { orderId, reason: err.type }), t);
          return [];
        }
      });
    },

    /** After a stock movement of these lines: their cached reads are stale, and a stock event waits in the outbox. */
    async stockChanged(this: ProductsThis, lines: StockLine[]): Promise<void> {
      this.kickRelay();
      if (lines.length) await this.invalidateCache(lines.map((l) => l.productId));
    },

    async sweepExpiredReservations(this: ProductsThis): Promise<void> {
      const released: Reservation[] = await this.inventory.releaseExpired();
      if (released.length) {
        this.logger.info(`Released ${released.length} expired reservation(s): ${released.map((r) => r.orderId).join(", ")}`);
        await this.stockChanged(released.flatMap((r) => r.lines));
      }
    },
  } satisfies ProductsMethods,

  created(this: ProductsThis) {
    this.metrics = stockMetrics(this.broker);
    // Every stock movement goes out as a stock event from its own transaction.
    // The orders context releases reservations (cancel, expiry); this lifetime is only the safety net
    // for one whose order never came to be (a checkout that died half-way) or whose release was lost.
    const { reservationTtlSeconds, paymentGraceSeconds } = cfg.checkout;
    const safetyLifetimeMs = (reservationTtlSeconds + paymentGraceSeconds + ORPHAN_MARGIN_SECONDS) * 1000;
    this.inventory = new Inventory(this.sequelize, safetyLifetimeMs, undefined, (type, orderId, lines) =>
      outboxRow(envelope("products", type, orderId, { orderId, lines })),
    );
    this.outbox = new SqlOutbox(this.sequelize);
    this.deadLetters = new SqlDeadLetters(this.sequelize);
  },
};

export default ProductsService;
