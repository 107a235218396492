/** Everyone's orders and payments; fulfilment; refunds (all or part, one Idempotency-Key per attempt). */
import { useRef, useState } from "preact/hooks";
import { api, ApiError, newKey, query } from "../api";
import { navigate, withQuery, type Place } from "../router";
import type { Page } from "../store";
import { fromMinor, ORDER_STATUS, PAYMENT_STATUS, short, toMinor, when } from "../format";
import { ErrorMessage, Field, Loading, Money, PageTitle, Pager, Status, useAction, useLoad } from "../ui";
import type { Order, Payment } from "../pages/Pay";
import { OrderLines, PaymentDetails } from "../pages/Orders";

const PAGE_SIZE = 20;

function StatusFilter({ id, value, statuses, onChange }: { id: string; value: string; statuses: Record<string, string>; onChange: (v: string) => void }) {
  return (
    <div class="field">
      <label for={id}>Status</label>
      <select id={id} value={value} onChange={(e) => onChange(e.currentTarget.value)}>
        <option value="">Any status</option>
        {Object.entries(statuses).map(([v, label]) => (
          <option value={v} key={v}>
            {label}
          </option>
        ))}
      </select>
    </div>
  );
}

export function OrdersAdminPage({ place }: { place: Place }) {
  const status = place.query.get("status") ?? "";
  const offset = Math.max(0, Number(place.query.get("offset") ?? 0) || 0);
  const list = useLoad(() => api<Page<Order>>(`/admin/orders${query({ status, limit: PAGE_SIZE, offset })}`), [status, offset]);
  const go = (changes: Record<string, string | number | undefined>) => navigate(withQuery(place, { offset: undefined, ...changes }));
  return (
    <>
      <PageTitle>Orders</PageTitle>
      <form class="filters" onSubmit={(e) => e.preventDefault()}>
        <StatusFilter id="admin-order-status" value={status} statuses={ORDER_STATUS} onChange={(v) => go({ status: v })} />
      </form>
      <ErrorMessage error={list.error} />
      {!list.data ? (
        !list.error && <Loading />
      ) : (
        <>
          <table class="lines">
            <thead>
              <tr>
                <th scope="col">Order</th>
                <th scope="col">Customer</th>
                <th scope="col">Placed</th>
                <th scope="col">Status</th>
                <th scope="col" class="num">
                  Total
                </th>
                <th scope="col" class="num">
                  Refunded
                </th>
              </tr>
            </thead>
            <tbody>
              {list.data.items.map((o) => (
                <tr key={o.id}>
                  <th scope="row">
                    <a href={`/admin/orders/${o.id}`}>Order {short(o.id)}</a>
                  </th>
                  <td>{short(o.userId)}</td>
                  <td>{when(o.createdAt)}</td>
                  <td>
                    <span class={`badge status-${o.status}`}>{ORDER_STATUS[o.status] ?? o.status}</span>
                  </td>
                  <td class="num">
                    <Money amount={o.total} currency={o.currency} />
                  </td>
                  <td class="num">{o.refundedAmount ? <Money amount={o.refundedAmount} currency={o.currency} /> : "—"}</td>
                </tr>
              ))}
            </tbody>
          </table>
          {list.data.total === 0 && <p>No orders.</p>}
          <Pager total={list.data.total} limit={PAGE_SIZE} offset={offset} go={(o) => go({ offset: o || undefined })} />
        </>
      )}
    </>
  );
}

