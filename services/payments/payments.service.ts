/**
 * Payments for orders, through a provider port (simulated or Stripe). One payment per order, one
 * charge per payment: every status change is a conditional update from the states the machine
 * allows, so a client's confirmation and a webhook that race end in one outcome, and the outcome
 * goes out as an integration event from the same transaction.
 */
import { randomUUID } from "node:crypto";
import type { Context, Service, ServiceSchema, ServiceSettingSchema } from "moleculer";
import { Op, UniqueConstraintError, fn, col, literal, type InferAttributes, type Sequelize, type Transaction, type WhereOptions } from "sequelize";
import { SqlDbMixin } from "../../mixins/sql-db.mixin";
import { KafkaBridgeMixin } from "../../mixins/kafka-bridge.mixin";
import { SweeperMixin } from "../../mixins/sweeper.mixin";
import { config } from "../../lib/config";
import { createdBetween, inTransaction, newestFirst } from "../../lib/sql";
import { placeholders, selectRows, updateRows } from "../../lib/sql-statements";
import { DomainError, notFound } from "../../lib/errors";
import { envelope } from "../../lib/events/envelope";
import { addToOutbox, integrationEventMigrations, SqlDeadLetters, SqlOutbox } from "../../lib/events/stores";
import type { ShopMeta } from "../../lib/http/access";
import { created, noContent, replayed, requireIdempotencyKey } from "../../lib/http/responses";
import { definePaymentModels, Payment, PaymentMethod, Refund, type RefundRecord } from "./payment.model";
import { paymentMigrations } from "./migrations";
import { CLOSED, PAYMENT_STATUSES, REFUNDABLE, sourcesOf, type PaymentStatus } from "./payment-state";
import { MAX_ID, pageParams, queryDateTime, text } from "../../lib/params";
import { arrayOf, page, ref } from "../../lib/http/schemas";
import { SimulatedProvider, StripeProvider, verifyStripeWebhook, type PaymentProvider } from "./providers";
import { paymentMetrics } from "../../lib/telemetry/business-metrics";

type Ctx<P = unknown> = Context<P, ShopMeta>;

const cfg = config();
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const idParam = { id: { type: "uuid" } } as const;
const listParams = {
  ...pageParams,
  status: { type: "enum", values: PAYMENT_STATUSES, optional: true },
  from: queryDateTime({ optional: true }),
  to: queryDateTime({ optional: true }),
} as const;
const PAYMENT_LINKS = {
  GetPayment: { operationId: "payments.get", parameters: { id: "$response.body#/id" } },
  ProcessPayment: { operationId: "payments.process", parameters: { id: "$response.body#/id" } },
  CancelPayment: { operationId: "payments.cancel", parameters: { id: "$response.body#/id" } },
};
const METHOD_LINKS = {
  MakeDefaultMethod: { operationId: "payments.makeDefaultMethod", parameters: { id: "$response.body#/id" } },
  RemoveMethod: { operationId: "payments.removeMethod", parameters: { id: "$response.body#/id" } },
};
const PAID: PaymentStatus[] = ["completed", "partially_refunded", "refunded"];
type ListParams = { limit?: number; offset?: number; status?: PaymentStatus; from?: Date; to?: Date };

/** What orders.forPayment answers: the order as the payment needs it. */
interface PayableOrder {
  id: string;
  userId: string;
  status: string;
  total: number;
  currency: string;
  payBy: string | null;
}
/** A payments row as read (`raw: true`), not a model instance. */
type PaymentRow = InferAttributes<Payment>;

/** A condition on payments, in SQL with its `?` parameters. */
type Condition = [sql: string, params: readonly unknown[]];
const statusIn = (statuses: readonly PaymentStatus[]): Condition => [`status IN (${placeholders(statuses)})`, statuses];
type MethodRow = InferAttributes<PaymentMethod>;
/** A payment as clients see it (the Payment and PaymentDetail schemas). */
interface PaymentView {
  id: string;
  orderId: string;
  userId: string;
  amount: number;
  currency: string;
  status: PaymentStatus;
  provider: string;
  paymentMethod: string | null;
  failureReason: string | null;
  requiresAction: { type: string } | null;
  refundedAmount: number;
  createdAt: string;
  updatedAt: string;
}
interface PaymentDetail extends PaymentView {
  refunds: { id: number; amount: number; status: RefundRecord["status"]; reason: string; createdAt: string }[];
}
/** A saved card as clients see it (the PaymentMethod schema). */
interface MethodView {
  id: string;
  brand: string;
  last4: string;
  expMonth: number;
  expYear: number;
  isDefault: boolean;
  token: string;
  createdAt: string;
}
/** The part of a Stripe charge that syncRefunds reads (charge.refunded webhooks). */
interface ChargeRefunds {
  refunds?: { data?: { id: string; amount: number; status?: string | null; reason?: string | null; metadata?: Record<string, string> | null }[] } | null;
}

