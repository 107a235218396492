/** The customer's orders: status, payment and refunds. */
import { api } from "../api";
import { navigate, withQuery, type Place } from "../router";
import { useSession, type Page } from "../store";
import { ORDER_STATUS, PAYMENT_STATUS, short, when } from "../format";
import { ErrorMessage, Loading, Money, PageTitle, Pager, useLoad } from "../ui";
import { paymentOf, type Order, type Payment } from "./Pay";

const PAGE_SIZE = 20;

export function SignInFirst({ title, next }: { title: string; next: string }) {
  return (
    <>
      <PageTitle>{title}</PageTitle>
      <p>
        <a href={`/signin?next=${encodeURIComponent(next)}`}>Sign in</a> to see this page.
      </p>
    </>
  );
}

export function OrdersPage({ place }: { place: Place }) {
  const current = useSession();
  const offset = Math.max(0, Number(place.query.get("offset") ?? 0) || 0);
  const orders = useLoad(() => (current ? api<Page<Order>>(`/orders?limit=${PAGE_SIZE}&offset=${offset}`) : Promise.resolve(undefined)), [current?.user.id, offset]);
  if (!current) return <SignInFirst title="Your orders" next="/orders" />;
  return (
    <>
      <PageTitle>Your orders</PageTitle>
      <ErrorMessage error={orders.error} />
      {!orders.data ? (
        !orders.error && <Loading what="Loading your orders" />
      ) : orders.data.items.length === 0 ? (
        <p>
          No orders yet. <a href="/">Browse the catalog</a>.
        </p>
      ) : (
        <>
          <table class="lines">
            <thead>
              <tr>
                <th scope="col">Order</th>
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
              {orders.data.items.map((o) => (
                <tr key={o.id}>
                  <th scope="row">
                    <a href={`/orders/${o.id}`}>Order {short(o.id)}</a>
                  </th>
                  <td>{when(o.createdAt)}</td>
                  <td>
                    <span class={`badge status-${o.status}`}>{ORDER_STATUS[o.status] ?? o.status}</span>
                  </td>
                  <td class="num">
                    <Money amount={o.total} currency={o.currency} />
                  </td>
                  <td class="num">{o.refundedAmount > 0 ? <Money amount={o.refundedAmount} currency={o.currency} /> : "—"}</td>
                </tr>
              ))}
            </tbody>
          </table>
          <Pager total={orders.data.total} limit={PAGE_SIZE} offset={offset} go={(o) => navigate(withQuery(place, { offset: o || undefined }))} />
        </>
      )}
    </>
  );
}

export function PaymentDetails({ payment }: { payment: Payment }) {
  return (
    <section aria-labelledby="payment-title">
      <h2 id="payment-title">Payment</h2>
      <dl class="facts">
        <dt>Status</dt>
        <dd>{PAYMENT_STATUS[payment.status] ?? payment.status}</dd>
        <dt>Amount</dt>
        <dd>
          <Money amount={payment.amount} currency={payment.currency} />
        </dd>
        {payment.paymentMethod && (
          <>
            <dt>Method</dt>
            <dd>{payment.paymentMethod}</dd>
          </>
        )}
        <dt>Refunded</dt>
        <dd>
          <Money amount={payment.refundedAmount} currency={payment.currency} />
        </dd>
      </dl>
      {payment.refunds && payment.refunds.length > 0 && (
        <table class="lines">
          <caption>Refunds</caption>
          <thead>
            <tr>
              <th scope="col">Date</th>
              <th scope="col" class="num">
                Amount
              </th>
              <th scope="col">Reason</th>
              <th scope="col">Status</th>
            </tr>
          </thead>
          <tbody>
            {payment.refunds.map((r) => (
              <tr key={r.id}>
                <td>{when(r.createdAt)}</td>
                <td class="num">
                  <Money amount={r.amount} currency={payment.currency} />
                </td>
                <td>{r.reason}</td>
                <td>{r.status}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}

export function OrderLines({ order }: { order: Order }) {
  return (
    <table class="lines">
      <caption class="visually-hidden">Products in this order</caption>
      <thead>
        <tr>
          <th scope="col">Product</th>
          <th scope="col" class="num">
            Unit price
          </th>
          <th scope="col" class="num">
            Quantity
          </th>
          <th scope="col" class="num">
            Line total
          </th>
        </tr>
      </thead>
      <tbody>
        {(order.lines ?? []).map((l) => (
          <tr key={l.productId}>
            <th scope="row">
              <a href={`/products/${l.productId}`}>{l.name}</a>
            </th>
            <td class="num">
              <Money amount={l.unitPrice} currency={order.currency} />
            </td>
            <td class="num">{l.quantity}</td>
            <td class="num">
              <Money amount={l.lineTotal} currency={order.currency} />
            </td>
          </tr>
        ))}
      </tbody>
      <tfoot>
        <tr>
          <th scope="row" colSpan={3}>
            Total
          </th>
          <td class="num total">
            <Money amount={order.total} currency={order.currency} />
          </td>
        </tr>
      </tfoot>
    </table>
  );
}

export function OrderPage({ params }: { params: Record<string, string> }) {
  const current = useSession();
  const loaded = useLoad(async () => {
    if (!current) return undefined;
    const [order, payment] = await Promise.all([api<Order>(`/orders/${encodeURIComponent(params.id)}`), paymentOf(params.id)]);
    return { order, payment };
  }, [params.id, current?.user.id]);
  if (!current) return <SignInFirst title="Order" next={`/orders/${params.id}`} />;
  const o = loaded.data?.order;
  if (!o) {
    return (
      <>
        <PageTitle>Order</PageTitle>
        {loaded.error ? <ErrorMessage error={loaded.error} /> : <Loading what="Loading the order" />}
      </>
    );
  }
  return (
    <>
      <PageTitle title={`Order ${short(o.id)}`}>Order {short(o.id)}</PageTitle>
      <p>
        Status: <strong class={`badge status-${o.status}`}>{ORDER_STATUS[o.status] ?? o.status}</strong> · placed {when(o.createdAt)}
      </p>
      {o.refundedAmount > 0 && (
        <p class="message status">
          Refunded: <Money amount={o.refundedAmount} currency={o.currency} /> of <Money amount={o.total} currency={o.currency} />
        </p>
      )}
      {o.status === "pending_payment" && (
        <p>
          <a href={`/checkout/${o.id}`} class="button primary">
            Pay this order
          </a>
        </p>
      )}
      <OrderLines order={o} />
      {loaded.data?.payment && <PaymentDetails payment={loaded.data.payment} />}
      <section aria-labelledby="history-title">
        <h2 id="history-title">History</h2>
        <ol class="history">
          {(o.history ?? []).map((h, i) => (
            <li key={i}>
              {when(h.at)}: {ORDER_STATUS[h.to] ?? h.to}
            </li>
          ))}
        </ol>
      </section>
      <p>
        <a href="/orders">All your orders</a>
      </p>
    </>
  );
}
