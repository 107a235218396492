/**
 * Paying an order: the payment is created once (its own Idempotency-Key per attempt; an existing
 * one is found again), then confirmed with a card. The simulated provider (and Stripe in test mode)
 * know Stripe's test payment methods, which decide the outcome.
 */
import { useRef, useState } from "preact/hooks";
import { api, ApiError, newKey } from "../api";
import { refreshBasket, type Page } from "../store";
import { failureReason, ORDER_STATUS, short, when } from "../format";
import { ErrorMessage, Loading, Money, PageTitle, Status, useLoad } from "../ui";

export interface OrderLine {
  productId: number;
  name: string;
  unitPrice: number;
  quantity: number;
  lineTotal: number;
}

export interface Order {
  id: string;
  userId: string;
  status: string;
  currency: string;
  total: number;
  itemCount: number;
  refundedAmount: number;
  payBy: string | null;
  createdAt: string;
  lines?: OrderLine[];
  history?: { from: string | null; to: string; cause: string; at: string }[];
}

export interface Payment {
  id: string;
  orderId: string;
  userId: string;
  amount: number;
  currency: string;
  status: string;
  provider: string;
  paymentMethod: string | null;
  failureReason: string | null;
  requiresAction: { type: string } | null;
  refundedAmount: number;
  createdAt: string;
  refunds?: { id: number; amount: number; status: string; reason: string; createdAt: string }[];
}

/** Stripe's test payment methods, which the simulated provider also knows. */
export const TEST_CARDS: { method: string; label: string }[] = [
  { method: "pm_card_visa", label: "Visa ending in 4242 (test card: succeeds)" },
  { method: "pm_card_mastercard", label: "Mastercard ending in 4444 (test card: succeeds)" },
  { method: "pm_card_chargeDeclined", label: "Visa ending in 0002 (test card: declined)" },
  { method: "pm_card_chargeDeclinedInsufficientFunds", label: "Visa ending in 9995 (test card: insufficient funds)" },
  { method: "pm_card_chargeDeclinedExpiredCard", label: "Visa ending in 0069 (test card: expired)" },
  { method: "pm_card_authenticationRequired", label: "Visa ending in 3184 (test card: needs 3-D Secure)" },
];

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The caller's payment of an order, if one was started. */
export async function paymentOf(orderId: string): Promise<Payment | undefined> {
  const page = await api<Page<Payment>>("/payments?limit=100");
  const found = page.items.find((p) => p.orderId === orderId);
  return found ? api<Payment>(`/payments/${found.id}`) : undefined;
}

/** Integration events move the order a moment after the payment: look again until it has. */
async function orderUntil(orderId: string, done: (o: Order) => boolean): Promise<Order> {
  let order = await api<Order>(`/orders/${orderId}`);
  for (let i = 0; i < 40 && !done(order); i++) {
    await sleep(250);
    order = await api<Order>(`/orders/${orderId}`);
  }
  return order;
}

