/**
 * A seeded, model-based history of the whole shop, run over HTTP against a running shop, then
 * checked against the invariants that make it trustworthy with money and stock. Many customers at
 * once add to baskets, check out, pay (succeeding, declined, needing 3-D Secure), cancel, let
 * orders lapse, and race Stripe webhooks against their own confirmations; an admin receives goods
 * and refunds (partly, fully, twice at once). The same seed draws the same choices; the
 * interleaving is the machine's, which is the point: the invariants must hold for any of them.
 *
 * Used by test/e2e/model-history.test.ts (embedded), test/integration/model-history.test.ts (real
 * stack) and scripts/soak.ts (longer runs).
 */
import Stripe from "stripe";
import type { ServiceBroker } from "moleculer";
import { http } from "./shop";
import { waitFor } from "./processes";

/** Shop settings under which orders lapse within a test: 2 s to start paying, 1 s of grace, swept every second. */
export const LAPSING_ORDERS = { RESERVATION_TTL_SECONDS: "2", PAYMENT_GRACE_SECONDS: "1", RESERVATION_SWEEP_SECONDS: "1" } as const;

export interface HistoryOptions {
  seed: number;
  customers: number;
  /** Actions per customer. */
  steps: number;
  products: number;
  initialStock: number;
  /** The shop's RESERVATION_TTL_SECONDS + PAYMENT_GRACE_SECONDS + RESERVATION_SWEEP_SECONDS: how long until every unpaid order has lapsed. */
  lapseSeconds: number;
  webhookSecret: string;
}

export interface HistoryReport {
  seed: number;
  requests: number;
  byOutcome: Record<string, number>;
  orders: Record<string, number>;
  payments: Record<string, number>;
  refunds: number;
  received: number;
  violations: string[];
  seconds: number;
}

/** mulberry32: small, fast, good enough to draw test choices from a seed. */
export function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const CARDS = ["pm_card_visa", "pm_card_visa", "pm_card_mastercard", "pm_card_chargeDeclined", "pm_card_chargeDeclinedInsufficientFunds", "pm_card_authenticationRequired"];
const HOLDS_MONEY = ["completed", "partially_refunded"];
const SOLD = ["paid", "partially_refunded", "fulfilled"];
const CLOSED_UNPAID = ["cancelled", "expired", "payment_failed"];
const EVENT_SERVICES = ["products", "baskets", "orders", "payments", "notifications"];