/** Refund all or part of a payment. The key is kept for a retry of an attempt that got no answer. */
function RefundForm({ payment, onRefunded }: { payment: Payment; onRefunded: (p: Payment) => void }) {
  const left = payment.amount - payment.refundedAmount;
  const [amount, setAmount] = useState("");
  const [reason, setReason] = useState("");
  const [done, setDone] = useState("");
  const pendingKey = useRef<string | null>(null);
  const refund = useAction(async () => {
    setDone("");
    const minor = amount.trim() ? toMinor(amount, payment.currency) : undefined;
    if (minor === null || minor === 0) throw new Error(`the amount must be a positive amount in ${payment.currency}`);
    const key = (pendingKey.current ??= newKey("refund"));
    try {
      const next = await api<Payment>(`/payments/${payment.id}/refund`, { method: "POST", body: { amount: minor, reason: reason.trim() }, idempotencyKey: key });
      pendingKey.current = null;
      setAmount("");
      setReason("");
      setDone(`Refunded. ${PAYMENT_STATUS[next.status] ?? next.status}: ${fromMinor(next.refundedAmount, next.currency)} ${next.currency} of ${fromMinor(next.amount, next.currency)} ${next.currency}.`);
      onRefunded(next);
    } catch (err) {
      if (err instanceof ApiError && err.status > 0 && err.status < 500) pendingKey.current = null;
      throw err;
    }
  });
  if (!["completed", "partially_refunded"].includes(payment.status)) return null;
  return (
    <section class="card" aria-labelledby="refund-title">
      <h2 id="refund-title">Refund</h2>
      <p>
        Up to <Money amount={left} currency={payment.currency} /> can be refunded.
      </p>
      <form
        class="form"
        onSubmit={(e) => {
          e.preventDefault();
          void refund.run();
        }}
      >
        <Field label={`Amount (${payment.currency})`} id="refund-amount" hint="Leave empty to refund everything that is left.">
          <input id="refund-amount" inputMode="decimal" aria-describedby="refund-amount-hint" value={amount} onInput={(e) => setAmount(e.currentTarget.value)} />
        </Field>
        <Field label="Reason" id="refund-reason">
          <input id="refund-reason" required maxLength={500} value={reason} onInput={(e) => setReason(e.currentTarget.value)} />
        </Field>
        <ErrorMessage error={refund.error} />
        <button type="submit" class="primary" disabled={refund.busy}>
          Refund
        </button>
      </form>
      {done && <Status>{done}</Status>}
    </section>
  );
}

export function OrderAdminPage({ params }: { params: Record<string, string> }) {
  const loaded = useLoad(async () => {
    const order = await api<Order>(`/admin/orders/${encodeURIComponent(params.id)}`);
    const payments = await api<Page<Payment>>(`/admin/users/${order.userId}/payments?limit=100`);
    const found = payments.items.find((p) => p.orderId === order.id);
    const payment = found ? await api<Payment>(`/admin/payments/${found.id}`) : undefined;
    return { order, payment };
  }, [params.id]);
  const fulfil = useAction(async () => {
    await api(`/admin/orders/${params.id}/fulfill`, { method: "POST" });
    await loaded.reload();
  });
  const o = loaded.data?.order;
  if (!o) {
    return (
      <>
        <PageTitle>Order</PageTitle>
        {loaded.error ? <ErrorMessage error={loaded.error} /> : <Loading />}
      </>
    );
  }
  const payment = loaded.data?.payment;
  return (
    <>
      <PageTitle title={`Order ${short(o.id)}`}>Order {short(o.id)}</PageTitle>
      <p>
        <a href="/admin/orders">All orders</a>
      </p>
      <dl class="facts">
        <dt>Status</dt>
        <dd>
          <span class={`badge status-${o.status}`}>{ORDER_STATUS[o.status] ?? o.status}</span>
        </dd>
        <dt>Customer</dt>
        <dd>{o.userId}</dd>
        <dt>Placed</dt>
        <dd>{when(o.createdAt)}</dd>
        <dt>Refunded</dt>
        <dd>
          <Money amount={o.refundedAmount} currency={o.currency} />
        </dd>
      </dl>
      {o.status === "paid" && (
        <p>
          <button type="button" onClick={() => fulfil.run()} disabled={fulfil.busy}>
            Mark as fulfilled
          </button>
        </p>
      )}
      <ErrorMessage error={fulfil.error} />
      <OrderLines order={o} />
      {payment ? (
        <>
          <PaymentDetails payment={payment} />
          <p>
            <a href={`/admin/payments/${payment.id}`}>Payment {short(payment.id)}</a>
          </p>
          <RefundForm payment={payment} onRefunded={() => loaded.reload()} />
        </>
      ) : (
        <p>No payment was started for this order.</p>
      )}
      <section aria-labelledby="admin-history">
        <h2 id="admin-history">History</h2>
        <ol class="history">
          {(o.history ?? []).map((h, i) => (
            <li key={i}>
              {when(h.at)}: {ORDER_STATUS[h.to] ?? h.to} <span class="hint">({h.cause})</span>
            </li>
          ))}
        </ol>
      </section>
    </>
  );
}