/** The service's types (the pattern of services/notifications): `this` is the service with these. */
interface PaymentsSettings extends ServiceSettingSchema {
  rest: string;
  /** moleculer-db's (SqlDbMixin). */
  idField: string;
}
interface PaymentsMethods {
  replay(ctx: Ctx, payment: PaymentRow): Promise<PaymentView>;
  own(ctx: Ctx, id: string): Promise<PaymentRow>;
  confirmClaimed(payment: PaymentRow, paymentMethod: string): Promise<PaymentRow>;
  takeOverStaleClaim(payment: PaymentRow): Promise<boolean>;
  resumeStaleClaims(): Promise<void>;
  createIntent(payment: PaymentRow): Promise<string>;
  settle(payment: PaymentRow, to: "completed" | "failed" | "cancelled", cause: string, reason?: string, providerRef?: string): Promise<boolean>;
  closeForOrder(orderId: string, reason: string): Promise<void>;
  refundForOrder(orderId: string, reason: string): Promise<void>;
  refund(paymentId: string, amount: number | undefined, reason: string, requestKey: string): Promise<RefundRecord & { replayed: boolean }>;
  assertRefundable(payment: PaymentRow): void;
  claimRefund(paymentId: string, amount: number | undefined, reason: string, requestKey: string): Promise<RefundRecord & { replayed: boolean }>;
  failRefund(claim: RefundRecord): Promise<void>;
  completeRefund(claim: RefundRecord, providerRef: string): Promise<void>;
  syncRefunds(paymentId: string, charge: ChargeRefunds): Promise<void>;
  page(where: Record<string, unknown>, params: ListParams): Promise<{ items: PaymentView[]; total: number; limit: number; offset: number }>;
  view(p: PaymentRow): PaymentView;
  detailedView(p: PaymentRow): Promise<PaymentDetail>;
  methodView(m: MethodRow): MethodView;
}
/** What created() and the mixins put on the service (and the service reads). */
interface PaymentsVars {
  /** SqlDbMixin's connection to the payments database. */
  sequelize: Sequelize;
  provider: PaymentProvider;
  metrics: ReturnType<typeof paymentMetrics>;
  /** Read by the Kafka bridge: the outbox it relays and where events that keep failing end. */
  outbox: SqlOutbox;
  deadLetters: SqlDeadLetters;
  /** The Kafka bridge's: wakes the outbox relay after a commit. */
  kickRelay(): void;
}
type PaymentsThis = Service<PaymentsSettings> & PaymentsMethods & PaymentsVars;