export async function runHistory(url: string, broker: ServiceBroker, adminToken: string, opts: HistoryOptions): Promise<HistoryReport> {
  const started = Date.now();
  const api = (path: string) => `${url}/api/v1${path}`;
  const draw = random(opts.seed);
  const pick = <T>(items: readonly T[]): T => items[Math.floor(draw() * items.length)];
  const byOutcome: Record<string, number> = {};
  let requests = 0;
  let received = 0;
  const call = async (label: string, path: string, init: Parameters<typeof http>[1] = {}) => {
    const res = await http(api(path), init);
    requests++;
    const key = `${label} ${res.status}${res.status >= 400 && res.body?.type ? ` ${res.body.type}` : ""}`;
    byOutcome[key] = (byOutcome[key] ?? 0) + 1;
    return res;
  };
  const webhook = (type: string, paymentId: string) => {
    const body = JSON.stringify({ id: `evt_${opts.seed}_${requests}_${Math.floor(draw() * 1e9)}`, object: "event", type, data: { object: { id: `sim_pi_${paymentId}`, object: "payment_intent", last_payment_error: { code: "card_declined" } } } });
    const signature = Stripe.webhooks.generateTestHeaderString({ payload: body, secret: opts.webhookSecret });
    return call(`webhook ${type}`, "/payments/webhooks/stripe", { method: "POST", rawBody: body, headers: { "stripe-signature": signature } });
  };
  const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
  const run = `m${opts.seed}x${Date.now().toString(36)}`;

  // The catalog of this history.
  const productIds: number[] = [];
  for (let i = 0; i < opts.products; i++) {
    const body = { sku: `${run}-${i}`, name: `Model product ${i}`, price: 100 + Math.floor(draw() * 5000), stock: opts.initialStock, category: `model-${run}` };
    productIds.push((await call("create product", "/admin/products", { method: "POST", token: adminToken, body })).body.id);
  }

  // Every choice is drawn up front, in order, so the seed alone decides what each actor tries.
  type Step = { action: string; productId: number; quantity: number; card: string; race: string; wait: number };
  const plans: Step[][] = Array.from({ length: opts.customers }, () =>
    Array.from({ length: opts.steps }, () => ({
      action: pick(["add", "add", "checkout", "pay", "pay", "cancel", "wait", "authorize"]),
      productId: pick(productIds),
      quantity: 1 + Math.floor(draw() * 3),
      card: pick(CARDS),
      race: pick(["none", "none", "succeeded", "failed"]),
      wait: Math.floor(draw() * 1500),
    })),
  );
  const adminPlan = Array.from({ length: opts.customers * 2 }, () => ({ action: pick(["receive", "refund", "refund", "twin-refund"]), productId: pick(productIds), share: draw(), wait: 100 + Math.floor(draw() * 400) }));

  async function customer(n: number, plan: Step[]) {
    const email = `${run}-c${n}@model.test`;
    await call("register", "/users/register", { method: "POST", body: { email, password: "model password", firstName: "M", lastName: String(n) } });
    const token = (await call("login", "/users/login", { method: "POST", body: { email, password: "model password" } })).body.accessToken;
    let order: string | undefined;
    let payment: string | undefined;
    let attempt = 0;
    let filled = false; // whether this customer put something in the basket since the last order
    for (const step of plan) {
      switch (step.action) {
        case "add":
          filled = (await call("add", "/basket/items", { method: "POST", token, body: { productId: step.productId, quantity: step.quantity } })).status === 200 || filled;
          break;
        case "checkout": {
          if (!filled) await call("add", "/basket/items", { method: "POST", token, body: { productId: step.productId, quantity: step.quantity } });
          const res = await call("checkout", "/orders", { method: "POST", token, body: {}, headers: { "idempotency-key": `${run}-c${n}-o${++attempt}` } });
          if (res.status === 201) [order, payment, filled] = [res.body.id, undefined, false];
          else if (res.body?.type === "ORDER_AWAITING_PAYMENT") order = res.body.data.order.id;
          break;
        }
        case "pay": {
          if (!order) break;
          if (!payment) {
            const res = await call("start payment", "/payments", { method: "POST", token, body: { orderId: order }, headers: { "idempotency-key": `${run}-pay-${order}` } });
            if (res.status === 201 || res.status === 200) payment = res.body.id;
            else if (res.body?.type === "PAYMENT_EXISTS") payment = res.body.data.paymentId;
            else {
              order = undefined; // not payable any more: the customer starts again
              break;
            }
          }
          const confirm = call("pay", `/payments/${payment}/process`, { method: "POST", token, body: { paymentMethod: step.card } });
          // Stripe's word racing the client's own confirmation.
          const raced = step.race === "none" ? undefined : sleep(step.wait % 40).then(() => webhook(`payment_intent.${step.race === "succeeded" ? "succeeded" : "payment_failed"}`, payment!));
          const [res] = await Promise.all([confirm, raced]);
          if (res.status === 200 && !res.body.requiresAction) order = payment = undefined; // settled, one way or the other
          break;
        }
        case "authorize": // the customer comes back from 3-D Secure, often after the order lapsed
          if (payment) {
            await sleep(step.wait * 3);
            await webhook("payment_intent.succeeded", payment);
            order = payment = undefined;
          }
          break;
        case "cancel":
          if (order) {
            await call("cancel", `/orders/${order}/cancel`, { method: "POST", token });
            order = payment = undefined;
          }
          break;
        case "wait":
          await sleep(step.wait);
          break;
      }
    }
  }

  async function admin() {
    for (const step of adminPlan) {
      await sleep(step.wait);
      if (step.action === "receive") {
        const quantity = 1 + Math.floor(step.share * 5);
        if ((await call("receive stock", `/admin/products/${step.productId}/stock/receive`, { method: "POST", token: adminToken, body: { quantity } })).status === 200) received += quantity;
        continue;
      }
      const page = (await call("admin payments", "/admin/payments?status=completed&limit=20", { token: adminToken })).body.items ?? [];
      const target = page[Math.floor(step.share * page.length)];
      if (!target) continue;
      const amount = step.share < 0.5 ? undefined : Math.max(1, Math.floor(target.amount * step.share * 0.5));
      const refund = () => call("refund", `/payments/${target.id}/refund`, { method: "POST", token: adminToken, body: { ...(amount && { amount }), reason: "model refund" } });
      await Promise.all(step.action === "twin-refund" ? [refund(), refund()] : [refund()]);
    }
  }

  await Promise.all([...plans.map((plan, n) => customer(n, plan)), admin()]);

  // Quiescence: every unpaid order has lapsed, every outbox is drained, nothing waits to be applied.
  await sleep(opts.lapseSeconds * 1000);
  await waitFor(
    async () => {
      const depths = await Promise.all(EVENT_SERVICES.map(async (s) => ((await broker.call(`${s}.outboxStatus`)) as { depth: number }).depth));
      const pending = (await call("admin orders", "/admin/orders?status=pending_payment&limit=1", { token: adminToken })).body.total;
      return depths.every((d) => d === 0) && pending === 0;
    },
    60_000,
    "the shop to settle",
  );
  await sleep(1000);
  const final = await readBooks(call, adminToken, productIds);
  const violations = checkInvariants(final, { initialStock: opts.initialStock, totalReceived: received });
  for (const service of EVENT_SERVICES) {
    const letters = (await broker.call(`${service}.deadLetters`)) as { error: string }[];
    for (const letter of letters) violations.push(`dead letter in ${service}: ${letter.error}`);
  }
  const provider = (broker.getLocalService("payments") as any)?.provider;
  if (provider?.charges) {
    for (const p of final.payments) if ((provider.charges.get(`sim_pi_${p.id}`) ?? 0) > 1) violations.push(`payment ${p.id} charged ${provider.charges.get(`sim_pi_${p.id}`)} times`);
  }
  const count = (xs: { status: string }[]) => xs.reduce<Record<string, number>>((m, x) => ({ ...m, [x.status]: (m[x.status] ?? 0) + 1 }), {});
  return {
    seed: opts.seed,
    requests,
    byOutcome,
    orders: count(final.orders),
    payments: count(final.payments),
    refunds: final.payments.reduce((n, p) => n + p.refunds.length, 0),
    received,
    violations,
    seconds: Math.round((Date.now() - started) / 1000),
  };
}

