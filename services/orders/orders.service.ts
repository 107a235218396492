/**
 * Checkout and orders. An order is made from the caller's basket, priced again from the catalog,
 * with its stock reserved (all lines or none), once per Idempotency-Key. Payments move it
 * through integration events; every move is checked by the state machine and recorded.
 */
import { createHash, randomUUID } from "node:crypto";
import type { Context, Service, ServiceSchema, ServiceSettingSchema } from "moleculer";
import { Op, UniqueConstraintError, type InferAttributes, type Sequelize, type Transaction, type WhereOperators } from "sequelize";
import { SqlDbMixin } from "../../mixins/sql-db.mixin";
import { KafkaBridgeMixin } from "../../mixins/kafka-bridge.mixin";
import { SweeperMixin } from "../../mixins/sweeper.mixin";
import { columnsOf, insertAtOnce, inTransaction, type TableRows } from "../../lib/sql";
import { selectRows, updateRows } from "../../lib/sql-statements";
import { DomainError, notFound } from "../../lib/errors";
import { envelope, type Envelope } from "../../lib/events/envelope";
import type { IntegrationEvent } from "../../lib/events/contracts";
import { integrationEventMigrations, outboxRow, processOnce, SqlDeadLetters, SqlOutbox } from "../../lib/events/stores";
import { config } from "../../lib/config";
import { pageParams as boundedPage, queryDateTime, text } from "../../lib/params";
import { page, ref } from "../../lib/http/schemas";
import type { ShopMeta } from "../../lib/http/access";
import { created, replayed, requireIdempotencyKey } from "../../lib/http/responses";
import { createdBetween, newestFirst } from "../../lib/sql";
import { defineOrderModels, Order, OrderHistory, OrderLineRow } from "./order.model";
import { orderMigrations } from "./migrations";
import { assertMove, ORDER_STATUSES, type OrderStatus } from "./order-state";
import { orderMetrics } from "../../lib/telemetry/business-metrics";
import { priceLines, type BasketItem, type CatalogProduct } from "./pricing";
import { hasLapsed, onPaymentCompleted, onPaymentFailed, onPaymentRefunded, onStockCommitFailed, payability, type Decision } from "./payment-flow";

type Ctx<P = unknown> = Context<P, ShopMeta>;

const cfg = config();

const idParam = { id: { type: "uuid" } } as const;
const pageParams = {
  ...boundedPage,
  status: { type: "enum", values: ORDER_STATUSES, optional: true },
} as const;

const ORDER_LINKS = {
  GetOrder: { operationId: "orders.get", parameters: { id: "$response.body#/id" } },
  CancelOrder: { operationId: "orders.cancel", parameters: { id: "$response.body#/id" } },
  StartPayment: { operationId: "payments.start", requestBody: { orderId: "$response.body#/id" } },
};

/** The same request, whatever the order of its fields. */
function requestHash(params: Record<string, unknown>): string {
  const canonical = JSON.stringify(Object.keys(params).sort().map((k) => [k, params[k]]));
  return createHash("sha256").update(canonical).digest("hex");
}

/** Plain rows (raw queries, `get({ plain: true })`), not model instances. */
type OrderRow = InferAttributes<Order>;
type OrderLineData = InferAttributes<OrderLineRow>;
type OrderHistoryData = InferAttributes<OrderHistory>;
type PageQuery = { limit?: number; offset?: number; status?: OrderStatus };

/** An order as clients see it (the OpenAPI schemas OrderSummary and Order). */
interface OrderSummary {
  id: string;
  userId: string;
  status: OrderStatus;
  currency: string;
  total: number;
  itemCount: number;
  refundedAmount: number;
  payBy: string | null;
  createdAt: string;
  updatedAt: string;
}
interface OrderDetail extends OrderSummary {
  lines: { productId: number; name: string; unitPrice: number; quantity: number; lineTotal: number }[];
  history: { from: OrderStatus | null; to: OrderStatus; cause: string; at: string }[];
}

