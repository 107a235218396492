/** One product: description, price, stock, quantity and "Add to basket". */
import { useState } from "preact/hooks";
import { api } from "../api";
import type { Product } from "../store";
import { ErrorMessage, Loading, Money, PageTitle, Status, useLoad } from "../ui";
import { AddToBasket, Availability } from "./Catalog";

export function ProductPage({ params }: { params: Record<string, string> }) {
  const product = useLoad(() => api<Product>(`/products/${encodeURIComponent(params.id)}`), [params.id]);
  const [quantity, setQuantity] = useState(1);
  const [added, setAdded] = useState("");
  const p = product.data;
  if (!p) {
    return (
      <>
        <PageTitle>{product.error ? "Product not available" : "Product"}</PageTitle>
        {product.error ? <ErrorMessage error={product.error} /> : <Loading what="Loading the product" />}
        <p>
          <a href="/">Back to the catalog</a>
        </p>
      </>
    );
  }
  const max = Math.max(1, Math.min(999, p.available));
  return (
    <article class="product">
      <p class="breadcrumbs">
        <a href="/">Catalog</a> › <a href={`/?category=${encodeURIComponent(p.category)}`}>{p.category}</a>
      </p>
      <PageTitle title={p.name}>
        <span id={`product-${p.id}-name`}>{p.name}</span>
      </PageTitle>
      <div class="product-body">
        <div class="tile large" aria-hidden="true">
          {p.category.slice(0, 1).toUpperCase()}
        </div>
        <div>
          <p class="price big">
            <Money amount={p.price} currency={p.currency} />
          </p>
          <p>
            <Availability available={p.available} />
          </p>
          {p.description && <p class="description">{p.description}</p>}
          <dl class="facts">
            <dt>SKU</dt>
            <dd>{p.sku}</dd>
            <dt>Category</dt>
            <dd>{p.category}</dd>
          </dl>
          {p.available > 0 && (
            <div class="buy">
              <div class="field inline">
                <label for="quantity">Quantity</label>
                <input
                  id="quantity"
                  type="number"
                  min={1}
                  max={max}
                  value={quantity}
                  onInput={(e) => setQuantity(Math.max(1, Math.min(max, Math.trunc(Number(e.currentTarget.value)) || 1)))}
                />
              </div>
              <AddToBasket product={p} quantity={quantity} onAdded={(m) => {
                setAdded(m);
                void product.reload();
              }} />
            </div>
          )}
          {added && (
            <Status>
              {added} <a href="/basket">View basket</a>
            </Status>
          )}
          <ErrorMessage error={product.error} />
        </div>
      </div>
    </article>
  );
}