interface Books {
  products: { id: number; stock: number; reserved: number }[];
  orders: { id: string; status: string; total: number; refundedAmount: number; lines: { productId: number; quantity: number }[] }[];
  payments: { id: string; orderId: string; status: string; amount: number; refundedAmount: number; refunds: { amount: number; status: string }[] }[];
}

type Call = (label: string, path: string, init?: Parameters<typeof http>[1]) => ReturnType<typeof http>;

async function readAll(call: Call, path: string, token: string): Promise<any[]> {
  const items: any[] = [];
  for (let offset = 0; ; offset += 100) {
    const page = (await call("read books", `${path}${path.includes("?") ? "&" : "?"}limit=100&offset=${offset}`, { token })).body;
    items.push(...page.items);
    if (items.length >= page.total || page.items.length === 0) return items;
  }
}

async function readBooks(call: Call, token: string, productIds: number[]): Promise<Books> {
  const products = await Promise.all(productIds.map(async (id) => (await call("read books", `/admin/products/${id}`, { token })).body));
  const mine = new Set(productIds);
  const orderSummaries = await readAll(call, "/admin/orders", token);
  const orders = (await Promise.all(orderSummaries.map(async (o) => (await call("read books", `/admin/orders/${o.id}`, { token })).body))).filter((o) => o.lines.some((l: any) => mine.has(l.productId)));
  const orderIds = new Set(orders.map((o) => o.id));
  const paymentSummaries = (await readAll(call, "/admin/payments", token)).filter((p) => orderIds.has(p.orderId));
  const payments = await Promise.all(paymentSummaries.map(async (p) => (await call("read books", `/admin/payments/${p.id}`, { token })).body));
  return { products, orders, payments };
}