interface PaymentStats {
  count: Record<string, number>;
  successRate: number;
}

export function PaymentsAdminPage({ place }: { place: Place }) {
  const status = place.query.get("status") ?? "";
  const offset = Math.max(0, Number(place.query.get("offset") ?? 0) || 0);
  const list = useLoad(() => api<Page<Payment>>(`/admin/payments${query({ status, limit: PAGE_SIZE, offset })}`), [status, offset]);
  const stats = useLoad(() => api<PaymentStats>("/admin/payments/stats"), []);
  const go = (changes: Record<string, string | number | undefined>) => navigate(withQuery(place, { offset: undefined, ...changes }));
  return (
    <>
      <PageTitle>Payments</PageTitle>
      {stats.data && (
        <p>
          Success rate {Math.round(stats.data.successRate * 100)}% ·{" "}
          {Object.entries(stats.data.count)
            .filter(([, n]) => n > 0)
            .map(([s, n]) => `${n} ${(PAYMENT_STATUS[s] ?? s).toLowerCase()}`)
            .join(", ") || "no payments yet"}
        </p>
      )}
      <form class="filters" onSubmit={(e) => e.preventDefault()}>
        <StatusFilter id="admin-payment-status" value={status} statuses={PAYMENT_STATUS} onChange={(v) => go({ status: v })} />
      </form>
      <ErrorMessage error={list.error} />
      {!list.data ? (
        !list.error && <Loading />
      ) : (
        <>
          <table class="lines">
            <thead>
              <tr>
                <th scope="col">Payment</th>
                <th scope="col">Order</th>
                <th scope="col">Created</th>
                <th scope="col">Status</th>
                <th scope="col" class="num">
                  Amount
                </th>
                <th scope="col" class="num">
                  Refunded
                </th>
              </tr>
            </thead>
            <tbody>
              {list.data.items.map((p) => (
                <tr key={p.id}>
                  <th scope="row">
                    <a href={`/admin/payments/${p.id}`}>Payment {short(p.id)}</a>
                  </th>
                  <td>
                    <a href={`/admin/orders/${p.orderId}`}>Order {short(p.orderId)}</a>
                  </td>
                  <td>{when(p.createdAt)}</td>
                  <td>
                    {PAYMENT_STATUS[p.status] ?? p.status}
                    {p.failureReason ? ` (${p.failureReason.replace(/_/g, " ")})` : ""}
                  </td>
                  <td class="num">
                    <Money amount={p.amount} currency={p.currency} />
                  </td>
                  <td class="num">{p.refundedAmount ? <Money amount={p.refundedAmount} currency={p.currency} /> : "—"}</td>
                </tr>
              ))}
            </tbody>
          </table>
          {list.data.total === 0 && <p>No payments.</p>}
          <Pager total={list.data.total} limit={PAGE_SIZE} offset={offset} go={(o) => go({ offset: o || undefined })} />
        </>
      )}
    </>
  );
}

export function PaymentAdminPage({ params }: { params: Record<string, string> }) {
  const loaded = useLoad(() => api<Payment>(`/admin/payments/${encodeURIComponent(params.id)}`), [params.id]);
  const p = loaded.data;
  return (
    <>
      <PageTitle title={p ? `Payment ${short(p.id)}` : "Payment"}>{p ? `Payment ${short(p.id)}` : "Payment"}</PageTitle>
      <p>
        <a href="/admin/payments">All payments</a>
        {p && (
          <>
            {" "}
            · <a href={`/admin/orders/${p.orderId}`}>Order {short(p.orderId)}</a>
          </>
        )}
      </p>
      <ErrorMessage error={loaded.error} />
      {!p ? (
        !loaded.error && <Loading />
      ) : (
        <>
          <PaymentDetails payment={p} />
          {p.failureReason && <p>Failure: {p.failureReason.replace(/_/g, " ")}</p>}
          <RefundForm payment={p} onRefunded={() => loaded.reload()} />
        </>
      )}
    </>
  );
}