/** One entry of an order's history, as insertAtOnce takes it. */
function historyEntry(orderId: string, fromStatus: OrderStatus | null, toStatus: OrderStatus, cause: string, at = new Date()): TableRows {
  return { table: "order_history", rows: [columnsOf(OrderHistory, { orderId, fromStatus, toStatus, cause: cause.slice(0, 200), at })] };
}

/** What a move also does: changes other than the status, the order as already read, the event it announces. */
interface MoveOptions {
  changes?: Record<string, unknown>;
  /** The order as this transaction already read it (the update checks it is still so). */
  read?: OrderRow;
  announce?: (order: OrderRow) => Envelope;
}

/** The service's types (the pattern of services/notifications): `this` is the service with these. */
interface OrdersSettings extends ServiceSettingSchema {
  rest: string;
  /** moleculer-db's (SqlDbMixin). */
  idField: string;
}
interface OrdersMethods {
  replay(ctx: Ctx, order: OrderRow, hash: string): Promise<OrderDetail>;
  ownOrderId(ctx: Ctx, id: string): Promise<string>;
  refuseSecondAwaitingPayment(waiting: OrderRow | undefined): void;
  move(id: string, to: OrderStatus, cause: string, transaction: Transaction, opts?: MoveOptions): Promise<void>;
  follow(event: IntegrationEvent, decide: (order: OrderRow) => Decision, extra?: { paymentId?: string; refundedAmount?: number }): Promise<void>;
  expireLapsedOrders(limit?: number): Promise<string[]>;
  page(where: Record<string, unknown>, params: PageQuery): Promise<{ items: OrderSummary[]; total: number; limit: number; offset: number }>;
  summary(o: OrderRow): OrderSummary;
  view(id: string): Promise<OrderDetail>;
  /** Ids of lines and history entries are not shown: what was just written (no ids read back) will do. */
  detailOf(order: OrderRow, lines: Omit<OrderLineData, "id">[], history: Omit<OrderHistoryData, "id">[]): OrderDetail;
}
/** What created() and the mixins put on the service (and the service reads). */
interface OrdersVars {
  /** SqlDbMixin's connection to the orders database. */
  sequelize: Sequelize;
  /** Read by the Kafka bridge: the outbox it relays and where events that keep failing end. */
  outbox: SqlOutbox;
  deadLetters: SqlDeadLetters;
  /** The Kafka bridge's: wakes the outbox relay after a commit. */
  kickRelay(): void;
  metrics: ReturnType<typeof orderMetrics>;
}
type OrdersThis = Service<OrdersSettings> & OrdersMethods & OrdersVars;

