/**
 * One basket per user, in Redis (REDIS_URL) or memory, expiring BASKET_TTL_SECONDS after its last
 * change. Lines carry the catalog's name and price, never the client's; the owner comes from the
 * token, never from the request.
 */
import type { Context, Service, ServiceSchema, ServiceSettingSchema } from "moleculer";
import Redis from "ioredis";
import { config } from "../../lib/config";
import { registerHealthCheck, unregisterHealthCheck } from "../../lib/health";
import type { ShopMeta } from "../../lib/http/access";
import { noContent } from "../../lib/http/responses";
import { ref } from "../../lib/http/schemas";
import { idInPath, MAX_ID, text } from "../../lib/params";
import { applyChange, toBasketView, MAX_QUANTITY_PER_LINE, type Basket, type BasketView, type CatalogEntry } from "./basket";
import { MemoryBasketStore, RedisBasketStore, type BasketStore, type StoredBasket } from "./store";
import { KafkaBridgeMixin } from "../../mixins/kafka-bridge.mixin";
import { envelope } from "../../lib/events/envelope";
import { MemoryDeadLetters, RedisDeadLetters, type DeadLetterStore, type OutboxStore } from "../../lib/events/stores";
import { basketMetrics } from "../../lib/telemetry/business-metrics";

type Ctx<P = unknown> = Context<P, ShopMeta>;

const cfg = config();
/** A product id in the body (a JSON number) and in the path. */
const productId = { type: "number", integer: true, min: 1, max: MAX_ID, convert: false } as const;
const productIdInPath = idInPath();
const quantity = (min: number) => ({ type: "number", integer: true, min, max: MAX_QUANTITY_PER_LINE, convert: false }) as const;
const userIdParam = { userId: text(64, { min: 1 }) } as const;
const BASKET = { 200: ref("Basket") };

/** The service's types (the pattern of services/notifications): `this` is the service with these. */
interface BasketsSettings extends ServiceSettingSchema {
  rest: string;
}
interface BasketsMethods {
  view(stored: StoredBasket): BasketView;
  change(ctx: Ctx, apply: (basket: Basket) => Basket): Promise<BasketView>;
  catalogEntry(ctx: Ctx, id: number): Promise<CatalogEntry>;
  onOrderPaid(event: { id: string; data: { userId: string; orderId: string } }): Promise<"applied" | "duplicate">;
}
/** What created() and the Kafka bridge mixin put on the service. */
interface BasketsVars {
  redis?: Redis;
  store: BasketStore;
  /** Read by the Kafka bridge: the store's outbox and where failing events end. */
  outbox: OutboxStore;
  deadLetters: DeadLetterStore;
  /** The Kafka bridge's: wakes the outbox relay after a write. */
  kickRelay(): void;
  metrics: ReturnType<typeof basketMetrics>;
}
type BasketsThis = Service<BasketsSettings> & BasketsMethods & BasketsVars;

