/** The storefront and the admin console: one page over the REST API /api/v1. */
import { render, type ComponentType } from "preact";
import { useEffect, useRef, useState } from "preact/hooks";
import "./styles.css";
import { signOut } from "./api";
import { match, navigate, takeOverLinks, usePlace, type Place } from "./router";
import { refreshBasket, useBasket, useSession } from "./store";
import { CatalogPage } from "./pages/Catalog";
import { ProductPage } from "./pages/Product";
import { BasketPage } from "./pages/Basket";
import { PayPage } from "./pages/Pay";
import { OrderPage, OrdersPage } from "./pages/Orders";
import { NotificationsPage } from "./pages/Notifications";
import { RegisterPage, SignInPage } from "./pages/Account";
import { Loading, PageTitle } from "./ui";

type Page = ComponentType<{ params: Record<string, string>; place: Place }>;

const ROUTES: [string, Page][] = [
  ["/", CatalogPage],
  ["/products/:id", ProductPage],
  ["/basket", BasketPage],
  ["/checkout/:orderId", PayPage],
  ["/orders", OrdersPage],
  ["/orders/:id", OrderPage],
  ["/notifications", NotificationsPage],
  ["/signin", SignInPage],
  ["/register", RegisterPage],
];

/** The admin console is its own chunk, loaded on the first visit to /admin. */
function AdminConsole(props: { place: Place }) {
  const [Admin, setAdmin] = useState<ComponentType<{ place: Place }> | null>(null);
  const [failed, setFailed] = useState(false);
  useEffect(() => {
    import("./admin/Admin").then((m) => setAdmin(() => m.Admin), () => setFailed(true));
  }, []);
  if (failed) return <p role="alert">The admin console could not be loaded. Reload the page to try again.</p>;
  return Admin ? <Admin {...props} /> : <Loading what="Loading the admin console" />;
}

function NotFound() {
  return (
    <>
      <PageTitle>Page not found</PageTitle>
      <p>
        There is nothing at this address. <a href="/">Browse the catalog</a>.
      </p>
    </>
  );
}

function Header({ place }: { place: Place }) {
  const current = useSession();
  const basket = useBasket();
  const [q, setQ] = useState(place.path === "/" ? place.query.get("q") ?? "" : "");
  useEffect(() => {
    if (place.path === "/") setQ(place.query.get("q") ?? "");
  }, [place]);
  const onSearch = (event: Event) => {
    event.preventDefault();
    const term = q.trim();
    navigate(term ? `/?q=${encodeURIComponent(term)}` : "/");
  };
  const onSignOut = async () => {
    await signOut();
    navigate("/");
  };
  const at = (prefix: string) => (place.path === prefix || place.path.startsWith(`${prefix}/`) ? "page" : undefined);
  return (
    <header class="site-header">
      <a class="brand" href="/">
        Moleculer Shop
      </a>
      <form role="search" class="search" onSubmit={onSearch}>
        <label for="site-search" class="visually-hidden">
          Search
        </label>
        <input id="site-search" type="search" name="q" value={q} onInput={(e) => setQ(e.currentTarget.value)} placeholder="Search products" maxLength={100} />
        <button type="submit">Search</button>
      </form>
      <nav aria-label="Main" class="main-nav">
        <a href="/basket" aria-current={at("/basket")}>
          Basket{basket && basket.itemCount > 0 ? <span class="badge">{basket.itemCount}</span> : null}
        </a>
        {current && (
          <>
            <a href="/orders" aria-current={at("/orders")}>
              Orders
            </a>
            <a href="/notifications" aria-current={at("/notifications")}>
              Notifications
            </a>
          </>
        )}
        {current?.user.role === "admin" && (
          <a href="/admin" aria-current={at("/admin")}>
            Admin
          </a>
        )}
        {current ? (
          <>
            <span class="who">Signed in as {current.user.firstName || current.user.email}</span>
            <button type="button" class="link" onClick={onSignOut}>
              Sign out
            </button>
          </>
        ) : (
          <>
            <a href="/signin" aria-current={at("/signin")}>
              Sign in
            </a>
            <a href="/register" aria-current={at("/register")}>
              Register
            </a>
          </>
        )}
      </nav>
    </header>
  );
}

function App() {
  const place = usePlace();
  const current = useSession();
  const first = useRef(true);

  // The basket follows the account: loaded at sign-in, gone at sign-out.
  useEffect(() => {
    refreshBasket().catch(() => undefined);
  }, [current?.user.id]);

  // After a navigation the focus goes to the new page's heading, and the page starts at the top.
  useEffect(() => {
    if (first.current) {
      first.current = false;
      return;
    }
    scrollTo(0, 0);
    (document.querySelector("main h1") as HTMLElement | null)?.focus();
  }, [place.path]);

  let content = <NotFound />;
  if (place.path === "/admin" || place.path.startsWith("/admin/")) content = <AdminConsole place={place} />;
  else {
    for (const [pattern, Page] of ROUTES) {
      const params = match(pattern, place.path);
      if (params) {
        content = <Page params={params} place={place} key={place.path} />;
        break;
      }
    }
  }
  return (
    <>
      <a class="skip-link" href="#main">
        Skip to content
      </a>
      <Header place={place} />
      <main id="main" tabIndex={-1}>
        {content}
      </main>
      <footer class="site-footer">
        <p>
          Moleculer Shop, an open-source e-commerce backend. <a href="/api/docs">REST API documentation</a>
        </p>
      </footer>
    </>
  );
}

takeOverLinks();
render(<App />, document.getElementById("app")!);