const OrdersService: ServiceSchema<OrdersSettings, OrdersMethods, OrdersVars> = {
  name: "orders",
  // Moleculer starts the last mixin first: the database (and its migrations) before the bridge.
  mixins: [
    SweeperMixin({ method: "expireLapsedOrders", everySeconds: cfg.checkout.sweepIntervalSeconds, what: "Expiring lapsed orders" }),
    // What the order does on each fact is decided in payment-flow.ts; these only carry it out.
    KafkaBridgeMixin({
      handlers: {
        "payment.completed"(this: OrdersThis, event) {
          return this.follow(event, (order: OrderRow) => onPaymentCompleted(order, event.data.paymentId), { paymentId: event.data.paymentId });
        },
        "payment.failed"(this: OrdersThis, event) {
          return this.follow(event, (order: OrderRow) => onPaymentFailed(order, event.data.paymentId, event.data.reason));
        },
        "payment.refunded"(this: OrdersThis, event) {
          return this.follow(event, (order: OrderRow) => onPaymentRefunded(order, event.data), { refundedAmount: event.data.refundedTotal });
        },
        "stock.commit_failed"(this: OrdersThis, event) {
          return this.follow(event, (order: OrderRow) => onStockCommitFailed(order, event.data.reason));
        },
      },
    }),
    SqlDbMixin({ service: "orders", models: defineOrderModels, migrations: [...orderMigrations, ...integrationEventMigrations] }),
  ],

  settings: { rest: "/", idField: "id" },

  actions: {
    checkout: {
      rest: "POST /orders",
      auth: "user",
      summary: "Order the caller's basket (Idempotency-Key header required): 201 pending_payment, stock reserved until payBy; 409 while another order awaits payment",
      params: { $$strict: true, note: text(500, { optional: true }) },
      headers: { "Idempotency-Key": "required" },
      responses: { 201: ref("Order"), replay: true, errors: [409], links: ORDER_LINKS },
      async handler(this: OrdersThis, ctx: Ctx<{ note?: string }>) {
        const userId = ctx.meta.user!.id;
        const key = requireIdempotencyKey(ctx);
        const hash = requestHash(ctx.params);
        // One read: this key's earlier order, and the customer's order awaiting payment if any.
        const known = await selectRows(Order, "(user_id = ? AND idempotency_key = ?) OR awaiting_payment_of = ?", [userId, key, userId]);
        const earlier = known.find((o) => o.userId === userId && o.idempotencyKey === key);
        if (earlier) return this.replay(ctx, earlier, hash);
        this.refuseSecondAwaitingPayment(known.find((o) => o.awaitingPaymentOf === userId));

        // Only the lines' product and quantity are read: prices come from the catalog.
        const basket: { items: BasketItem[] } = await ctx.call("baskets.ofUser", { userId });
        const items = basket.items.map((i) => ({ productId: i.productId, quantity: i.quantity }));
        const catalog: CatalogProduct[] = items.length ? await ctx.call("products.getMany", { ids: items.map((i) => i.productId) }) : [];
        const priced = priceLines(items, catalog);

        // Stock first: a shortage (409, with the failing lines) leaves nothing behind.
        const orderId = randomUUID();
        await ctx.call("products.reserveStock", { orderId, lines: priced.lines.map((l) => ({ productId: l.productId, quantity: l.quantity })) });
        const payBy = new Date(Date.now() + cfg.checkout.reservationTtlSeconds * 1000);
        const now = new Date();
        const placed = {
          order: {
            id: orderId, userId, status: "pending_payment", currency: priced.currency, total: priced.total, itemCount: items.reduce((n, i) => n + i.quantity, 0),
            refundedAmount: 0, payBy, awaitingPaymentOf: userId, idempotencyKey: key, requestHash: hash, createdAt: now, updatedAt: now,
          } satisfies OrderRow,
          lines: priced.lines.map((l) => ({ ...l, orderId })),
          history: [{ orderId, fromStatus: null, toStatus: "pending_payment" as const, cause: "checkout", at: now }],
        };
        try {
          // The order, its lines, its first history entry and order.created, all or none (one statement on PostgreSQL).
          await insertAtOnce(this.sequelize, [
            { table: "orders", rows: [columnsOf(Order, placed.order)] },
            { table: "order_lines", rows: placed.lines.map((l) => columnsOf(OrderLineRow, l)) },
            historyEntry(orderId, null, "pending_payment", "checkout", now),
            outboxRow(envelope("orders", "order.created", orderId, { orderId, userId, total: priced.total, currency: priced.currency, payBy: payBy.toISOString() })),
          ]);
        } catch (err) {
          // Not ordered after all: give the stock back.
          await ctx.call("products.releaseReservation", { orderId }).catch((e: Error) => this.logger.error(`Could not release ${orderId}:`, e.message));
          if (err instanceof UniqueConstraintError) {
            // A concurrent twin with the same key won, or another checkout of this customer did.
            const twin = await Order.findOne({ where: { userId, idempotencyKey: key }, raw: true });
            if (twin) return this.replay(ctx, twin, hash);
            this.refuseSecondAwaitingPayment((await Order.findOne({ where: { awaitingPaymentOf: userId }, raw: true })) ?? undefined);
          }
          throw err;
        }
        this.metrics.created();
        this.kickRelay();
        // Shown from what was just written: no read back.
        return created(ctx, `/api/v1/orders/${orderId}`, this.detailOf(placed.order, placed.lines, placed.history));
      },
    },

    list: {
      rest: "GET /orders",
      auth: "user",
      summary: "The caller's orders, newest first",
      params: pageParams,
      responses: { 200: page("OrderSummary") },
      handler(this: OrdersThis, ctx: Ctx<{ limit?: number; offset?: number; status?: OrderStatus }>) {
        return this.page({ userId: ctx.meta.user!.id }, ctx.params);
      },
    },

    get: {
      rest: "GET /orders/:id",
      auth: "user",
      summary: "One of the caller's orders, with its lines and history",
      params: idParam,
      responses: { 200: ref("Order"), errors: [404] },
      async handler(this: OrdersThis, ctx: Ctx<{ id: string }>) {
        return this.view(await this.ownOrderId(ctx, ctx.params.id));
      },
    },

    cancel: {
      rest: "POST /orders/:id/cancel",
      auth: "user",
      summary: "Cancel one of the caller's orders before it is paid; its stock is released",
      params: idParam,
      responses: { 200: ref("Order"), errors: [404, 409] },
      async handler(this: OrdersThis, ctx: Ctx<{ id: string }>) {
        const id = await this.ownOrderId(ctx, ctx.params.id);
        await inTransaction(this.sequelize, async (transaction) => {
          await this.move(id, "cancelled", "cancelled by the customer", transaction, {
            announce: (order) => envelope("orders", "order.cancelled", id, { orderId: id, userId: order.userId }),
          });
        });
        this.metrics.moved({ status: "cancelled" });
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
        userId: text(64, { optional: true }),
        from: queryDateTime({ optional: true }),
        to: queryDateTime({ optional: true }),
      },
      responses: { 200: page("OrderSummary") },
      handler(this: OrdersThis, ctx: Ctx<{ limit?: number; offset?: number; status?: OrderStatus; userId?: string; from?: Date; to?: Date }>) {
        const where: { userId?: string; createdAt?: WhereOperators } = {};
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
      responses: { 200: ref("Order"), errors: [404] },
      async handler(this: OrdersThis, ctx: Ctx<{ id: string }>) {
        if (!(await Order.findByPk(ctx.params.id, { attributes: ["id"], raw: true }))) throw notFound("order", { id: ctx.params.id });
        return this.view(ctx.params.id);
      },
    },

    fulfill: {
      rest: "POST /admin/orders/:id/fulfill",
      auth: "admin",
      summary: "Mark a paid order as shipped",
      params: idParam,
      responses: { 200: ref("Order"), errors: [404, 409] },
      async handler(this: OrdersThis, ctx: Ctx<{ id: string }>) {
        await inTransaction(this.sequelize, (t) => this.move(ctx.params.id, "fulfilled", `fulfilled by ${ctx.meta.user?.id ?? "an admin"}`, t));
        this.metrics.moved({ status: "fulfilled" });
        return this.view(ctx.params.id);
      },
    },

    /**
     * The amount to charge for one of a user's orders, if it may be charged now (payments asks
     * before creating a payment and again before every provider call; never a client-sent amount).
     */
    forPayment: {
      idempotent: true,
      params: { orderId: { type: "uuid" }, userId: { type: "string", max: 64 } },
      async handler(ctx: Ctx<{ orderId: string; userId: string }>) {
        const [order] = await selectRows(Order, "id = ? AND user_id = ?", [ctx.params.orderId, ctx.params.userId]);
        if (!order) throw notFound("order", { id: ctx.params.orderId });
        const verdict = payability(order, new Date());
        if (!verdict.payable) {
          throw new DomainError(409, verdict.type, verdict.message, { orderId: order.id, status: order.status, payBy: order.payBy && new Date(order.payBy).toISOString() });
        }
        return { id: order.id, userId: order.userId, status: order.status, total: Number(order.total), currency: order.currency, payBy: order.payBy && new Date(order.payBy).toISOString() };
      },
    },
  },

  methods: {
    async replay(this: OrdersThis, ctx: Ctx, order: OrderRow, hash: string): Promise<OrderDetail> {
      if (order.requestHash !== hash) {
        // The key's first request is what stands in the way: a conflict, like a key still in use.
        throw new DomainError(409, "IDEMPOTENCY_KEY_REUSED", "This Idempotency-Key was used with a different request", { orderId: order.id });
      }
      return replayed(ctx, await this.view(order.id));
    },

    /** The order if it is the caller's; someone else's reads as not found (no probing). */
    async ownOrderId(ctx: Ctx, id: string): Promise<string> {
      const order = await Order.findOne({ where: { id, userId: ctx.meta.user!.id }, attributes: ["id"], raw: true });
      if (!order) throw notFound("order", { id });
      return order.id;
    },

    /** One order awaiting payment per customer: a second checkout is a 409 that names the first. */
    refuseSecondAwaitingPayment(this: OrdersThis, waiting: OrderRow | undefined): void {
      if (waiting) throw new DomainError(409, "ORDER_AWAITING_PAYMENT", "Another order of yours awaits payment: pay or cancel it first", { order: this.summary(waiting) });
    },

    /** Moves an order, if the state machine allows it, from the status it has now. */
    async move(this: OrdersThis, id: string, to: OrderStatus, cause: string, transaction: Transaction, opts: MoveOptions = {}): Promise<void> {
      const order = opts.read ?? (await selectRows(Order, "id = ?", [id], transaction))[0];
      if (!order) throw notFound("order", { id });
      assertMove(order.status, to);
      const moved = await updateRows(
        Order,
        { status: to, ...(order.status === "pending_payment" && { awaitingPaymentOf: null }), ...opts.changes },
        "id = ? AND status = ?",
        [id, order.status],
        transaction,
      );
      if (moved === 0) throw new DomainError(409, "CONCURRENT_CHANGE", "The order changed meanwhile; try again", { id });
      // The history entry and the event it announces: one statement on PostgreSQL.
      const history = historyEntry(id, order.status, to, cause);
      await insertAtOnce(this.sequelize, opts.announce ? [history, outboxRow(opts.announce(order))] : [history], transaction);
    },

    /**
     * Carries out, once per event, what payment-flow.ts decides the order does on a fact from
     * another context. `extra.refundedAmount` follows a refund whatever the status.
     */
    async follow(this: OrdersThis, event: IntegrationEvent, decide: (order: OrderRow) => Decision, extra: { paymentId?: string; refundedAmount?: number } = {}): Promise<void> {
      const orderId = String((event.data as { orderId: string }).orderId);
      let decision: Decision | undefined;
      const applied = await processOnce(this.sequelize, "orders", event.id, async (transaction) => {
        const [order] = await selectRows(Order, "id = ?", [orderId], transaction);
        if (!order) throw new Error(`order ${orderId} of ${event.type} ${event.id} is unknown`);
        decision = decide(order);
        const changes = extra.refundedAmount === undefined ? {} : { refundedAmount: extra.refundedAmount };
        // A fact that leaves the status as it is: a history entry (and the event it announces).
        const note = (cause: string, announce?: Envelope) =>
          insertAtOnce(this.sequelize, [historyEntry(orderId, order.status, order.status, cause), ...(announce ? [outboxRow(announce)] : [])], transaction);
        switch (decision.kind) {
          case "move":
            await this.move(orderId, decision.to, decision.cause, transaction, {
              changes,
              read: order,
              announce:
                decision.to === "paid"
                  ? () => envelope("orders", "order.paid", orderId, { orderId, userId: order.userId, paymentId: extra.paymentId!, amount: Number(order.total), currency: order.currency })
                  : undefined,
            });
            break;
          case "refund":
            await note(decision.cause, envelope("orders", "order.refund_requested", orderId, { orderId, userId: order.userId, reason: decision.reason }));
            break;
          case "record":
            await note(decision.cause);
            if (extra.refundedAmount !== undefined) await Order.update(changes, { where: { id: orderId }, transaction });
            break;
          case "ignore":
            break;
        }
      });
      if (decision?.kind === "ignore") this.logger.info(`Order ${orderId}: ignoring ${event.type} (${event.id}): ${decision.why}`);
      else if (decision) this.kickRelay();
      if (applied === "applied" && decision?.kind === "move") this.metrics.moved({ status: decision.to });
    },

    /** Expires the orders nobody paid in time (payBy plus the grace for payments in flight); their stock goes back. */
    async expireLapsedOrders(this: OrdersThis, limit = 100): Promise<string[]> {
      const now = new Date();
      const graceMs = cfg.checkout.paymentGraceSeconds * 1000;
      const due = await Order.findAll({
        where: { status: "pending_payment", payBy: { [Op.lt]: new Date(now.getTime() - graceMs) } },
        attributes: ["id", "userId", "status", "payBy"],
        order: [["payBy", "ASC"]],
        limit,
        raw: true,
      });
      const expired: string[] = [];
      for (const order of due.filter((o) => hasLapsed(o, now, graceMs))) {
        try {
          await inTransaction(this.sequelize, async (transaction) => {
            await this.move(order.id, "expired", "not paid in time: the reservation lapsed", transaction, {
              announce: () => envelope("orders", "order.expired", order.id, { orderId: order.id, userId: order.userId }),
            });
          });
          expired.push(order.id);
          this.metrics.moved({ status: "expired" });
        } catch (err) {
          // Paid, cancelled or expired by another node meanwhile: nothing left to do.
          if (!(err instanceof DomainError)) throw err;
        }
      }
      if (expired.length) {
        this.logger.info(`Expired ${expired.length} unpaid order(s): ${expired.join(", ")}`);
        this.kickRelay();
      }
      return expired;
    },

    page(this: OrdersThis, where: Record<string, unknown>, params: PageQuery) {
      return newestFirst(Order, { ...where, ...(params.status && { status: params.status }) }, params, (o: OrderRow) => this.summary(o));
    },

    summary(o: OrderRow): OrderSummary {
      return {
        id: o.id,
        userId: o.userId,
        status: o.status,
        currency: o.currency,
        total: Number(o.total),
        itemCount: Number(o.itemCount),
        refundedAmount: Number(o.refundedAmount),
        payBy: o.payBy ? new Date(o.payBy).toISOString() : null,
        createdAt: new Date(o.createdAt).toISOString(),
        updatedAt: new Date(o.updatedAt).toISOString(),
      };
    },

    async view(this: OrdersThis, id: string): Promise<OrderDetail> {
      const [order, lines, history] = await Promise.all([
        Order.findByPk(id, { raw: true }),
        OrderLineRow.findAll({ where: { orderId: id }, order: [["id", "ASC"]], raw: true }),
        OrderHistory.findAll({ where: { orderId: id }, order: [["id", "ASC"]], raw: true }),
      ]);
      // Called for orders known to exist.
      return this.detailOf(order!, lines, history);
    },

    /** An order with its lines and history, as clients see it. */
    detailOf(this: OrdersThis, order: OrderRow, lines: Omit<OrderLineData, "id">[], history: Omit<OrderHistoryData, "id">[]): OrderDetail {
      return {
        ...this.summary(order),
        lines: lines.map(({ productId, name, unitPrice, quantity, lineTotal }) => ({ productId, name, unitPrice: Number(unitPrice), quantity, lineTotal: Number(lineTotal) })),
        history: history.map((h) => ({ from: h.fromStatus, to: h.toStatus, cause: h.cause, at: new Date(h.at).toISOString() })),
      };
    },
  } satisfies OrdersMethods,

  created(this: OrdersThis) {
    this.metrics = orderMetrics(this.broker);
    this.outbox = new SqlOutbox(this.sequelize);
    this.deadLetters = new SqlDeadLetters(this.sequelize);
  },
};

export default OrdersService;