export function PayPage({ params }: { params: Record<string, string> }) {
  const orderId = params.orderId;
  const loaded = useLoad(async () => {
    const [order, payment] = await Promise.all([api<Order>(`/orders/${encodeURIComponent(orderId)}`), paymentOf(orderId)]);
    return { order, payment };
  }, [orderId]);
  const [order, setOrder] = useState<Order | null>(null);
  const [payment, setPayment] = useState<Payment | null>(null);
  const [method, setMethod] = useState(TEST_CARDS[0].method);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const pendingKey = useRef<string | null>(null);

  const o = order ?? loaded.data?.order;
  const p = payment ?? loaded.data?.payment ?? null;

  if (!o) {
    return (
      <>
        <PageTitle>Payment</PageTitle>
        {loaded.error ? <ErrorMessage error={loaded.error} /> : <Loading what="Loading your order" />}
      </>
    );
  }

  const pay = async (event: Event) => {
    event.preventDefault();
    setBusy(true);
    setError(null);
    try {
      let current = p;
      if (!current) {
        const key = (pendingKey.current ??= newKey("payment"));
        try {
          current = await api<Payment>("/payments", { method: "POST", body: { orderId: o.id }, idempotencyKey: key });
          pendingKey.current = null;
        } catch (err) {
          if (err instanceof ApiError && err.type === "PAYMENT_EXISTS" && err.data?.paymentId) current = await api<Payment>(`/payments/${err.data.paymentId}`);
          else {
            if (err instanceof ApiError && err.status > 0 && err.status < 500) pendingKey.current = null;
            throw err;
          }
        }
      }
      const result = await api<Payment>(`/payments/${current!.id}/process`, { method: "POST", body: { paymentMethod: method } });
      setPayment(result);
      if (result.status === "completed") {
        setOrder(await orderUntil(o.id, (x) => x.status !== "pending_payment"));
        await refreshBasket().catch(() => undefined);
      } else if (result.status === "failed") {
        setOrder(await orderUntil(o.id, (x) => x.status !== "pending_payment"));
      }
    } catch (err) {
      setError(err);
      setOrder(await api<Order>(`/orders/${o.id}`).catch(() => o));
    } finally {
      setBusy(false);
    }
  };

  const cancel = async () => {
    setBusy(true);
    setError(null);
    try {
      if (p && (p.status === "pending" || p.status === "processing")) {
        // A cancelled payment fails its order (and frees its goods) a moment later.
        setPayment(await api<Payment>(`/payments/${p.id}/cancel`, { method: "POST" }));
        setOrder(await orderUntil(o.id, (x) => x.status !== "pending_payment"));
      } else setOrder(await api<Order>(`/orders/${o.id}/cancel`, { method: "POST" }));
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };

  const paid = ["paid", "fulfilled", "partially_refunded", "refunded"].includes(o.status) || p?.status === "completed";
  const cancelled = p?.status === "cancelled";
  const failed = !cancelled && (p?.status === "failed" || o.status === "payment_failed");
  const needsAction = p?.status === "processing" && !!p.requiresAction;
  const payable = o.status === "pending_payment" && !needsAction && (!p || p.status === "pending");

  return (
    <>
      <PageTitle title={`Pay order ${short(o.id)}`}>Payment</PageTitle>
      <section class="summary" aria-labelledby="summary-title">
        <h2 id="summary-title">Order {short(o.id)}</h2>
        <ul class="plain">
          {(o.lines ?? []).map((l) => (
            <li key={l.productId}>
              {l.quantity} × {l.name} — <Money amount={l.lineTotal} currency={o.currency} />
            </li>
          ))}
        </ul>
        <p class="total">
          To pay: <Money amount={o.total} currency={o.currency} />
        </p>
        <p>
          Status: <strong>{ORDER_STATUS[o.status] ?? o.status}</strong>
        </p>
        {o.status === "pending_payment" && o.payBy && <p class="hint">The goods are reserved for you until {when(o.payBy)}.</p>}
      </section>

      <ErrorMessage error={error} />

      {paid && (
        <Status>
          Thank you! Your payment was received and order {short(o.id)} is {(ORDER_STATUS[o.status] ?? o.status).toLowerCase()}.{" "}
          <a href={`/orders/${o.id}`}>See the order</a>
        </Status>
      )}
      {failed && !paid && (
        <div class="message error" role="alert">
          <p>
            <strong>Payment declined.</strong> {failureReason(p?.failureReason)} Your order was not paid and its goods went back on sale.
          </p>
          <p>
            Your basket still has them: <a href="/basket">go back to the basket</a> to check out again with another card.
          </p>
        </div>
      )}
      {cancelled && !paid && (
        <Status>
          Payment cancelled: nothing was charged, and the order's goods went back on sale. <a href="/basket">Back to the basket</a>
        </Status>
      )}
      {needsAction && (
        <div class="message warning" role="alert">
          <p>
            <strong>Your bank asks you to confirm this payment (3-D Secure).</strong> This shop cannot show your bank's confirmation page, so
            the payment cannot complete. Cancel it and the order, then check out again with another card.
          </p>
          <button type="button" onClick={cancel} disabled={busy}>
            Cancel payment and order
          </button>
        </div>
      )}
      {!paid && !failed && !cancelled && !needsAction && !payable && (
        <Status>
          This order cannot be paid any more ({(ORDER_STATUS[o.status] ?? o.status).toLowerCase()}). <a href="/basket">Back to the basket</a>
        </Status>
      )}

      {payable && (
        <form class="pay" onSubmit={pay}>
          <fieldset>
            <legend>Card</legend>
            <p class="hint">
              {p?.provider === "stripe" ? "Stripe test mode" : "Simulated payments"}: choose one of Stripe's test cards. No real money moves.
            </p>
            {TEST_CARDS.map((card) => (
              <div class="radio" key={card.method}>
                <input type="radio" id={card.method} name="card" value={card.method} checked={method === card.method} onChange={() => setMethod(card.method)} />
                <label for={card.method}>{card.label}</label>
              </div>
            ))}
          </fieldset>
          <div class="actions">
            <button type="submit" class="primary" disabled={busy}>
              Pay <Money amount={o.total} currency={o.currency} />
            </button>
            <button type="button" class="link" onClick={cancel} disabled={busy}>
              Cancel order
            </button>
          </div>
          {busy && <Loading what="Paying" />}
        </form>
      )}
    </>
  );
}
