/** The admin console (role admin): catalog and stock, orders, payments and refunds, users, dead letters, the cluster. */
import { Fragment, type ComponentType } from "preact";
import { api } from "../api";
import { match, type Place } from "../router";
import { useSession } from "../store";
import { money, PAYMENT_STATUS } from "../format";
import { ErrorMessage, Loading, PageTitle, useLoad } from "../ui";
import { ProductEditPage, ProductsPage } from "./Products";
import { OrderAdminPage, OrdersAdminPage, PaymentAdminPage, PaymentsAdminPage } from "./Orders";
import { UsersPage } from "./Users";
import { DeadLettersPage } from "./DeadLetters";
import { ClusterPage } from "./Cluster";

type AdminPage = ComponentType<{ params: Record<string, string>; place: Place }>;

const SECTIONS: [string, string][] = [
  ["/admin", "Overview"],
  ["/admin/products", "Products"],
  ["/admin/orders", "Orders"],
  ["/admin/payments", "Payments"],
  ["/admin/users", "Users"],
  ["/admin/dead-letters", "Dead letters"],
  ["/admin/cluster", "Cluster"],
];

const ROUTES: [string, AdminPage][] = [
  ["/admin", Overview],
  ["/admin/products", ProductsPage],
  ["/admin/products/new", ProductEditPage],
  ["/admin/products/:id", ProductEditPage],
  ["/admin/orders", OrdersAdminPage],
  ["/admin/orders/:id", OrderAdminPage],
  ["/admin/payments", PaymentsAdminPage],
  ["/admin/payments/:id", PaymentAdminPage],
  ["/admin/users", UsersPage],
  ["/admin/dead-letters", DeadLettersPage],
  ["/admin/cluster", ClusterPage],
];

interface CatalogStats {
  products: number;
  categories: number;
  averagePrice: number;
  inventoryValue: number;
  lowStock: number;
  outOfStock: number;
  lowStockThreshold: number;
}

interface PaymentStats {
  count: Record<string, number>;
  successRate: number;
  revenue: Record<string, number>;
  refunded: Record<string, number>;
}

function Overview() {
  const stats = useLoad(() => Promise.all([api<CatalogStats>("/products/stats"), api<PaymentStats>("/admin/payments/stats")]), []);
  const [catalog, payments] = stats.data ?? [];
  return (
    <>
      <PageTitle>Admin console</PageTitle>
      <ErrorMessage error={stats.error} />
      {!stats.data && !stats.error && <Loading what="Loading the figures" />}
      {catalog && payments && (
        <div class="cards">
          <section class="card" aria-labelledby="catalog-stats">
            <h2 id="catalog-stats">Catalog</h2>
            <dl class="facts">
              <dt>Active products</dt>
              <dd>{catalog.products}</dd>
              <dt>Categories</dt>
              <dd>{catalog.categories}</dd>
              <dt>Inventory value</dt>
              <dd>{money(catalog.inventoryValue, "USD")}</dd>
              <dt>Low stock (1–{catalog.lowStockThreshold})</dt>
              <dd>{catalog.lowStock}</dd>
              <dt>Out of stock</dt>
              <dd>{catalog.outOfStock}</dd>
            </dl>
            <a href="/admin/products">Manage products</a>
          </section>
          <section class="card" aria-labelledby="payment-stats">
            <h2 id="payment-stats">Payments</h2>
            <dl class="facts">
              {Object.entries(payments.count).map(([status, n]) => (
                <Fragment key={status}>
                  <dt>{PAYMENT_STATUS[status] ?? status}</dt>
                  <dd>{n}</dd>
                </Fragment>
              ))}
              <dt>Success rate</dt>
              <dd>{Math.round(payments.successRate * 100)}%</dd>
              {Object.entries(payments.revenue).map(([currency, amount]) => (
                <Fragment key={`r-${currency}`}>
                  <dt>Revenue ({currency})</dt>
                  <dd>{money(amount, currency)}</dd>
                </Fragment>
              ))}
              {Object.entries(payments.refunded).map(([currency, amount]) => (
                <Fragment key={`f-${currency}`}>
                  <dt>Refunded ({currency})</dt>
                  <dd>{money(amount, currency)}</dd>
                </Fragment>
              ))}
            </dl>
            <a href="/admin/payments">See payments</a>
          </section>
        </div>
      )}
    </>
  );
}

export function Admin({ place }: { place: Place }) {
  const current = useSession();
  if (!current || current.user.role !== "admin") {
    return (
      <>
        <PageTitle>Admin console</PageTitle>
        <p>
          This is for the shop's administrators.{" "}
          {current ? "Your account is not one." : <a href={`/signin?next=${encodeURIComponent(place.path)}`}>Sign in</a>}
        </p>
      </>
    );
  }
  let content = (
    <>
      <PageTitle>Not found</PageTitle>
      <p>There is no such page in the admin console.</p>
    </>
  );
  for (const [pattern, Page] of ROUTES) {
    const params = match(pattern, place.path);
    if (params) {
      content = <Page params={params} place={place} key={place.path} />;
      break;
    }
  }
  const section = [...SECTIONS].reverse().find(([path]) => place.path === path || place.path.startsWith(`${path}/`))?.[0];
  return (
    <div class="admin">
      <nav aria-label="Admin" class="admin-nav">
        {SECTIONS.map(([path, label]) => (
          <a href={path} key={path} aria-current={section === path ? "page" : undefined}>
            {label}
          </a>
        ))}
      </nav>
      <div class="admin-content">{content}</div>
    </div>
  );
}
