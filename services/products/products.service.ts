/**
 * The catalog and its stock. Reads are public and cached; every write clears the cache on every
 * node (moleculer-db broadcasts cache.clean.products).
 */
import { Errors, type Context, type ServiceSchema } from "moleculer";
import { Op, fn, col, where, literal, type WhereOptions, type Sequelize } from "sequelize";
import { SqlDbMixin } from "../../mixins/sql-db.mixin";
import { defineProductModels, Product, StockReservation } from "./product.model";
import { productMigrations } from "./migrations";
import {
  containsPattern,
  DEFAULT_PAGE_SIZE,
  LIKE_ESCAPE,
  listParams,
  parseSort,
  toView,
  type ProductRecord,
  type ProductView,
} from "./catalog";

interface ListParams {
  limit?: number;
  offset?: number;
  category?: string;
  minPrice?: number;
  maxPrice?: number;
  q?: string;
  sort?: string;
}

const ProductsService: ServiceSchema<any> = {
  name: "products",
  mixins: [SqlDbMixin({ service: "products", models: defineProductModels, migrations: productMigrations })],

  settings: {
    // Actions declare absolute REST paths (under /api/v1).
    rest: "/",
    idField: "id",
  },

  actions: {
    // moleculer-db's generic actions take raw queries: none of them is offered.
    find: false,
    count: false,
    insert: false,
    create: false,
    update: false,
    remove: false,

    list: {
      rest: "GET /products",
      auth: "public",
      summary: "Browse the active catalog",
      params: listParams,
      cache: { keys: ["limit", "offset", "category", "minPrice", "maxPrice", "q", "sort"] },
      async handler(ctx: Context<ListParams>) {
        return this.listProducts(ctx.params);
      },
    },

    get: {
      rest: "GET /products/:id",
      auth: "public",
      summary: "One active product",
      params: { id: { type: "number", integer: true, positive: true, convert: true } },
      cache: { keys: ["id"] },
      async handler(ctx: Context<{ id: number }>) {
        const product = await Product.findOne({ where: { id: ctx.params.id, isActive: true }, raw: true });
        if (!product) throw new Errors.MoleculerClientError("Product not found", 404, "PRODUCT_NOT_FOUND", { id: ctx.params.id });
        return this.withAvailability([product as unknown as ProductRecord]).then((views: ProductView[]) => views[0]);
      },
    },
  },

  methods: {
    async listProducts(params: ListParams, extraWhere: WhereOptions = {}) {
      const limit = params.limit ?? DEFAULT_PAGE_SIZE;
      const offset = params.offset ?? 0;
      const conditions: any[] = [{ isActive: true }, extraWhere];
      if (params.category) conditions.push({ category: params.category });
      if (params.minPrice !== undefined) conditions.push({ price: { [Op.gte]: params.minPrice } });
      if (params.maxPrice !== undefined) conditions.push({ price: { [Op.lte]: params.maxPrice } });
      if (params.q) {
        const sequelize = this.sequelize as Sequelize;
        conditions.push(
          where(fn("LOWER", col("name")), Op.like, literal(`${sequelize.escape(containsPattern(params.q))} ESCAPE '${LIKE_ESCAPE}'`)),
        );
      }
      const { rows, count } = await Product.findAndCountAll({
        where: { [Op.and]: conditions },
        order: parseSort(params.sort).map((s) => [s.field, s.direction]),
        limit,
        offset,
        raw: true,
      });
      const items = await this.withAvailability(rows as unknown as ProductRecord[]);
      return { items, total: count, limit, offset };
    },

    /** Views of the products with their available stock (stock minus live reservations). */
    async withAvailability(products: ProductRecord[]): Promise<ProductView[]> {
      if (products.length === 0) return [];
      const reserved = await this.reservedQuantities(products.map((p) => p.id));
      return products.map((p) => toView(p, reserved.get(Number(p.id)) ?? 0));
    },

    async reservedQuantities(productIds: number[]): Promise<Map<number, number>> {
      const rows = (await StockReservation.findAll({
        attributes: ["productId", [fn("SUM", col("quantity")), "reserved"]],
        where: { productId: productIds, status: "active", expiresAt: { [Op.gt]: new Date() } },
        group: ["productId"],
        raw: true,
      })) as unknown as { productId: number; reserved: string | number }[];
      return new Map(rows.map((r) => [Number(r.productId), Number(r.reserved)]));
    },
  },
};

export default ProductsService;
