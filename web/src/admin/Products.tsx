/** Products: list (inactive ones too), create, edit, activate or deactivate, stock. */
import { useState } from "preact/hooks";
import { api, query } from "../api";
import { navigate, withQuery, type Place } from "../router";
import type { Page, Product } from "../store";
import { fromMinor, minorDigits, toMinor } from "../format";
import { ErrorMessage, Field, Loading, Money, PageTitle, Pager, Status, useAction, useLoad } from "../ui";

const PAGE_SIZE = 20;

export function ProductsPage({ place }: { place: Place }) {
  const q = place.query.get("q") ?? "";
  const active = place.query.get("active") ?? "";
  const offset = Math.max(0, Number(place.query.get("offset") ?? 0) || 0);
  const [term, setTerm] = useState(q);
  const list = useLoad(
    () => api<Page<Product>>(`/admin/products${query({ q, isActive: active || undefined, sort: "-createdAt", limit: PAGE_SIZE, offset })}`),
    [q, active, offset],
  );
  const go = (changes: Record<string, string | number | undefined>) => navigate(withQuery(place, { offset: undefined, ...changes }));
  return (
    <>
      <PageTitle>Products</PageTitle>
      <p>
        <a href="/admin/products/new" class="button primary">
          New product
        </a>
      </p>
      <form
        class="filters"
        onSubmit={(e) => {
          e.preventDefault();
          go({ q: term.trim() });
        }}
      >
        <div class="field">
          <label for="admin-product-q">Name contains</label>
          <input id="admin-product-q" type="search" value={term} onInput={(e) => setTerm(e.currentTarget.value)} />
        </div>
        <div class="field">
          <label for="admin-product-active">Show</label>
          <select id="admin-product-active" value={active} onChange={(e) => go({ active: e.currentTarget.value })}>
            <option value="">Active and inactive</option>
            <option value="true">Active only</option>
            <option value="false">Inactive only</option>
          </select>
        </div>
        <button type="submit">Filter</button>
      </form>
      <ErrorMessage error={list.error} />
      {!list.data ? (
        !list.error && <Loading />
      ) : (
        <>
          <table class="lines">
            <thead>
              <tr>
                <th scope="col">SKU</th>
                <th scope="col">Name</th>
                <th scope="col">Category</th>
                <th scope="col" class="num">
                  Price
                </th>
                <th scope="col" class="num">
                  Stock
                </th>
                <th scope="col" class="num">
                  Available
                </th>
                <th scope="col">Status</th>
              </tr>
            </thead>
            <tbody>
              {list.data.items.map((p) => (
                <tr key={p.id}>
                  <td>{p.sku}</td>
                  <th scope="row">
                    <a href={`/admin/products/${p.id}`}>{p.name}</a>
                  </th>
                  <td>{p.category}</td>
                  <td class="num">
                    <Money amount={p.price} currency={p.currency} />
                  </td>
                  <td class="num">{p.stock}</td>
                  <td class="num">{p.available}</td>
                  <td>{p.isActive ? "Active" : "Inactive"}</td>
                </tr>
              ))}
            </tbody>
          </table>
          {list.data.total === 0 && <p>No products.</p>}
          <Pager total={list.data.total} limit={PAGE_SIZE} offset={offset} go={(o) => go({ offset: o || undefined })} />
        </>
      )}
    </>
  );
}

interface Draft {
  sku: string;
  name: string;
  description: string;
  price: string;
  currency: string;
  category: string;
  stock: string;
  isActive: boolean;
}

const EMPTY: Draft = { sku: "", name: "", description: "", price: "", currency: "USD", category: "", stock: "0", isActive: true };

function draftOf(p: Product): Draft {
  return {
    sku: p.sku,
    name: p.name,
    description: p.description ?? "",
    price: fromMinor(p.price, p.currency),
    currency: p.currency,
    category: p.category,
    stock: String(p.stock),
    isActive: p.isActive,
  };
}

function StockForms({ product, onChange }: { product: Product; onChange: (p: Product) => void }) {
  const [stock, setStock] = useState(String(product.stock));
  const [received, setReceived] = useState("");
  const [done, setDone] = useState("");
  const set = useAction(async () => {
    const p = await api<Product>(`/admin/products/${product.id}/stock`, { method: "PUT", body: { stock: Math.trunc(Number(stock)) } });
    onChange(p);
    setDone(`Stock set to ${p.stock}.`);
  });
  const receive = useAction(async () => {
    const p = await api<Product>(`/admin/products/${product.id}/stock/receive`, { method: "POST", body: { quantity: Math.trunc(Number(received)) } });
    onChange(p);
    setStock(String(p.stock));
    setReceived("");
    setDone(`Received ${received}: ${p.stock} in stock.`);
  });
  return (
    <section aria-labelledby="stock-title" class="card">
      <h2 id="stock-title">Stock</h2>
      <p>
        {product.stock} in stock, {product.available} available ({product.stock - product.available} reserved by orders awaiting payment).
      </p>
      <form
        class="inline-form"
        onSubmit={(e) => {
          e.preventDefault();
          void set.run();
        }}
      >
        <Field label="Units in stock" id="stock-set">
          <input id="stock-set" type="number" min={0} required value={stock} onInput={(e) => setStock(e.currentTarget.value)} />
        </Field>
        <button type="submit" disabled={set.busy}>
          Set stock
        </button>
      </form>
      <ErrorMessage error={set.error} />
      <form
        class="inline-form"
        onSubmit={(e) => {
          e.preventDefault();
          void receive.run();
        }}
      >
        <Field label="Units received" id="stock-receive" hint="Adds to the stock; safe while orders sell it.">
          <input id="stock-receive" type="number" min={1} required value={received} aria-describedby="stock-receive-hint" onInput={(e) => setReceived(e.currentTarget.value)} />
        </Field>
        <button type="submit" disabled={receive.busy}>
          Receive
        </button>
      </form>
      <ErrorMessage error={receive.error} />
      {done && <Status>{done}</Status>}
    </section>
  );
}