const BasketsService: ServiceSchema<BasketsSettings, BasketsMethods, BasketsVars> = {
  name: "baskets",
  mixins: [
    KafkaBridgeMixin({
      handlers: {
        "order.paid"(this: BasketsThis, event) {
          return this.onOrderPaid(event);
        },
      },
    }),
  ],

  settings: { rest: "/" },

  actions: {
    get: {
      rest: "GET /basket",
      auth: "user",
      summary: "The caller's basket (empty when there is none)",
      responses: BASKET,
      async handler(this: BasketsThis, ctx: Ctx) {
        return this.view(await this.store.read(ctx.meta.user!.id));
      },
    },

    addItem: {
      rest: "POST /basket/items",
      auth: "user",
      summary: "Add a product (merged with its line); name and price come from the catalog",
      // Strict: a client-sent `unitPrice` or `name` is refused, not silently trusted.
      params: { $$strict: true, productId, quantity: quantity(1) },
      responses: { ...BASKET, errors: [404, 409] },
      async handler(this: BasketsThis, ctx: Ctx<{ productId: number; quantity: number }>) {
        const product = await this.catalogEntry(ctx, ctx.params.productId);
        return this.change(ctx, (b) => applyChange(b, { kind: "add", product, quantity: ctx.params.quantity }));
      },
    },

    setItem: {
      rest: "PUT /basket/items/:productId",
      auth: "user",
      summary: "Set a line's quantity (0 removes it)",
      params: { $$strict: true, productId: productIdInPath, quantity: quantity(0) },
      responses: { ...BASKET, errors: [404, 409] },
      async handler(this: BasketsThis, ctx: Ctx<{ productId: number; quantity: number }>) {
        if (ctx.params.quantity === 0) return this.change(ctx, (b) => applyChange(b, { kind: "remove", productId: ctx.params.productId }));
        const product = await this.catalogEntry(ctx, ctx.params.productId);
        return this.change(ctx, (b) => applyChange(b, { kind: "set", product, quantity: ctx.params.quantity }));
      },
    },

    removeItem: {
      rest: "DELETE /basket/items/:productId",
      auth: "user",
      summary: "Remove a line",
      params: { productId: productIdInPath },
      responses: BASKET,
      async handler(this: BasketsThis, ctx: Ctx<{ productId: number }>) {
        return this.change(ctx, (b) => applyChange(b, { kind: "remove", productId: ctx.params.productId }));
      },
    },

    clear: {
      rest: "DELETE /basket",
      auth: "user",
      summary: "Empty the caller's basket",
      responses: { 204: true },
      async handler(this: BasketsThis, ctx: Ctx) {
        await this.store.clear(ctx.meta.user!.id);
        this.metrics.cleared({ reason: "customer" });
        return noContent(ctx);
      },
    },

    adminGet: {
      rest: "GET /admin/baskets/:userId",
      auth: "admin",
      summary: "Anyone's basket",
      params: userIdParam,
      responses: BASKET,
      async handler(this: BasketsThis, ctx: Ctx<{ userId: string }>) {
        return this.view(await this.store.read(ctx.params.userId));
      },
    },

    adminClear: {
      rest: "DELETE /admin/baskets/:userId",
      auth: "admin",
      summary: "Empty anyone's basket",
      params: userIdParam,
      responses: { 204: true },
      async handler(this: BasketsThis, ctx: Ctx<{ userId: string }>) {
        await this.store.clear(ctx.params.userId);
        this.metrics.cleared({ reason: "admin" });
        return noContent(ctx);
      },
    },

    /** A user's basket, for the checkout (other services only). */
    ofUser: {
      idempotent: true,
      params: userIdParam,
      async handler(this: BasketsThis, ctx: Ctx<{ userId: string }>) {
        return this.view(await this.store.read(ctx.params.userId));
      },
    },
  },

  methods: {
    view(stored: StoredBasket): BasketView {
      return toBasketView(stored.basket, stored.expiresAt);
    },

    async change(this: BasketsThis, ctx: Ctx, apply: Parameters<BasketStore["update"]>[1]): Promise<BasketView> {
      return this.view(await this.store.update(ctx.meta.user!.id, apply));
    },

    /** The product as the catalog says it is now; unknown or inactive products are a 404 there. */
    async catalogEntry(ctx: Ctx, id: number): Promise<CatalogEntry> {
      const product: any = await ctx.call("products.get", { id });
      return { productId: product.id, name: product.name, unitPrice: product.price, currency: product.currency, available: product.available };
    },

    /**
     * The basket's side of the payment flow: a paid order empties its owner's basket, once per
     * event however often it is delivered. Called by the integration-event consumer.
     */
    async onOrderPaid(this: BasketsThis, event: { id: string; data: { userId: string; orderId: string } }): Promise<"applied" | "duplicate"> {
      const { userId, orderId } = event.data;
      const cleared = envelope("baskets", "basket.cleared", userId, { userId, orderId, reason: "order.paid" });
      const applied = await this.store.clearOnce(userId, event.id, cleared);
      if (applied) {
        this.metrics.cleared({ reason: "order_paid" });
        this.logger.info(`Basket of ${userId} cleared: order ${orderId} paid`);
        this.kickRelay();
      }
      return applied ? "applied" : "duplicate";
    },
  } satisfies BasketsMethods,

  created(this: BasketsThis) {
    this.metrics = basketMetrics(this.broker);
    const ttlMs = cfg.baskets.ttlSeconds * 1000;
    this.redis = cfg.redisUrl ? new Redis(cfg.redisUrl, { lazyConnect: true, maxRetriesPerRequest: 2 }) : undefined;
    // Keys carry the namespace: shops (or test runs) sharing one Redis stay apart.
    this.store = this.redis ? new RedisBasketStore(this.redis, ttlMs, `${cfg.namespace}:`) : new MemoryBasketStore(ttlMs);
    // The Kafka bridge relays this outbox and keeps these dead letters.
    this.outbox = this.store.outbox;
    this.deadLetters = this.redis ? new RedisDeadLetters(this.redis, `${cfg.namespace}:dead-letters:baskets`) : new MemoryDeadLetters();
  },

  async started(this: BasketsThis) {
    await this.redis?.connect();
    if (this.redis) registerHealthCheck("baskets.redis", () => this.store.ping());
  },

  async stopped(this: BasketsThis) {
    unregisterHealthCheck("baskets.redis");
    this.redis?.disconnect();
  },
};

export default BasketsService;
