/**
 * The storefront and the admin console in a real Chromium against the embedded shop: a customer
 * finds, registers, buys and pays; a declined card and a card needing 3-D Secure; an admin
 * refunds and the customer sees it; the admin console's pages, the cluster among them. No page
 * may log a console error, throw, break its CSP or fail a request.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import type { Browser, BrowserContext, Page } from "playwright-core";
import { adminToken, ADMIN, call, launch, reportCsp, screenshot, startShop, watch, type Shop } from "./support.ts";

/** Access tokens live 10 s (the least the shop takes): the customer's session must be renewed with the refresh token on the way. */
const ACCESS_TOKEN_TTL_SECONDS = 10;

let shop: Shop;
let browser: Browser;
let adminSession = { token: "", at: 0 };
const problems: string[][] = [];
const ids: Record<string, number> = {};

async function newContext(): Promise<{ context: BrowserContext; page: Page }> {
  const context = await browser.newContext({ viewport: { width: 1280, height: 860 }, locale: "en-US", timezoneId: "UTC" });
  await reportCsp(context);
  problems.push(watch(context));
  const page = await context.newPage();
  page.setDefaultTimeout(15_000);
  return { context, page };
}

async function register(page: Page, person: { first: string; last: string; email: string }) {
  await page.getByLabel("First name").fill(person.first);
  await page.getByLabel("Last name").fill(person.last);
  await page.getByLabel("Email").fill(person.email);
  await page.getByLabel("Password", { exact: true }).fill("customer password 1");
  await page.getByRole("button", { name: "Register" }).click();
  await page.getByRole("button", { name: "Sign out" }).waitFor();
}

/** The API as the admin, from the test (a fresh sign-in when the last token is about to expire). */
async function asAdmin<T = any>(pathname: string, init: { method?: string; body?: unknown } = {}): Promise<T> {
  if (Date.now() - adminSession.at > (ACCESS_TOKEN_TTL_SECONDS - 3) * 1000) adminSession = { token: await adminToken(shop), at: Date.now() };
  return call<T>(shop, pathname, { ...init, token: adminSession.token });
}

async function available(id: number): Promise<number> {
  return (await asAdmin<{ available: number }>(`/admin/products/${id}`)).available;
}

/** A string matched as itself in a RegExp. */
const literal = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");