export function ProductEditPage({ params }: { params: Record<string, string> }) {
  const isNew = !params.id;
  const loaded = useLoad(() => (isNew ? Promise.resolve(undefined) : api<Product>(`/admin/products/${encodeURIComponent(params.id)}`)), [params.id]);
  const [product, setProduct] = useState<Product | null>(null);
  const [draft, setDraft] = useState<Draft | null>(null);
  const [saved, setSaved] = useState("");
  const current = product ?? loaded.data ?? null;
  const form = draft ?? (current ? draftOf(current) : isNew ? EMPTY : null);

  const save = useAction(async () => {
    if (!form) return;
    const price = toMinor(form.price, form.currency);
    if (price === null) throw new Error(`the price must be an amount in ${form.currency} with at most ${minorDigits(form.currency)} decimals`);
    const body: Record<string, unknown> = {
      sku: form.sku.trim(),
      name: form.name.trim(),
      description: form.description.trim() || null,
      price,
      currency: form.currency.trim().toUpperCase(),
      category: form.category.trim(),
      isActive: form.isActive,
    };
    if (isNew) {
      const created = await api<Product>("/admin/products", { method: "POST", body: { ...body, stock: Math.trunc(Number(form.stock)) || 0 } });
      navigate(`/admin/products/${created.id}`, { replace: true });
      return;
    }
    const updated = await api<Product>(`/admin/products/${current!.id}`, { method: "PATCH", body });
    setProduct(updated);
    setDraft(null);
    setSaved("Saved.");
  });

  const toggle = useAction(async () => {
    const updated = await api<Product>(`/admin/products/${current!.id}`, { method: "PATCH", body: { isActive: !current!.isActive } });
    setProduct(updated);
    setDraft(null);
    setSaved(updated.isActive ? "Activated: the product is on sale." : "Deactivated: the product is no longer on sale.");
  });

  if (!form) {
    return (
      <>
        <PageTitle>Product</PageTitle>
        {loaded.error ? <ErrorMessage error={loaded.error} /> : <Loading />}
      </>
    );
  }
  const set = (key: keyof Draft) => (e: { currentTarget: HTMLInputElement | HTMLTextAreaElement }) => {
    setSaved("");
    setDraft({ ...form, [key]: e.currentTarget.value });
  };
  return (
    <>
      <PageTitle title={isNew ? "New product" : `Edit ${current?.name ?? ""}`}>{isNew ? "New product" : `Edit ${current?.name}`}</PageTitle>
      <p>
        <a href="/admin/products">All products</a>
        {current && (
          <>
            {" "}
            · <a href={`/products/${current.id}`}>See it in the shop</a>
          </>
        )}
      </p>
      <form
        class="form"
        onSubmit={(e) => {
          e.preventDefault();
          void save.run();
        }}
      >
        <Field label="SKU" id="p-sku">
          <input id="p-sku" required maxLength={64} pattern="[A-Za-z0-9._\-]+" value={form.sku} onInput={set("sku")} />
        </Field>
        <Field label="Name" id="p-name">
          <input id="p-name" required maxLength={200} value={form.name} onInput={set("name")} />
        </Field>
        <Field label="Description" id="p-description">
          <textarea id="p-description" rows={3} maxLength={5000} value={form.description} onInput={set("description")} />
        </Field>
        <div class="row">
          <Field label={`Price (${form.currency})`} id="p-price">
            <input id="p-price" required inputMode="decimal" value={form.price} onInput={set("price")} />
          </Field>
          <Field label="Currency" id="p-currency">
            <input id="p-currency" required pattern="[A-Za-z]{3}" maxLength={3} value={form.currency} onInput={set("currency")} />
          </Field>
        </div>
        <Field label="Category" id="p-category">
          <input id="p-category" required maxLength={100} value={form.category} onInput={set("category")} />
        </Field>
        {isNew && (
          <Field label="Units in stock" id="p-stock">
            <input id="p-stock" type="number" min={0} required value={form.stock} onInput={set("stock")} />
          </Field>
        )}
        <div class="checkbox">
          <input
            id="p-active"
            type="checkbox"
            checked={form.isActive}
            onChange={(e) => {
              setSaved("");
              setDraft({ ...form, isActive: e.currentTarget.checked });
            }}
          />
          <label for="p-active">On sale (active)</label>
        </div>
        <ErrorMessage error={save.error} />
        <div class="actions">
          <button type="submit" class="primary" disabled={save.busy}>
            {isNew ? "Create product" : "Save changes"}
          </button>
          {current && (
            <button type="button" onClick={() => toggle.run()} disabled={toggle.busy}>
              {current.isActive ? "Deactivate" : "Activate"}
            </button>
          )}
        </div>
        <ErrorMessage error={toggle.error} />
        {saved && <Status>{saved}</Status>}
      </form>
      {current && <StockForms product={current} onChange={(p) => setProduct(p)} key={current.id} />}
    </>
  );
}
