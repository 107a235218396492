/**
 * Checkout and orders. An order is made from the caller's basket, priced again from the catalog,
 * with its stock reserved (all lines or none), once per Idempotency-Key. Payments move it
 * through integration events; every move is checked by the state machine and recorded.
 */
import { createHash, randomUUID } from "node:crypto";
import type { Context, ServiceSchema } from "moleculer";
import { UniqueConstraintError, type Transaction } from "sequelize";
import { SqlDbMixin } from "../../mixins/sql-db.mixin";
import { KafkaBridgeMixin } from "../../mixins/kafka-bridge.mixin";
import { inTransaction } from "../../lib/sql";
import { DomainError, notFound } from "../../lib/errors";
import { envelope, type Envelope } from "../../lib/events/envelope";
import { addToOutbox, integrationEventMigrations, processOnce, SqlDeadLetters, SqlOutbox } from "../../lib/events/stores";
import type { ShopMeta } from "../../lib/http/access";
import { created, replayed, requireIdempotencyKey } from "../../lib/http/responses";
import { createdBetween, newestFirst } from "../../lib/sql";
import { defineOrderModels, Order, OrderHistory, OrderLineRow } from "./order.model";
import { orderMigrations } from "./migrations";
import { assertMove, canMove, ORDER_STATUSES, type OrderStatus } from "./order-state";
import { priceLines, type CatalogProduct } from "./pricing";

type Ctx<P = unknown> = Context<P, ShopMeta>;

const idParam = { id: { type: "uuid" } } as const;
const pageParams = {
  limit: { type: "number", integer: true, min: 1, max: 100, optional: true, convert: true },
  offset: { type: "number", integer: true, min: 0, optional: true, convert: true },
  status: { type: "enum", values: ORDER_STATUSES, optional: true },
} as const;

/** The same request, whatever the order of its fields. */
function requestHash(params: Record<string, unknown>): string {
  const canonical = JSON.stringify(Object.keys(params).sort().map((k) => [k, params[k]]));
  return createHash("sha256").update(canonical).digest("hex");
}