/** Every invariant of money and stock, as a list of what is broken (empty when the books add up). */
export function checkInvariants(books: Books, opts: { initialStock: number; totalReceived: number }): string[] {
  const violations: string[] = [];
  const paymentOf = new Map(books.payments.map((p) => [p.orderId, p]));

  // Stock: never negative; nothing reserved once every unpaid order lapsed; and all of it accounted:
  // initial + received = on the shelf + sold (orders that kept their goods).
  let shelf = 0;
  let sold = 0;
  for (const p of books.products) {
    if (p.stock < 0 || p.reserved < 0 || p.reserved > p.stock) violations.push(`product ${p.id}: stock ${p.stock}, reserved ${p.reserved}`);
    if (p.reserved !== 0) violations.push(`product ${p.id}: ${p.reserved} units still reserved after every order settled`);
    shelf += p.stock;
  }
  for (const o of books.orders) if (SOLD.includes(o.status)) sold += o.lines.reduce((n, l) => n + l.quantity, 0);
  const expected = books.products.length * opts.initialStock + opts.totalReceived;
  if (shelf + sold !== expected) violations.push(`stock does not add up: ${shelf} on the shelf + ${sold} sold != ${expected} (initial + received)`);

  for (const o of books.orders) {
    const p = paymentOf.get(o.id);
    if (o.status === "pending_payment") violations.push(`order ${o.id} still awaits payment after its lapse`);
    // A kept charge belongs to a sold order; a sold order has its charge.
    if (SOLD.includes(o.status) && (!p || !HOLDS_MONEY.includes(p.status))) violations.push(`order ${o.id} is ${o.status} but its payment is ${p?.status ?? "missing"}`);
    if (p && HOLDS_MONEY.includes(p.status) && !SOLD.includes(o.status)) violations.push(`payment ${p.id} keeps ${p.amount - p.refundedAmount} for a ${o.status} order`);
    // An order that closed unpaid keeps nothing: its payment is cancelled, failed or refunded in full.
    if (CLOSED_UNPAID.includes(o.status) && p && !["cancelled", "failed", "refunded"].includes(p.status)) violations.push(`order ${o.id} is ${o.status} while its payment is ${p.status}`);
    if (p?.status === "refunded" && o.refundedAmount !== p.amount) violations.push(`order ${o.id} records ${o.refundedAmount} refunded of ${p.amount}`);
    if (p && ["refunded", "partially_refunded"].includes(o.status) && o.refundedAmount !== p.refundedAmount) violations.push(`order ${o.id} records ${o.refundedAmount}, its payment ${p.refundedAmount}`);
  }
  // Refunds are a ledger: the records that did not fail sum to the refunded amount, never past the amount.
  for (const p of books.payments) {
    const sum = p.refunds.filter((r) => r.status !== "failed").reduce((n, r) => n + r.amount, 0);
    if (sum !== p.refundedAmount) violations.push(`payment ${p.id}: refunds sum to ${sum}, refundedAmount ${p.refundedAmount}`);
    if (p.refundedAmount > p.amount) violations.push(`payment ${p.id}: refunded ${p.refundedAmount} of ${p.amount}`);
    if (p.refunds.some((r) => r.status === "pending")) violations.push(`payment ${p.id}: a refund is still pending`);
  }
  return violations;
}
