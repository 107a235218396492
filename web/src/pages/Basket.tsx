/**
 * The basket: quantities, removal, the server's totals and expiry, and checkout. Each checkout
 * attempt has its own Idempotency-Key; only a retry of an attempt that got no answer reuses it,
 * so a lost response never makes a second order.
 */
import { useEffect, useRef, useState } from "preact/hooks";
import { api, ApiError, newKey } from "../api";
import { navigate } from "../router";
import { refreshBasket, setBasket, useBasket, useSession, type Basket, type BasketLine } from "../store";
import { short, when } from "../format";
import { ErrorMessage, Loading, Money, PageTitle, Status } from "../ui";

function LineRow({ line, onError }: { line: BasketLine; onError: (err: unknown) => void }) {
  const [quantity, setQuantity] = useState(String(line.quantity));
  const [busy, setBusy] = useState(false);
  useEffect(() => setQuantity(String(line.quantity)), [line.quantity]);
  const change = async (body: () => Promise<Basket | undefined>) => {
    setBusy(true);
    onError(null);
    try {
      const next = await body();
      if (next) setBasket(next);
      else await refreshBasket();
    } catch (err) {
      onError(err);
      setQuantity(String(line.quantity));
    } finally {
      setBusy(false);
    }
  };
  const update = () => {
    const n = Math.trunc(Number(quantity));
    if (!Number.isFinite(n) || n < 0 || n === line.quantity) return setQuantity(String(line.quantity));
    void change(() => api<Basket>(`/basket/items/${line.productId}`, { method: "PUT", body: { quantity: n } }));
  };
  const id = `qty-${line.productId}`;
  return (
    <tr>
      <th scope="row">
        <a href={`/products/${line.productId}`}>{line.name}</a>
      </th>
      <td class="num">
        <Money amount={line.unitPrice} currency={line.currency} />
      </td>
      <td>
        <label for={id} class="visually-hidden">
          Quantity of {line.name}
        </label>
        <input
          id={id}
          class="qty"
          type="number"
          min={0}
          max={999}
          value={quantity}
          disabled={busy}
          onInput={(e) => setQuantity(e.currentTarget.value)}
          onChange={update}
          onKeyDown={(e) => e.key === "Enter" && update()}
        />
      </td>
      <td class="num">
        <Money amount={line.lineTotal} currency={line.currency} />
      </td>
      <td>
        <button type="button" class="link" disabled={busy} onClick={() => change(() => api(`/basket/items/${line.productId}`, { method: "DELETE" }).then(() => undefined))}>
          Remove<span class="visually-hidden"> {line.name}</span>
        </button>
      </td>
    </tr>
  );
}

export function BasketPage() {
  const current = useSession();
  const basket = useBasket();
  const [error, setError] = useState<unknown>(null);
  const [loadError, setLoadError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  /** The key of the checkout attempt that got no answer, reused by "Checkout" until one comes. */
  const pendingKey = useRef<string | null>(null);

  useEffect(() => {
    if (current) refreshBasket().catch(setLoadError);
  }, [current?.user.id]);

  if (!current) {
    return (
      <>
        <PageTitle>Basket</PageTitle>
        <p>
          <a href="/signin?next=/basket">Sign in</a> or <a href="/register?next=/basket">register</a> to fill a basket.
        </p>
      </>
    );
  }

  const checkout = async () => {
    setBusy(true);
    setError(null);
    const key = (pendingKey.current ??= newKey("checkout"));
    try {
      const order = await api<{ id: string }>("/orders", { method: "POST", body: {}, idempotencyKey: key });
      pendingKey.current = null;
      navigate(`/checkout/${order.id}`);
    } catch (err) {
      // An answer (even a refusal) ends the attempt; no answer or a 5xx leaves it open for a retry.
      if (err instanceof ApiError && err.status > 0 && err.status < 500) pendingKey.current = null;
      setError(err);
    } finally {
      setBusy(false);
    }
  };

  const awaiting = error instanceof ApiError && error.type === "ORDER_AWAITING_PAYMENT" ? error.data?.order : null;
  return (
    <>
      <PageTitle>Basket</PageTitle>
      <ErrorMessage error={loadError} />
      {!basket ? (
        !loadError && <Loading what="Loading your basket" />
      ) : basket.items.length === 0 ? (
        <p>
          Your basket is empty. <a href="/">Browse the catalog</a>.
        </p>
      ) : (
        <>
          <table class="lines">
            <caption class="visually-hidden">Products in your basket</caption>
            <thead>
              <tr>
                <th scope="col">Product</th>
                <th scope="col" class="num">
                  Unit price
                </th>
                <th scope="col">Quantity</th>
                <th scope="col" class="num">
                  Line total
                </th>
                <th scope="col">
                  <span class="visually-hidden">Remove</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {basket.items.map((line) => (
                <LineRow line={line} key={line.productId} onError={setError} />
              ))}
            </tbody>
            <tfoot>
              <tr>
                <th scope="row" colSpan={3}>
                  Total ({basket.itemCount} item{basket.itemCount === 1 ? "" : "s"})
                </th>
                <td class="num total" data-testid="basket-total">
                  <Money amount={basket.total} currency={basket.currency} />
                </td>
                <td />
              </tr>
            </tfoot>
          </table>
          {basket.expiresAt && <p class="hint">We keep this basket until {when(basket.expiresAt)} (a day after its last change).</p>}
          <ErrorMessage error={error} />
          {awaiting && (
            <Status>
              Order {short(awaiting.id)} is waiting for its payment: <a href={`/checkout/${awaiting.id}`}>pay it or cancel it</a> first.
            </Status>
          )}
          <div class="actions">
            <button type="button" class="primary" onClick={checkout} disabled={busy}>
              Checkout
            </button>
            <button
              type="button"
              class="link"
              disabled={busy}
              onClick={() => api("/basket", { method: "DELETE" }).then(() => refreshBasket()).catch(setError)}
            >
              Empty the basket
            </button>
          </div>
          <p class="hint">Checking out reserves the goods for you while you pay; prices are taken from the catalog again.</p>
        </>
      )}
    </>
  );
}