const PaymentsService: ServiceSchema<PaymentsSettings, PaymentsMethods, PaymentsVars> = {
  name: "payments",
  // Moleculer starts the last mixin first: the database (and its migrations) before the bridge.
  mixins: [
    // The order side decides (services/orders/payment-flow.ts); payments cancels and refunds as told.
    KafkaBridgeMixin({
      handlers: {
        "order.cancelled"(this: PaymentsThis, event) {
          return this.closeForOrder(event.data.orderId, "cancelled");
        },
        "order.expired"(this: PaymentsThis, event) {
          return this.closeForOrder(event.data.orderId, "expired");
        },
        "order.refund_requested"(this: PaymentsThis, event) {
          return this.refundForOrder(event.data.orderId, event.data.reason);
        },
      },
    }),
    SweeperMixin({ method: "resumeStaleClaims", everySeconds: cfg.checkout.sweepIntervalSeconds, what: "Resuming abandoned confirmations" }),
    SqlDbMixin({ service: "payments", models: definePaymentModels, migrations: [...paymentMigrations, ...integrationEventMigrations] }),
  ],

  settings: { rest: "/", idField: "id" },

  actions: {
    start: {
      rest: "POST /payments",
      auth: "user",
      summary: "Create the payment of one of the caller's orders (Idempotency-Key header required); the amount is the order's",
      params: { $$strict: true, orderId: { type: "uuid" } },
      headers: { "Idempotency-Key": "required" },
      responses: { 201: ref("Payment"), replay: true, errors: [404, 409], links: PAYMENT_LINKS },
      async handler(ctx: Ctx<{ orderId: string }>) {
        const userId = ctx.meta.user!.id;
        const key = requireIdempotencyKey(ctx);
        const [earlier] = await selectRows(Payment, "user_id = ? AND idempotency_key = ?", [userId, key]);
        if (earlier) return this.replay(ctx, earlier);
        const order: PayableOrder = await ctx.call("orders.forPayment", { orderId: ctx.params.orderId, userId });
        if (order.status !== "pending_payment") throw new DomainError(409, "ORDER_NOT_PAYABLE", `The order is ${order.status}`, { orderId: order.id, status: order.status });
        try {
          const payment = await Payment.create({
            id: randomUUID(), orderId: order.id, userId, amount: order.total, currency: order.currency, status: "pending", provider: this.provider.name, idempotencyKey: key,
          });
          return created(ctx, `/api/v1/payments/${payment.id}`, this.view(payment.get({ plain: true })));
        } catch (err) {
          if (!(err instanceof UniqueConstraintError)) throw err;
          // The same key at the same time: the first request's payment. Another key: the order has one.
          const twin = await Payment.findOne({ where: { userId, idempotencyKey: key }, raw: true });
          if (twin) return this.replay(ctx, twin);
          const existing = await Payment.findOne({ where: { orderId: order.id }, attributes: ["id"], raw: true });
          throw new DomainError(409, "PAYMENT_EXISTS", "The order already has a payment", { paymentId: existing?.id });
        }
      },
    },

    process: {
      rest: "POST /payments/:id/process",
      auth: "user",
      summary: "Confirm one of the caller's payments with a payment method; a completed payment is never charged again",
      params: { $$strict: true, ...idParam, paymentMethod: { type: "string", min: 4, max: 255, pattern: /^pm_[A-Za-z0-9_]+$/ } },
      responses: { 200: ref("PaymentDetail"), errors: [404, 409] },
      async handler(ctx: Ctx<{ id: string; paymentMethod: string }>) {
        const payment = await this.own(ctx, ctx.params.id);
        if (PAID.includes(payment.status)) return this.detailedView(payment);
        // Before any provider call: an order that lapsed or closed is not charged (409 from orders).
        if (payment.status === "pending") await ctx.call("orders.forPayment", { orderId: payment.orderId, userId: payment.userId });
        // Claim it: of concurrent confirmations exactly one moves pending → processing and charges.
        const [among, sources] = statusIn(sourcesOf("processing"));
        const claimed = await updateRows(
          Payment,
          { status: "processing", paymentMethod: ctx.params.paymentMethod, failureReason: null, nextAction: null },
          `id = ? AND ${among}`,
          [payment.id, ...sources],
        );
        if (claimed === 0) {
          const now = (await Payment.findByPk(payment.id, { raw: true }))!;
          if (PAID.includes(now.status)) return this.detailedView(now);
          // A claim whose node died mid-charge: this request takes it over and finishes that charge (a claim always has its method).
          if (now.status === "processing" && (await this.takeOverStaleClaim(now))) return this.detailedView(await this.confirmClaimed(now, now.paymentMethod!));
          throw new DomainError(409, now.status === "processing" ? "PAYMENT_IN_PROGRESS" : "ILLEGAL_TRANSITION", `The payment is ${now.status}`, { status: now.status });
        }
        // It was not paid when this request began, so nothing of it can have been refunded.
        return { ...this.view(await this.confirmClaimed(payment, ctx.params.paymentMethod)), refunds: [] };
      },
    },

    cancel: {
      rest: "POST /payments/:id/cancel",
      auth: "user",
      summary: "Cancel one of the caller's payments before it completes",
      params: idParam,
      responses: { 200: ref("PaymentDetail"), errors: [404, 409] },
      async handler(ctx: Ctx<{ id: string }>) {
        const payment = await this.own(ctx, ctx.params.id);
        if (payment.status === "processing" && !payment.nextAction) {
          throw new DomainError(409, "PAYMENT_IN_PROGRESS", "The payment is being charged; look again in a moment", { status: payment.status });
        }
        if (payment.providerRef && ["pending", "processing"].includes(payment.status)) {
          await this.provider.cancel(payment.providerRef, `payment:${payment.id}:cancel`).catch((e: Error) => this.logger.warn(`Provider cancel of ${payment.id}:`, e.message));
        }
        if (!(await this.settle(payment, "cancelled", "cancelled by the customer", "cancelled"))) {
          const now = (await Payment.findByPk(payment.id, { raw: true }))!;
          throw new DomainError(409, "ILLEGAL_TRANSITION", `A ${now.status} payment cannot be cancelled`, { status: now.status });
        }
        return this.detailedView((await Payment.findByPk(payment.id, { raw: true }))!);
      },
    },

    refund: {
      rest: "POST /payments/:id/refund",
      auth: "admin",
      summary: "Refund all or part of a completed payment (optional Idempotency-Key); refunds add up and never exceed the amount",
      params: {
        $$strict: true,
        ...idParam,
        amount: { type: "number", integer: true, min: 1, max: MAX_ID, optional: true, convert: false },
        reason: text(500, { min: 1 }),
      },
      headers: { "Idempotency-Key": "optional" },
      responses: { 200: ref("PaymentDetail"), errors: [404, 409] },
      async handler(ctx: Ctx<{ id: string; amount?: number; reason: string }>) {
        // A client key makes a retried refund a replay; without one every request is a new refund.
        const key = ctx.meta.idempotencyKey ? `api:${ctx.meta.user!.id}:${requireIdempotencyKey(ctx)}` : `api:${randomUUID()}`;
        const refund = await this.refund(ctx.params.id, ctx.params.amount, ctx.params.reason, key);
        if (refund.replayed && ctx.params.amount !== undefined && refund.amount !== ctx.params.amount) {
          throw new DomainError(409, "IDEMPOTENCY_KEY_REUSED", "This Idempotency-Key was used with a different request", { refundId: refund.id });
        }
        return this.detailedView((await Payment.findByPk(ctx.params.id, { raw: true }))!);
      },
    },

    list: {
      rest: "GET /payments",
      auth: "user",
      summary: "The caller's payments, newest first; filters by status and creation date",
      params: listParams,
      responses: { 200: page("Payment") },
      handler(ctx: Ctx<ListParams>) {
        return this.page({ userId: ctx.meta.user!.id }, ctx.params);
      },
    },

    get: {
      rest: "GET /payments/:id",
      auth: "user",
      summary: "One of the caller's payments",
      params: idParam,
      responses: { 200: ref("PaymentDetail"), errors: [404] },
      async handler(ctx: Ctx<{ id: string }>) {
        return this.detailedView(await this.own(ctx, ctx.params.id));
      },
    },

    adminList: {
      rest: "GET /admin/payments",
      auth: "admin",
      summary: "All payments; filters by status and creation date",
      params: listParams,
      responses: { 200: page("Payment") },
      handler(ctx: Ctx<ListParams>) {
        return this.page({}, ctx.params);
      },
    },

    adminOfUser: {
      rest: "GET /admin/users/:userId/payments",
      auth: "admin",
      summary: "One user's payments (404 once the account is deleted; GET /admin/payments keeps them all)",
      params: { ...listParams, userId: text(64, { min: 1 }) },
      responses: { 200: page("Payment"), errors: [404] },
      async handler(ctx: Ctx<ListParams & { userId: string }>) {
        // A sub-collection of the account: gone (or never there) with it, like GET /admin/users/:id.
        if (!(await ctx.call("users.accessState", { id: ctx.params.userId }))) throw notFound("user", { id: ctx.params.userId });
        return this.page({ userId: ctx.params.userId }, ctx.params);
      },
    },

    stats: {
      rest: "GET /admin/payments/stats",
      auth: "admin",
      summary: "Counts by status, success rate, revenue and refunds (per currency)",
      responses: { 200: ref("PaymentStats") },
      async handler() {
        const rows = (await Payment.findAll({
          attributes: ["status", "currency", [fn("COUNT", col("id")), "count"], [fn("SUM", col("amount")), "amount"], [fn("SUM", col("refunded_amount")), "refunded"]],
          group: ["status", "currency"],
          raw: true,
        })) as unknown as { status: PaymentStatus; currency: string; count: unknown; amount: unknown; refunded: unknown }[];
        const byStatus = Object.fromEntries(PAYMENT_STATUSES.map((s) => [s, 0])) as Record<PaymentStatus, number>;
        const revenue: Record<string, number> = {};
        const refunded: Record<string, number> = {};
        for (const r of rows) {
          byStatus[r.status] += Number(r.count);
          if (PAID.includes(r.status)) {
            revenue[r.currency] = (revenue[r.currency] ?? 0) + Number(r.amount) - Number(r.refunded);
            refunded[r.currency] = (refunded[r.currency] ?? 0) + Number(r.refunded);
          }
        }
        const succeeded = PAID.reduce((n, s) => n + byStatus[s], 0);
        const decided = succeeded + byStatus.failed;
        return { count: byStatus, successRate: decided ? Math.round((succeeded / decided) * 10_000) / 10_000 : null, revenue, refunded };
      },
    },

    adminGet: {
      rest: "GET /admin/payments/:id",
      auth: "admin",
      summary: "Any payment, with its refunds",
      params: idParam,
      responses: { 200: ref("PaymentDetail"), errors: [404] },
      async handler(ctx: Ctx<{ id: string }>) {
        const payment = await Payment.findByPk(ctx.params.id, { raw: true });
        if (!payment) throw notFound("payment", { id: ctx.params.id });
        return this.detailedView(payment);
      },
    },

    // ---- saved payment methods --------------------------------------------------------------

    listMethods: {
      rest: "GET /payment-methods",
      auth: "user",
      summary: "The caller's saved payment methods",
      responses: { 200: arrayOf("PaymentMethod") },
      async handler(ctx: Ctx) {
        const rows = await PaymentMethod.findAll({ where: { userId: ctx.meta.user!.id }, order: [["createdAt", "ASC"], ["id", "ASC"]], raw: true });
        return rows.map(this.methodView);
      },
    },

    addMethod: {
      rest: "POST /payment-methods",
      auth: "user",
      summary: "Save a provider payment-method token (pm_...); card numbers are refused",
      params: { $$strict: true, token: { type: "string", min: 4, max: 255, pattern: /^pm_[A-Za-z0-9_]+$/ }, makeDefault: { type: "boolean", optional: true } },
      responses: { 201: ref("PaymentMethod"), errors: [404], links: METHOD_LINKS },
      async handler(ctx: Ctx<{ token: string; makeDefault?: boolean }>) {
        let card;
        try {
          card = await this.provider.describeMethod(ctx.params.token);
        } catch (err: any) {
          // Well-formed, but naming nothing the provider has: like an unknown order id, a 404.
          if (err?.unknownMethod || err?.type === "StripeInvalidRequestError") throw new DomainError(404, "UNKNOWN_PAYMENT_METHOD", "The provider does not know this payment method", { token: ctx.params.token });
          throw err;
        }
        const userId = ctx.meta.user!.id;
        const id = randomUUID();
        await inTransaction(this.sequelize, async (transaction) => {
          const first = (await PaymentMethod.count({ where: { userId }, transaction })) === 0;
          if (ctx.params.makeDefault && !first) await PaymentMethod.update({ isDefault: false }, { where: { userId }, transaction });
          await PaymentMethod.create({ id, userId, providerToken: ctx.params.token, ...card, isDefault: first || !!ctx.params.makeDefault }, { transaction });
        });
        return created(ctx, `/api/v1/payment-methods/${id}`, this.methodView((await PaymentMethod.findByPk(id, { raw: true }))!));
      },
    },

    removeMethod: {
      rest: "DELETE /payment-methods/:id",
      auth: "user",
      summary: "Forget one of the caller's payment methods",
      params: idParam,
      responses: { 204: true, errors: [404] },
      async handler(ctx: Ctx<{ id: string }>) {
        const removed = await PaymentMethod.destroy({ where: { id: ctx.params.id, userId: ctx.meta.user!.id } });
        if (removed === 0) throw notFound("payment method", { id: ctx.params.id });
        return noContent(ctx);
      },
    },

    makeDefaultMethod: {
      rest: "POST /payment-methods/:id/default",
      auth: "user",
      summary: "Make one of the caller's payment methods the default",
      params: idParam,
      responses: { 200: ref("PaymentMethod"), errors: [404] },
      async handler(ctx: Ctx<{ id: string }>) {
        const userId = ctx.meta.user!.id;
        await inTransaction(this.sequelize, async (transaction) => {
          if (!(await PaymentMethod.findOne({ where: { id: ctx.params.id, userId }, transaction, raw: true }))) throw notFound("payment method", { id: ctx.params.id });
          await PaymentMethod.update({ isDefault: false }, { where: { userId }, transaction });
          await PaymentMethod.update({ isDefault: true }, { where: { id: ctx.params.id }, transaction });
        });
        return this.methodView((await PaymentMethod.findByPk(ctx.params.id, { raw: true }))!);
      },
    },

    // ---- Stripe webhooks --------------------------------------------------------------------

    stripeWebhook: {
      auth: "public",
      summary: "Stripe webhook (signed with STRIPE_WEBHOOK_SECRET): payment_intent.succeeded, payment_intent.payment_failed, charge.refunded",
      headers: { "Stripe-Signature": "required" },
      responses: { 200: ref("WebhookReceipt"), errors: [400, 404] },
      async handler(ctx: Ctx) {
        const signature = ctx.meta.stripeSignature as string | undefined;
        const payload = ctx.meta.rawBody as string | undefined;
        if (!signature || payload === undefined) throw new DomainError(400, "INVALID_SIGNATURE", "Missing Stripe-Signature or body");
        // Without a signing secret the shop takes no webhooks at all.
        const secret = cfg.stripe.webhookSecret;
        if (!secret) throw new DomainError(404, "NOT_FOUND", "Not found");
        let event;
        try {
          event = verifyStripeWebhook(payload, signature, secret);
        } catch (err: any) {
          throw new DomainError(400, "INVALID_SIGNATURE", `Webhook signature refused: ${err?.message ?? "invalid"}`);
        }
        // Signed is not well-formed: without a type and a data.object there is nothing to apply.
        const signedObject: unknown = (event as any)?.data?.object;
        if (typeof event?.type !== "string" || !signedObject || typeof signedObject !== "object") {
          throw new DomainError(400, "INVALID_EVENT", "Webhook event without type or data.object");
        }
        // Every effect below is idempotent (conditional transitions; refunds unique by provider id),
        // so Stripe's redeliveries and a racing client confirmation end in one outcome.
        const object: any = event.data.object;
        const ref = event.type === "charge.refunded" ? object.payment_intent : object.id;
        // By the intent's id, or (for an intent whose id is not stored yet) by the payment id it carries.
        const metadataId = event.type === "charge.refunded" ? undefined : object.metadata?.paymentId;
        const payment =
          (ref ? await Payment.findOne({ where: { providerRef: ref }, raw: true }) : null) ??
          (typeof metadataId === "string" && UUID.test(metadataId) ? await Payment.findOne({ where: { id: metadataId, providerRef: null }, raw: true }) : null);
        if (!payment) {
          this.logger.warn(`Stripe ${event.type} ${event.id} for unknown intent ${ref}`);
          return { received: true };
        }
        if (event.type === "payment_intent.succeeded") await this.settle(payment, "completed", `stripe ${event.id}`, undefined, ref);
        else if (event.type === "payment_intent.payment_failed") await this.settle(payment, "failed", `stripe ${event.id}`, object.last_payment_error?.code ?? "declined", ref);
        else if (event.type === "charge.refunded") await this.syncRefunds(payment.id, object);
        return { received: true };
      },
    },
  },

  methods: {
    async replay(ctx: Ctx, payment: PaymentRow): Promise<PaymentView> {
      if (payment.orderId !== (ctx.params as { orderId?: string }).orderId) {
        throw new DomainError(409, "IDEMPOTENCY_KEY_REUSED", "This Idempotency-Key was used with a different request", { paymentId: payment.id });
      }
      return replayed(ctx, this.view(payment));
    },

    /** The payment if it is the caller's; someone else's reads as not found. */
    async own(ctx: Ctx, id: string): Promise<PaymentRow> {
      const [payment] = await selectRows(Payment, "id = ? AND user_id = ?", [id, ctx.meta.user!.id]);
      if (!payment) throw notFound("payment", { id });
      return payment;
    },

    /** The provider's intent for this payment (the same one on every call: one idempotency key per payment). */
    /**
     * Charges a payment this node has claimed (status processing) and records the outcome. The
     * provider calls carry keys made of the payment and its method, so finishing a claim that a dead
     * node left half done asks the provider the same question again and gets the same answer: the
     * same intent, and the same charge rather than a second one.
     */
    async confirmClaimed(payment: PaymentRow, paymentMethod: string): Promise<PaymentRow> {
      let outcome;
      // The intent's id is stored with the outcome (one write): asking again with the same
      // idempotency key gives the same intent, and webhooks also find the payment by its metadata.
      let providerRef: string | undefined = payment.providerRef ?? undefined;
      try {
        providerRef ??= await this.createIntent(payment);
        outcome = await this.provider.confirm(providerRef, paymentMethod, `payment:${payment.id}:confirm:${paymentMethod}`);
      } catch (err: any) {
        // The provider could not be reached: back to pending, so the customer can try again.
        await Payment.update({ status: "pending", providerRef }, { where: { id: payment.id, status: "processing" } });
        this.logger.error(`Payment ${payment.id}: provider unavailable:`, err?.message ?? err);
        throw new DomainError(409, "PROVIDER_UNAVAILABLE", "The payment provider could not be reached; try again", { paymentId: payment.id });
      }
      if (outcome.status === "succeeded") await this.settle(payment, "completed", "client confirmation", undefined, providerRef);
      else if (outcome.status === "failed") await this.settle(payment, "failed", "client confirmation", outcome.reason, providerRef);
      else {
        await Payment.update({ nextAction: outcome.reason, providerRef }, { where: { id: payment.id, status: "processing" } });
        this.metrics.outcome({ provider: payment.provider, outcome: "requires_action" });
      }
      return (await selectRows(Payment, "id = ?", [payment.id]))[0];
    },

    /**
     * Claims a confirmation that has been in flight longer than PAYMENT_CLAIM_TIMEOUT_SECONDS (its
     * node died or lost the database): of several takers exactly one moves its clock and wins.
     */
    async takeOverStaleClaim(payment: PaymentRow): Promise<boolean> {
      if (payment.status !== "processing" || payment.nextAction || !payment.paymentMethod) return false;
      const staleBefore = new Date(Date.now() - cfg.checkout.paymentClaimTimeoutSeconds * 1000);
      const [taken] = await Payment.update(
        { status: "processing" },
        { where: { id: payment.id, status: "processing", nextAction: null, updatedAt: { [Op.lt]: staleBefore } } },
      );
      if (taken) this.logger.warn(`Payment ${payment.id}: finishing a confirmation left in flight since ${new Date(payment.updatedAt).toISOString()}`);
      return taken > 0;
    },

    /** The sweeper's part: confirmations left in flight by a node that died, finished even if no client asks again. */
    async resumeStaleClaims(): Promise<void> {
      const staleBefore = new Date(Date.now() - cfg.checkout.paymentClaimTimeoutSeconds * 1000);
      const stale = await Payment.findAll({ where: { status: "processing", nextAction: null, updatedAt: { [Op.lt]: staleBefore } }, limit: 50, raw: true });
      for (const payment of stale) {
        if (await this.takeOverStaleClaim(payment)) await this.confirmClaimed(payment, payment.paymentMethod!).catch((err: Error) => this.logger.warn(`Payment ${payment.id}:`, err.message));
      }
    },

    async createIntent(payment: PaymentRow): Promise<string> {
      const { ref } = await this.provider.createIntent(
        { amount: payment.amount, currency: payment.currency, paymentId: payment.id, orderId: payment.orderId },
        `payment:${payment.id}:intent`,
      );
      return ref;
    },

    /**
     * Moves a payment to a final status if it may go there from where it is, with its integration
     * event in the same transaction. Returns false when it had already moved (the other racer won).
     */
    async settle(payment: PaymentRow, to: "completed" | "failed" | "cancelled", cause: string, reason?: string, providerRef?: string): Promise<boolean> {
      const { id } = payment;
      // A processing payment may be cancelled only while it waits for the customer (3-D Secure), not
      // while a provider call is in flight: that charge may still succeed.
      const usual: Condition =
        to === "cancelled" ? ["(status = ? OR (status = ? AND next_action IS NOT NULL))", ["pending", "processing"]] : statusIn(sourcesOf(to).filter((s) => !CLOSED.includes(s)));
      const outcome = await inTransaction(this.sequelize, async (transaction: Transaction) => {
        const changes = { status: to, nextAction: null, ...(reason && { failureReason: reason }), ...(providerRef && { providerRef }) };
        const move = async ([where, params]: Condition) => (await updateRows(Payment, changes, `id = ? AND ${where}`, [id, ...params], transaction)) > 0;
        // A success for a failed or cancelled payment is the provider's late word: tried only when the usual move found nothing.
        const late = !(await move(usual));
        if (late && (to !== "completed" || !(await move(statusIn(CLOSED))))) return "stayed";
        // What the event says of the payment never changes after its creation: no read back.
        const { orderId, userId, amount, currency, provider } = payment;
        const common = { paymentId: id, orderId, userId, amount, currency };
        const event = to === "completed" ? envelope("payments", "payment.completed", orderId, common) : envelope("payments", "payment.failed", orderId, { ...common, reason: reason ?? to });
        await addToOutbox(this.sequelize, event, transaction);
        return { late, provider, amount: Number(amount), currency };
      });
      if (outcome === "stayed") return false;
      this.metrics.outcome({ provider: outcome.provider, outcome: to });
      if (to === "completed") this.metrics.revenue({ currency: outcome.currency }, outcome.amount);
      if (outcome.late) this.logger.warn(`Payment ${id} completed after it had failed or been cancelled (${cause}): the order decides whether to keep it`);
      else this.logger.info(`Payment ${id} ${to} (${cause})`);
      this.kickRelay();
      return true;
    },

    /** An order closed before it was paid (cancelled or expired): its unsettled payment is cancelled too. */
    async closeForOrder(orderId: string, reason: string): Promise<void> {
      const payment = await Payment.findOne({ where: { orderId }, raw: true });
      if (!payment || !["pending", "processing"].includes(payment.status)) return;
      if (payment.providerRef && (payment.status === "pending" || payment.nextAction)) {
        await this.provider.cancel(payment.providerRef, `payment:${payment.id}:cancel`).catch((e: Error) => this.logger.warn(`Provider cancel of ${payment.id}:`, e.message));
      }
      // A charge in flight is left to finish: if it succeeds, the order asks for its refund.
      await this.settle(payment, "cancelled", `order ${reason}`, `order_${reason}`);
    },

    /** The full refund the order asks for when it cannot keep a charge: once per order, however often asked. */
    async refundForOrder(orderId: string, reason: string): Promise<void> {
      const payment = await Payment.findOne({ where: { orderId }, raw: true });
      if (!payment) throw new Error(`no payment for order ${orderId}`);
      if (payment.status === "refunded") return;
      await this.refund(payment.id, undefined, `automatic: ${reason}`, `order:${orderId}`);
    },

    /**
     * Refunds as a ledger. 1) In one transaction the amount is claimed on the payment (a conditional
     * update: concurrent refunds never add up past it) and a pending refund record is written.
     * 2) The provider is asked with the record's own id as the idempotency key. 3) The record is
     * marked succeeded, with the payment's status and its event; or failed, and the claim given
     * back. The records that are not failed always sum to the payment's refundedAmount. The same
     * `requestKey` finds the same record: a replay, or the retry of a refund a crash interrupted.
     */
    async refund(paymentId: string, amount: number | undefined, reason: string, requestKey: string): Promise<RefundRecord & { replayed: boolean }> {
      const claim = await this.claimRefund(paymentId, amount, reason, requestKey);
      if (claim.status !== "pending") return claim;

      const payment = (await Payment.findByPk(paymentId, { raw: true }))!;
      let providerRef: string;
      try {
        providerRef = (await this.provider.refund(payment.providerRef ?? payment.id, claim.amount, `refund:${claim.id}`, { refundId: String(claim.id) })).ref;
      } catch (err: any) {
        await this.failRefund(claim);
        throw new DomainError(409, "PROVIDER_UNAVAILABLE", `The refund failed at the provider: ${err?.message ?? err}`, { refundId: claim.id });
      }
      await this.completeRefund(claim, providerRef);
      return { ...claim, status: "succeeded", providerRef };
    },

    assertRefundable(payment: PaymentRow): void {
      if (!REFUNDABLE.includes(payment.status)) {
        throw new DomainError(409, "ILLEGAL_TRANSITION", `A ${payment.status} payment cannot be refunded`, { status: payment.status });
      }
    },

    /** Step 1 of a refund: the claim on the payment and the pending record, in one transaction (or the record this key already has). */
    async claimRefund(paymentId: string, amount: number | undefined, reason: string, requestKey: string): Promise<RefundRecord & { replayed: boolean }> {
      try {
        return await inTransaction(this.sequelize, async (transaction) => {
          const existing = await Refund.findOne({ where: { requestKey }, transaction, raw: true });
          if (existing) return { ...existing, replayed: true };
          const payment = await Payment.findByPk(paymentId, { transaction, raw: true });
          if (!payment) throw notFound("payment", { id: paymentId });
          this.assertRefundable(payment);
          const wanted = amount ?? payment.amount - payment.refundedAmount;
          const [claimed] = wanted > 0 ? await Payment.update({ refundedAmount: literal(`refunded_amount + ${Math.trunc(wanted)}`) as any }, {
            where: { id: paymentId, status: REFUNDABLE as PaymentStatus[], [Op.and]: [literal(`refunded_amount + ${Math.trunc(wanted)} <= amount`)] },
            transaction,
          }) : [0];
          if (claimed === 0) {
            const now = (await Payment.findByPk(paymentId, { transaction, raw: true }))!;
            this.assertRefundable(now);
            const remaining = now.amount - now.refundedAmount;
            // What was refunded before, not the request, stands in the way: a conflict.
            throw new DomainError(409, "REFUND_EXCEEDS_PAYMENT", `At most ${remaining} can still be refunded`, { remaining, requested: wanted });
          }
          const created = await Refund.create({ paymentId, amount: wanted, reason, status: "pending", requestKey, providerRef: null }, { transaction });
          return { ...(created.get({ plain: true }) as RefundRecord), replayed: false };
        });
      } catch (err) {
        // The same key at the same moment: the first request's record.
        if (!(err instanceof UniqueConstraintError)) throw err;
        const twin = await Refund.findOne({ where: { requestKey }, raw: true });
        if (!twin) throw err;
        return { ...twin, replayed: true };
      }
    },

    /** The provider refused or could not be reached: the record fails, its claim goes back, its key is free again. */
    async failRefund(claim: RefundRecord): Promise<void> {
      await inTransaction(this.sequelize, async (transaction) => {
        const [failed] = await Refund.update({ status: "failed", requestKey: `${claim.requestKey}#failed:${claim.id}` }, { where: { id: claim.id, status: "pending" }, transaction });
        if (failed) await Payment.update({ refundedAmount: literal(`refunded_amount - ${Math.trunc(claim.amount)}`) as any }, { where: { id: claim.paymentId }, transaction });
      });
    },

    /** The provider refunded: the record succeeds, the payment moves, and payment.refunded goes out. */
    async completeRefund(claim: RefundRecord, providerRef: string): Promise<void> {
      let currency: string | undefined;
      await inTransaction(this.sequelize, async (transaction) => {
        currency = undefined;
        // The payment row first: concurrent refunds of one payment settle one after another.
        const p = (await Payment.findByPk(claim.paymentId, { transaction, lock: true, raw: true }))!;
        const [done] = await Refund.update({ status: "succeeded", providerRef }, { where: { id: claim.id, status: "pending" }, transaction });
        if (!done) return;
        const refundedTotal = Number((await Refund.sum("amount", { where: { paymentId: p.id, status: "succeeded" }, transaction })) ?? 0);
        const fullyRefunded = refundedTotal >= p.amount;
        currency = p.currency;
        await Payment.update({ status: fullyRefunded ? "refunded" : "partially_refunded" }, { where: { id: p.id }, transaction });
        await addToOutbox(
          this.sequelize,
          envelope("payments", "payment.refunded", p.orderId, {
            paymentId: p.id, orderId: p.orderId, userId: p.userId, refundId: claim.id, amount: claim.amount, refundedTotal, fullyRefunded, currency: p.currency, reason: claim.reason,
          }),
          transaction,
        );
      });
      if (currency) this.metrics.refunded({ currency }, Number(claim.amount));
      this.kickRelay();
    },

    /** Refunds made in Stripe's dashboard (charge.refunded): recorded like ours. Ours carry our refund id and are skipped. */
    async syncRefunds(paymentId: string, charge: ChargeRefunds): Promise<void> {
      for (const r of charge.refunds?.data ?? []) {
        if (r.metadata?.refundId || r.status === "failed") continue;
        const key = `stripe:${r.id}`;
        const claim = await this.claimRefund(paymentId, Math.trunc(r.amount), r.reason ?? "refunded in Stripe", key).catch((err: unknown) => {
          if (err instanceof DomainError) return undefined; // already fully refunded here: nothing more to record
          throw err;
        });
        if (claim && claim.status === "pending") await this.completeRefund(claim, r.id);
      }
    },

    page(where: Record<string, unknown>, params: ListParams) {
      const conditions: Record<string, unknown> = { ...where };
      if (params.status) conditions.status = params.status;
      if (params.from || params.to) conditions.createdAt = createdBetween(params.from, params.to);
      return newestFirst(Payment, conditions as WhereOptions, params, (p: PaymentRow) => this.view(p));
    },

    view(p: PaymentRow): PaymentView {
      return {
        id: p.id,
        orderId: p.orderId,
        userId: p.userId,
        amount: Number(p.amount),
        currency: p.currency,
        status: p.status,
        provider: p.provider,
        paymentMethod: p.paymentMethod ?? null,
        failureReason: p.failureReason ?? null,
        requiresAction: p.nextAction ? { type: p.nextAction } : null,
        refundedAmount: Number(p.refundedAmount ?? 0),
        createdAt: new Date(p.createdAt).toISOString(),
        updatedAt: new Date(p.updatedAt).toISOString(),
      };
    },

    /** A payment with its refund records, oldest first. */
    async detailedView(p: PaymentRow): Promise<PaymentDetail> {
      const refunds = await Refund.findAll({ where: { paymentId: p.id }, order: [["id", "ASC"]], raw: true });
      return {
        ...this.view(p),
        refunds: refunds.map((r) => ({ id: Number(r.id), amount: Number(r.amount), status: r.status, reason: r.reason, createdAt: new Date(r.createdAt).toISOString() })),
      };
    },

    methodView(m: MethodRow): MethodView {
      return { id: m.id, brand: m.brand, last4: m.last4, expMonth: m.expMonth, expYear: m.expYear, isDefault: Boolean(m.isDefault), token: m.providerToken, createdAt: new Date(m.createdAt).toISOString() };
    },
  } satisfies PaymentsMethods & ThisType<PaymentsThis>,

  created() {
    this.metrics = paymentMetrics(this.broker);
    this.provider = cfg.paymentProvider === "stripe" ? new StripeProvider(cfg.stripe.secretKey!, cfg.stripe.apiBase) : new SimulatedProvider();
    this.outbox = new SqlOutbox(this.sequelize);
    this.deadLetters = new SqlDeadLetters(this.sequelize);
  },
};

export default PaymentsService;