async function eventually(what: string, probe: () => Promise<boolean>, ms = 10_000) {
  const deadline = Date.now() + ms;
  while (!(await probe())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

before(async () => {
  shop = await startShop({ ACCESS_TOKEN_TTL_SECONDS: String(ACCESS_TOKEN_TTL_SECONDS) });
  const products = [
    { sku: "MUG-BLUE", name: "Blue mug", price: 1250, stock: 100, category: "kitchen", description: "A stoneware mug, 350 ml." },
    { sku: "PAN-IRON", name: "Cast iron pan", price: 4999, stock: 10, category: "kitchen", description: "Seasoned, 26 cm." },
    { sku: "KETTLE", name: "Copper kettle", price: 8900, stock: 5, category: "kitchen" },
    { sku: "BOOK-DDD", name: "Domain-Driven Design", price: 5450, stock: 30, category: "books" },
    { sku: "BOOK-SRE", name: "Site Reliability Engineering", price: 3999, stock: 12, category: "books" },
    { sku: "PRINT-RARE", name: "Rare print", price: 20000, stock: 1, category: "art" },
  ];
  for (let i = 1; i <= 9; i++) products.push({ sku: `PEN-${i}`, name: `Fountain pen no. ${i}`, price: 1500 + i * 100, stock: 20, category: "stationery", description: "" });
  for (const p of products) ids[p.sku] = (await asAdmin<{ id: number }>("/admin/products", { method: "POST", body: p })).id;
  browser = await launch();
});

after(async () => {
  await browser?.close();
  await shop?.stop();
});

describe("storefront", () => {
  const alice = { first: "Alice", last: "Archer", email: "alice@web.test" };
  let aliceContext: { context: BrowserContext; page: Page };
  let paidOrderId = "";

  it("a new customer searches, registers, adds to the basket, checks out and pays", async () => {
    aliceContext = await newContext();
    const { page } = aliceContext;
    await page.goto(shop.url);
    await page.getByRole("heading", { level: 1, name: "Catalog" }).waitFor();
    await page.getByText("15 products").waitFor();

    // Pages of 12, sorting by price and filtering by category.
    await page.getByRole("button", { name: "Next page" }).click();
    await page.getByText("Page 2 of 2").waitFor();
    await page.getByLabel("Category").selectOption("kitchen");
    await page.getByText("3 products").waitFor();
    await page.getByLabel("Sort by").selectOption("-price");
    await page.waitForURL(/sort=-price/);
    await page.locator(".product-card h2").first().getByText("Copper kettle").waitFor();
    assert.deepEqual(await page.locator(".product-card h2").allInnerTexts(), ["Copper kettle", "Cast iron pan", "Blue mug"]);
    assert.match(await page.locator(".product-card .price").first().innerText(), /^\$89\.00$/);

    // Search (keyboard only: type and press Enter).
    await page.getByLabel("Search").fill("mug");
    await page.getByLabel("Search").press("Enter");
    await page.getByRole("heading", { level: 1, name: /Results for .mug./ }).waitFor();
    await page.getByText("1 product", { exact: true }).waitFor();
    await page.getByRole("link", { name: "Blue mug" }).click();

    // The product page, with its stock.
    await page.getByRole("heading", { level: 1, name: "Blue mug" }).waitFor();
    await page.getByText("In stock (100)").waitFor();
    await page.getByText("$12.50").waitFor();

    // Adding asks a stranger to sign in; they register instead and come back here.
    await page.getByRole("button", { name: "Add to basket" }).click();
    await page.getByText("Sign in to add products to your basket.").waitFor();
    await page.getByRole("main").getByRole("link", { name: "Create an account" }).click();
    await register(page, alice);
    await page.getByRole("heading", { level: 1, name: "Blue mug" }).waitFor();
    const signedInAt = Date.now();
    const firstRefreshToken = await page.evaluate(() => JSON.parse(sessionStorage.getItem("shop.session") ?? "{}").refreshToken);
    await page.getByLabel("Quantity").fill("2");
    await page.getByRole("button", { name: "Add to basket" }).click();
    await page.getByText("2 × Blue mug added to your basket.").waitFor();
    await page.getByRole("link", { name: /Basket/ }).getByText("2").waitFor();

    // Long enough for the access token to expire: the page must renew it with the refresh token.
    await page.waitForTimeout(Math.max(0, signedInAt + ACCESS_TOKEN_TTL_SECONDS * 1000 + 500 - Date.now()));
    await page.getByRole("link", { name: /Basket/ }).click();
    await page.getByRole("heading", { level: 1, name: "Basket" }).waitFor();
    const quantity = page.getByLabel("Quantity of Blue mug");
    await quantity.waitFor();
    // The refresh token was spent for a new pair.
    await page.waitForFunction((first) => {
      const now = JSON.parse(sessionStorage.getItem("shop.session") ?? "{}").refreshToken;
      return now && now !== first;
    }, firstRefreshToken);

    // Quantity change: the server's totals.
    await quantity.fill("3");
    await quantity.press("Enter");
    await page.getByText("Total (3 items)").waitFor();
    assert.equal(await page.getByTestId("basket-total").innerText(), "$37.50");
    await page.getByText(/We keep this basket until/).waitFor();

    // Checkout (an Idempotency-Key for this attempt) and pay with the test card that succeeds.
    await page.getByRole("button", { name: "Checkout" }).click();
    await page.getByRole("heading", { level: 1, name: "Payment" }).waitFor();
    paidOrderId = page.url().split("/").pop()!;
    await page.getByText("The goods are reserved for you until").waitFor();
    await page.getByLabel(/4242/).check();
    await page.getByRole("button", { name: /^Pay / }).click();
    await page.getByText(/Thank you! Your payment was received/).waitFor();
    await page.getByRole("link", { name: /Basket/ }).getByText("2").waitFor({ state: "detached" });
    assert.equal(await available(ids["MUG-BLUE"]), 97);

    // Order history and notifications.
    await page.getByRole("link", { name: "Orders" }).click();
    await page.getByRole("cell", { name: "Paid" }).waitFor();
    await page.getByRole("link", { name: "Notifications" }).click();
    await page.getByRole("heading", { name: /Payment received for order/ }).waitFor();

    await page.goto(shop.url);
    await page.getByText("15 products").waitFor();
    await screenshot(page, "storefront");
  });

  it("a declined card shows the reason and leaves the stock; a card needing 3-D Secure says so", async () => {
    const { page } = await newContext();
    const before = await available(ids["PAN-IRON"]);
    await page.goto(`${shop.url}/register`);
    await register(page, { first: "Bob", last: "Baker", email: "bob@web.test" });
    await page.goto(`${shop.url}/products/${ids["PAN-IRON"]}`);
    await page.getByLabel("Quantity").fill("2");
    await page.getByRole("button", { name: "Add to basket" }).click();
    await page.getByText("2 × Cast iron pan added to your basket.").waitFor();
    await page.getByRole("status").getByRole("link", { name: "View basket" }).click();
    await page.getByRole("button", { name: "Checkout" }).click();
    await page.getByRole("heading", { level: 1, name: "Payment" }).waitFor();
    assert.equal(await available(ids["PAN-IRON"]), before - 2); // reserved while the customer pays

    await page.getByLabel(/0002/).check();
    await page.getByRole("button", { name: /^Pay / }).click();
    const alert = page.getByRole("alert");
    await alert.getByText("Payment declined.").waitFor();
    await alert.getByText("Your card was declined.").waitFor();
    await page.getByText("Payment failed").waitFor();
    await eventually("the reservation to be released", async () => (await available(ids["PAN-IRON"])) === before);
    await screenshot(page, "storefront-declined");

    // Back to the basket (still full), another attempt (a new key, a new order), 3-D Secure this time.
    await alert.getByRole("link", { name: "go back to the basket" }).click();
    await page.getByRole("button", { name: "Checkout" }).click();
    await page.getByRole("heading", { level: 1, name: "Payment" }).waitFor();
    await page.getByLabel(/3184/).check();
    await page.getByRole("button", { name: /^Pay / }).click();
    await page.getByText("Your bank asks you to confirm this payment (3-D Secure).").waitFor();
    await page.getByRole("button", { name: "Cancel payment and order" }).click();
    await page.getByText("Payment cancelled: nothing was charged").waitFor();
    await eventually("the stock of the cancelled order to come back", async () => (await available(ids["PAN-IRON"])) === before);

    await page.goto(`${shop.url}/products/${ids["PAN-IRON"]}`);
    await page.getByText(before <= 10 ? `Only ${before} left` : `In stock (${before})`).waitFor();
    await page.getByRole("button", { name: "Sign out" }).click();
    await page.getByRole("link", { name: "Sign in" }).waitFor();
  });

  it("an admin refunds the order and the customer sees it", async () => {
    const { page } = await newContext();
    await page.goto(`${shop.url}/signin`);
    await page.getByLabel("Email").fill(ADMIN.email);
    await page.getByLabel("Password").fill("wrong password");
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.getByRole("alert").waitFor(); // the API's 401, in words
    await page.getByLabel("Password").fill(ADMIN.password);
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.getByRole("link", { name: "Admin" }).click();
    await page.getByRole("heading", { level: 1, name: "Admin console" }).waitFor();
    await page.getByRole("navigation", { name: "Admin" }).getByRole("link", { name: "Orders" }).click();
    await page.getByRole("link", { name: `Order ${paidOrderId.slice(0, 8)}`, exact: true }).click();
    await page.getByRole("heading", { level: 2, name: "Refund" }).waitFor();
    await page.getByLabel("Amount (USD)").fill("5.00");
    await page.getByLabel("Reason").fill("Chipped handle");
    await page.getByRole("button", { name: "Refund", exact: true }).click();
    await page.getByText(/^Refunded\. Partly refunded: 5\.00 USD of 37\.50 USD\./).waitFor();
    await page.getByRole("cell", { name: "Chipped handle" }).waitFor();

    // The customer sees the refund on the order.
    const { page: customer } = aliceContext;
    await customer.goto(`${shop.url}/orders`);
    await customer.getByRole("cell", { name: "Partly refunded" }).waitFor();
    await customer.getByRole("link", { name: `Order ${paidOrderId.slice(0, 8)}`, exact: true }).click();
    await customer.getByText(/Refunded: \$5\.00 of \$37\.50/).waitFor();
    await customer.getByRole("cell", { name: "Chipped handle" }).waitFor();
  });

  it("the admin console manages products, stock, payments, users and dead letters, and shows the cluster", async () => {
    const { page } = await newContext();
    await page.goto(`${shop.url}/signin?next=/admin/products`);
    await page.getByLabel("Email").fill(ADMIN.email);
    await page.getByLabel("Password").fill(ADMIN.password);
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.getByRole("heading", { level: 1, name: "Products" }).waitFor();

    // Create, edit, deactivate, stock.
    await page.getByRole("link", { name: "New product" }).click();
    await page.getByLabel("SKU").fill("LAMP-1");
    await page.getByLabel("Name").fill("Desk lamp");
    await page.getByLabel("Price (USD)").fill("39.90");
    await page.getByLabel("Category").fill("lighting");
    await page.getByLabel("Units in stock").fill("4");
    await page.getByRole("button", { name: "Create product" }).click();
    await page.getByRole("heading", { level: 1, name: "Edit Desk lamp" }).waitFor();
    await page.getByLabel("Price (USD)").fill("44.50");
    await page.getByRole("button", { name: "Save changes" }).click();
    await page.getByText("Saved.").waitFor();
    await page.getByLabel("Units received").fill("6");
    await page.getByRole("button", { name: "Receive" }).click();
    await page.getByText("10 in stock, 10 available").waitFor();
    await page.getByRole("button", { name: "Deactivate" }).click();
    await page.getByText("Deactivated: the product is no longer on sale.").waitFor();
    const lamp = await asAdmin("/admin/products?q=lamp");
    assert.deepEqual(
      lamp.items.map((p: any) => [p.name, p.price, p.stock, p.isActive]),
      [["Desk lamp", 4450, 10, false]],
    );

    // A validation error from the API, in words.
    await page.getByRole("navigation", { name: "Admin" }).getByRole("link", { name: "Products" }).click();
    await page.getByRole("link", { name: "New product" }).click();
    await page.getByLabel("SKU").fill("MUG-BLUE");
    await page.getByLabel("Name").fill("Another mug");
    await page.getByLabel("Price (USD)").fill("1");
    await page.getByLabel("Category").fill("kitchen");
    await page.getByRole("button", { name: "Create product" }).click();
    await page.getByRole("alert").waitFor();

    await page.getByRole("navigation", { name: "Admin" }).getByRole("link", { name: "Payments" }).click();
    await page.getByText("Success rate").waitFor();
    await page.getByRole("cell", { name: "Partly refunded" }).waitFor();
    await page.getByRole("navigation", { name: "Admin" }).getByRole("link", { name: "Users" }).click();
    await page.getByRole("rowheader", { name: "bob@web.test" }).waitFor();
    await page.getByRole("button", { name: "Deactivate bob@web.test" }).click();
    await page.getByText("bob@web.test is deactivated").waitFor();
    await page.getByLabel("Role of alice@web.test").waitFor();
    await page.getByRole("navigation", { name: "Admin" }).getByRole("link", { name: "Dead letters" }).click();
    await eventually("every service's dead letters", async () => (await page.getByText("No dead letters.").count()) === 5);

    // The cluster as the API describes it. Embedded: one local node with every service and no
    // transporter to balance over (against WEB_TEST_SHOP_URL, whatever nodes the stack has).
    const cluster = await asAdmin("/admin/cluster");
    const embedded = !process.env.WEB_TEST_SHOP_URL;
    if (embedded) {
      assert.equal(cluster.balancer, "in-process (no transporter)");
      assert.deepEqual(
        cluster.nodes.map((n: any) => [n.local, n.available, n.services]),
        [[true, true, ["api", "baskets", "notifications", "orders", "payments", "products", "users"]]],
      );
    }
    await page.getByRole("navigation", { name: "Admin" }).getByRole("link", { name: "Cluster" }).click();
    await page.getByRole("heading", { level: 1, name: "Cluster" }).waitFor();
    await page.getByText(cluster.balancer, { exact: true }).waitFor();
    for (const node of cluster.nodes) {
      const row = page.getByRole("table", { name: "Nodes" }).getByRole("row").filter({ has: page.getByRole("rowheader", { name: new RegExp(`^${literal(node.id)}( |$)`) }) });
      const [state, services, , heartbeat] = await row.getByRole("cell").allInnerTexts();
      assert.deepEqual([state, services], [node.available ? "Available" : "Unavailable", node.services.join(", ")]);
      if (node.local) assert.equal(heartbeat, "This node");
    }
    // products.get: a row for each endpoint (node, state, circuit, calls, errors, mean latency).
    const productsGet = cluster.actions.find((a: any) => a.name === "products.get");
    assert.ok(productsGet?.endpoints.length, "products.get has an endpoint");
    const group = page
      .getByRole("table", { name: "products", exact: true })
      .getByRole("rowgroup")
      .filter({ has: page.getByRole("rowheader", { name: "products.get", exact: true }) });
    const endpoints = async () => Promise.all((await group.getByRole("row").all()).map((row) => row.getByRole("cell").allInnerTexts()));
    const shown = await endpoints();
    assert.deepEqual(
      shown.map(([nodeID, state, circuit]) => [nodeID, state, circuit]),
      productsGet.endpoints.map((ep: any) => [ep.nodeID, ep.available ? "Available" : "Unavailable", ep.circuit === "closed" ? "Closed" : "Open"]),
    );
    if (embedded) assert.deepEqual([shown[0][0], shown[0][2], shown[0][4]], [cluster.nodes[0].id, "Closed", "0"]);
    // Calls served by all its endpoints: the product pages opened so far, then one more on Refresh,
    // and one more again from the refresh every 5 seconds, without a click. (Products no page has
    // opened: the gateway's micro-cache has not kept them.)
    const served = async () => (await endpoints()).reduce((sum, cells) => sum + (Number(cells[3]) || 0), 0);
    const before = await served();
    assert.ok(before > 0, "products.get has served the product pages");
    await call(shop, `/products/${ids["PEN-7"]}`);
    await page.getByRole("button", { name: "Refresh" }).click();
    await eventually("the refreshed figures", async () => (await served()) >= before + 1);
    await page.getByLabel("Refresh every 5 seconds").check();
    await call(shop, `/products/${ids["PEN-8"]}`);
    await eventually("the figures to refresh by themselves", async () => (await served()) >= before + 2, 8_000);
    await page.getByLabel("Refresh every 5 seconds").uncheck();
    // Finding an action keeps only the tables of the services that have a match.
    await page.getByLabel("Find an action").fill("products.get");
    await page.getByRole("table", { name: "users", exact: true }).waitFor({ state: "detached" });
    await group.waitFor();

    await page.getByRole("navigation", { name: "Admin" }).getByRole("link", { name: "Overview" }).click();
    await page.getByRole("heading", { level: 2, name: "Payments" }).waitFor();
    await page.getByRole("navigation", { name: "Admin" }).getByRole("link", { name: "Orders" }).click();
    await page.getByRole("cell", { name: "Partly refunded" }).waitFor();
    await screenshot(page, "admin");

    // Unknown pages are said to be unknown, client-side and by the gateway alike.
    await page.goto(`${shop.url}/products/999999`);
    await page.getByRole("alert").waitFor();
    await page.goto(`${shop.url}/orders/not-an-order`);
    await page.getByRole("alert").waitFor();
  });

  it("logs no console error, exception, CSP violation or failed request on any page", () => {
    assert.deepEqual(problems.flat(), []);
  });
});
