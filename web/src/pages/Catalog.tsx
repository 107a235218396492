/** The catalog: search, category, sort by price or name, pages of 12. */
import { useState } from "preact/hooks";
import { api, query } from "../api";
import { navigate, withQuery, type Place } from "../router";
import { addToBasket, type Page, type Product } from "../store";
import { session } from "../session";
import { ErrorMessage, Loading, Money, PageTitle, Pager, Status, useLoad } from "../ui";

const PAGE_SIZE = 12;
const SORTS: [string, string][] = [
  ["", "Catalog order"],
  ["-createdAt", "Newest first"],
  ["price", "Price: low to high"],
  ["-price", "Price: high to low"],
  ["name", "Name: A to Z"],
  ["-name", "Name: Z to A"],
];

interface Category {
  name: string;
  count: number;
}

/** Units on sale now (stock minus what orders awaiting payment hold). */
export function Availability({ available }: { available: number }) {
  if (available <= 0) return <span class="stock out">Out of stock</span>;
  if (available <= 10) return <span class="stock low">Only {available} left</span>;
  return <span class="stock">In stock ({available})</span>;
}

/** "Add to basket" for signed-in people; the others are asked to sign in first. */
export function AddToBasket({ product, quantity = 1, onAdded }: { product: Product; quantity?: number; onAdded: (message: string) => void }) {
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const add = async () => {
    if (!session()) {
      navigate(`/signin?next=${encodeURIComponent(location.pathname + location.search)}&reason=basket`);
      return;
    }
    setBusy(true);
    setError(null);
    try {
      await addToBasket(product.id, quantity);
      onAdded(`${quantity} × ${product.name} added to your basket.`);
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };
  return (
    <>
      <button type="button" class="primary" disabled={busy || product.available <= 0} onClick={add} aria-describedby={`product-${product.id}-name`}>
        Add to basket
      </button>
      <ErrorMessage error={error} />
    </>
  );
}

export function CatalogPage({ place }: { place: Place }) {
  const q = place.query.get("q") ?? "";
  const category = place.query.get("category") ?? "";
  const sort = place.query.get("sort") ?? "";
  const offset = Math.max(0, Number(place.query.get("offset") ?? 0) || 0);
  const [added, setAdded] = useState("");

  const categories = useLoad(() => api<Category[]>("/products/categories"), []);
  const products = useLoad(
    () => api<Page<Product>>(`/products${query({ q, category, sort, limit: PAGE_SIZE, offset })}`),
    [q, category, sort, offset],
  );
  const set = (changes: Record<string, string | number | undefined>) => navigate(withQuery(place, { offset: undefined, ...changes }));

  return (
    <>
      <PageTitle title={q ? `Search: ${q}` : "Catalog"}>{q ? `Results for “${q}”` : "Catalog"}</PageTitle>
      <form class="filters" onSubmit={(e) => e.preventDefault()} aria-label="Filter and sort">
        <div class="field">
          <label for="filter-category">Category</label>
          <select id="filter-category" value={category} onChange={(e) => set({ category: e.currentTarget.value })}>
            <option value="">All categories</option>
            {(categories.data ?? []).map((c) => (
              <option value={c.name} key={c.name}>
                {c.name} ({c.count})
              </option>
            ))}
          </select>
        </div>
        <div class="field">
          <label for="filter-sort">Sort by</label>
          <select id="filter-sort" value={sort} onChange={(e) => set({ sort: e.currentTarget.value })}>
            {SORTS.map(([value, label]) => (
              <option value={value} key={value}>
                {label}
              </option>
            ))}
          </select>
        </div>
        {(q || category) && (
          <button type="button" class="link" onClick={() => navigate("/")}>
            Clear search and filters
          </button>
        )}
      </form>
      <ErrorMessage error={products.error ?? categories.error} />
      {added && (
        <Status>
          {added} <a href="/basket">View basket</a>
        </Status>
      )}
      {products.data ? (
        <>
          <p class="count" role="status">
            {products.data.total === 0 ? "No products match." : `${products.data.total} product${products.data.total === 1 ? "" : "s"}`}
          </p>
          <ul class="product-grid" aria-busy={products.loading}>
            {products.data.items.map((p) => (
              <li class="product-card" key={p.id}>
                <div class="tile" aria-hidden="true">
                  {p.category.slice(0, 1).toUpperCase()}
                </div>
                <h2 id={`product-${p.id}-name`}>
                  <a href={`/products/${p.id}`}>{p.name}</a>
                </h2>
                <p class="category">{p.category}</p>
                <p class="price">
                  <Money amount={p.price} currency={p.currency} />
                </p>
                <p>
                  <Availability available={p.available} />
                </p>
                <AddToBasket product={p} onAdded={setAdded} />
              </li>
            ))}
          </ul>
          <Pager total={products.data.total} limit={PAGE_SIZE} offset={offset} go={(o) => set({ offset: o || undefined })} />
        </>
      ) : (
        !products.error && <Loading what="Loading products" />
      )}
    </>
  );
}