const OrdersService: ServiceSchema<any> = {
  name: "orders",
  // Moleculer starts the last mixin first: the database (and its migrations) before the bridge.
  mixins: [
    KafkaBridgeMixin({
      handlers: { "payment.completed": "onPaymentCompleted", "payment.failed": "onPaymentFailed", "payment.refunded": "onPaymentRefunded" },
    }),
    SqlDbMixin({ service: "orders", models: defineOrderModels, migrations: [...orderMigrations, ...integrationEventMigrations] }),
  ],

  settings: { rest: "/", idField: "id" },

  actions: {
    checkout: {
      rest: "POST /orders",
      auth: "user",
      summary: "Order the caller's basket (Idempotency-Key header required): 201 pending_payment, stock reserved",
      params: { $$strict: true, note: { type: "string", max: 500, optional: true } },
      async handler(ctx: Ctx<{ note?: string }>) {
        const userId = ctx.meta.user!.id;
        const key = requireIdempotencyKey(ctx);
        const hash = requestHash(ctx.params);
        const earlier = await Order.findOne({ where: { userId, idempotencyKey: key }, raw: true });
        if (earlier) return this.replay(ctx, earlier, hash);

        const basket: any = await ctx.call("baskets.ofUser", { userId });
        const items = basket.items.map((i: any) => ({ productId: i.productId, quantity: i.quantity }));
        const catalog: CatalogProduct[] = items.length ? await ctx.call("products.getMany", { ids: items.map((i: any) => i.productId) }) : [];
        const priced = priceLines(items, catalog);

        // Stock first: a shortage (409, with the failing lines) leaves nothing behind.
        const orderId = randomUUID();
        await ctx.call("products.reserveStock", { orderId, lines: priced.lines.map((l) => ({ productId: l.productId, quantity: l.quantity })) });
        try {
          await inTransaction(this.sequelize, async (transaction) => {
            await Order.create(
              { id: orderId, userId, status: "pending_payment", currency: priced.currency, total: priced.total, itemCount: items.reduce((n: number, i: any) => n + i.quantity, 0), idempotencyKey: key, requestHash: hash },
              { transaction },
            );
            await OrderLineRow.bulkCreate(priced.lines.map((l) => ({ ...l, orderId })), { transaction });
            await OrderHistory.create({ orderId, fromStatus: null, toStatus: "pending_payment", cause: "checkout", at: new Date() }, { transaction });
            await addToOutbox(this.sequelize, envelope("orders", "order.created", orderId, { orderId, userId, total: priced.total, currency: priced.currency }), transaction);
          });
        } catch (err) {
          // Not ordered after all: give the stock back. A concurrent twin with the same key won.
          await ctx.call("products.releaseReservation", { orderId }).catch((e: Error) => this.logger.error(`Could not release ${orderId}:`, e.message));
          if (err instanceof UniqueConstraintError) {
            return this.replay(ctx, await Order.findOne({ where: { userId, idempotencyKey: key }, raw: true }), hash);
          }
          throw err;
        }
        this.kickRelay();
        return created(ctx, `/api/v1/orders/${orderId}`, await this.view(orderId));
      },
    },

    list: {
      rest: "GET /orders",
      auth: "user",
      summary: "The caller's orders, newest first",
      params: pageParams,
      handler(ctx: Ctx<{ limit?: number; offset?: number; status?: OrderStatus }>) {
        return this.page({ userId: ctx.meta.user!.id }, ctx.params);
      },
    },

    get: {
      rest: "GET /orders/:id",
      auth: "user",
      summary: "One of the caller's orders, with its lines and history",
      params: idParam,
      async handler(ctx: Ctx<{ id: string }>) {
        return this.view(await this.ownOrderId(ctx, ctx.params.id));
      },
    },

    cancel: {
      rest: "POST /orders/:id/cancel",
      auth: "user",
      summary: "Cancel one of the caller's orders before it is paid; its stock is released",
      params: idParam,
      async handler(ctx: Ctx<{ id: string }>) {
        const id = await this.ownOrderId(ctx, ctx.params.id);
        await inTransaction(this.sequelize, async (transaction) => {
          await this.move(id, "cancelled", "cancelled by the customer", transaction);
          const order = (await Order.findByPk(id, { transaction, raw: true }))!;
          await addToOutbox(this.sequelize, envelope("orders", "order.cancelled", id, { orderId: id, userId: order.userId }), transaction);
        });
        this.kickRelay();
        return this.view(id);
      },
    },

    adminList: {
      rest: "GET /admin/orders",
      auth: "admin",
      summary: "All orders; filters by status, user and creation date",
      params: {
        ...pageParams,
        userId: { type: "string", max: 64, optional: true },
        from: { type: "date", convert: true, optional: true },
        to: { type: "date", convert: true, optional: true },
      },
      handler(ctx: Ctx<{ limit?: number; offset?: number; status?: OrderStatus; userId?: string; from?: Date; to?: Date }>) {
        const where: any = {};
        if (ctx.params.userId) where.userId = ctx.params.userId;
        if (ctx.params.from || ctx.params.to) where.createdAt = createdBetween(ctx.params.from, ctx.params.to);
        return this.page(where, ctx.params);
      },
    },

    adminGet: {
      rest: "GET /admin/orders/:id",
      auth: "admin",
      summary: "Any order, with its lines and history",
      params: idParam,
      async handler(ctx: Ctx<{ id: string }>) {
        if (!(await Order.findByPk(ctx.params.id, { attributes: ["id"], raw: true }))) throw notFound("order", { id: ctx.params.id });
        return this.view(ctx.params.id);
      },
    },

    fulfill: {
      rest: "POST /admin/orders/:id/fulfill",
      auth: "admin",
      summary: "Mark a paid order as shipped",
      params: idParam,
      async handler(ctx: Ctx<{ id: string }>) {
        await inTransaction(this.sequelize, (t) => this.move(ctx.params.id, "fulfilled", `fulfilled by ${ctx.meta.user?.id ?? "an admin"}`, t));
        return this.view(ctx.params.id);
      },
    },

    /** The amount to charge for one of a user's orders (payments; never a client-sent amount). */
    forPayment: {
      params: { orderId: { type: "uuid" }, userId: { type: "string", max: 64 } },
      async handler(ctx: Ctx<{ orderId: string; userId: string }>) {
        const order = await Order.findOne({ where: { id: ctx.params.orderId, userId: ctx.params.userId }, raw: true });
        if (!order) throw notFound("order", { id: ctx.params.orderId });
        return { id: order.id, userId: order.userId, status: order.status, total: Number(order.total), currency: order.currency };
      },
    },
  },

  methods: {
    async replay(ctx: Ctx, order: any, hash: string) {
      if (order.requestHash !== hash) {
        throw new DomainError(422, "IDEMPOTENCY_KEY_REUSED", "This Idempotency-Key was used with a different request", { orderId: order.id });
      }
      return replayed(ctx, await this.view(order.id));
    },

    /** The order if it is the caller's; someone else's reads as not found (no probing). */
    async ownOrderId(ctx: Ctx, id: string): Promise<string> {
      const order = await Order.findOne({ where: { id, userId: ctx.meta.user!.id }, attributes: ["id"], raw: true });
      if (!order) throw notFound("order", { id });
      return order.id;
    },

    /** Moves an order, if the state machine allows it, from the status it has now. */
    async move(id: string, to: OrderStatus, cause: string, transaction: Transaction, extra: Record<string, unknown> = {}) {
      const order = await Order.findByPk(id, { transaction, raw: true });
      if (!order) throw notFound("order", { id });
      assertMove(order.status, to);
      const [moved] = await Order.update({ status: to, ...extra }, { where: { id, status: order.status }, transaction });
      if (moved === 0) throw new DomainError(409, "CONCURRENT_CHANGE", "The order changed meanwhile; try again", { id });
      await OrderHistory.create({ orderId: id, fromStatus: order.status, toStatus: to, cause, at: new Date() }, { transaction });
    },

    /** The effect of a payment event, once per event; a move the order no longer allows is logged, not retried. */
    async followPayment(event: Envelope, to: (order: Order) => OrderStatus, cause: string, extra: (order: Order) => Record<string, unknown> = () => ({})) {
      const orderId = String(event.data.orderId);
      await processOnce(this.sequelize, "orders", event.id, async (transaction) => {
        const order = await Order.findByPk(orderId, { transaction, raw: true });
        if (!order) throw new Error(`order ${orderId} of ${event.type} ${event.id} is unknown`);
        const target = to(order);
        if (!canMove(order.status, target)) {
          this.logger.error(`Order ${orderId} is ${order.status}: ignoring ${event.type} (${event.id}), which would move it to ${target}`);
          return;
        }
        await this.move(orderId, target, cause, transaction, extra(order));
      });
    },

    onPaymentCompleted(event: Envelope) {
      return this.followPayment(event, () => "paid", `payment ${event.data.paymentId} completed`);
    },

    onPaymentFailed(event: Envelope) {
      return this.followPayment(event, () => "payment_failed", `payment ${event.data.paymentId} failed: ${event.data.reason ?? "declined"}`);
    },

    onPaymentRefunded(event: Envelope) {
      return this.followPayment(
        event,
        () => (event.data.fullyRefunded ? "refunded" : "partially_refunded"),
        `refund of ${event.data.amount} on payment ${event.data.paymentId}`,
        () => ({ refundedAmount: Number(event.data.refundedTotal) }),
      );
    },

    page(where: Record<string, unknown>, params: { limit?: number; offset?: number; status?: OrderStatus }) {
      return newestFirst(Order, { ...where, ...(params.status && { status: params.status }) }, params, (o) => this.summary(o));
    },

    summary(o: any) {
      return {
        id: o.id,
        userId: o.userId,
        status: o.status,
        currency: o.currency,
        total: Number(o.total),
        itemCount: Number(o.itemCount),
        refundedAmount: Number(o.refundedAmount),
        createdAt: new Date(o.createdAt).toISOString(),
        updatedAt: new Date(o.updatedAt).toISOString(),
      };
    },

    async view(id: string) {
      const [order, lines, history] = await Promise.all([
        Order.findByPk(id, { raw: true }),
        OrderLineRow.findAll({ where: { orderId: id }, order: [["id", "ASC"]], raw: true }),
        OrderHistory.findAll({ where: { orderId: id }, order: [["id", "ASC"]], raw: true }),
      ]);
      return {
        ...this.summary(order),
        lines: lines.map(({ productId, name, unitPrice, quantity, lineTotal }) => ({ productId, name, unitPrice: Number(unitPrice), quantity, lineTotal: Number(lineTotal) })),
        history: history.map((h) => ({ from: h.fromStatus, to: h.toStatus, cause: h.cause, at: new Date(h.at).toISOString() })),
      };
    },
  },

  created() {
    this.outbox = new SqlOutbox(this.sequelize, "orders");
    this.deadLetters = new SqlDeadLetters(this.sequelize);
  },
};

export default OrdersService;
