/**
 * Hostile input through the gateway (embedded shop): control characters, numbers no database can
 * take, nulls for NOT NULL fields, bodies that cannot be decoded, malformed signed webhooks and
 * email variants each end in a clear 4xx that changes nothing; no amount of them opens a circuit;
 * and a 5xx that does happen is logged with its error, its stack and the request id.
 */
import zlib from "node:zlib";
import { request } from "node:http";
import Stripe from "stripe";
import type { ServiceSchema } from "moleculer";
import { startShop, http, type RunningShop } from "../support/shop";

const SECRET = "whsec_hostile_secret";
const ADMIN = { email: "admin@hostile.test", password: "admin password 1" };
const USER = { email: "user@hostile.test", password: "user password 1" };
const BOOM = "kaboom from the faulty test action";

/** Routed actions that fail the way a bug does (a plain Error, a TypeError) and the way a database that is down does. */
const faultyService: ServiceSchema = {
  name: "faulty",
  settings: { rest: "/" },
  actions: {
    explode: {
      rest: "GET /test/explode",
      auth: "public",
      handler() {
        throw new Error(BOOM);
      },
    } as any,
    stumble: {
      rest: "GET /test/stumble",
      auth: "public",
      handler() {
        throw new TypeError("Cannot read properties of undefined (reading 'id')");
      },
    } as any,
    unreachable: {
      rest: "GET /test/unreachable",
      auth: "public",
      handler() {
        throw Object.assign(new Error("connect ECONNREFUSED 127.0.0.1:5432"), { code: "ECONNREFUSED" });
      },
    } as any,
  },
};

// Pino writes to fd 1 behind process.stdout's back unless stdout.write was replaced before it was
// created: the spy goes in before the shop starts, and keeps what it is given.
const stdout: string[] = [];
const stdoutSpy = jest.spyOn(process.stdout, "write").mockImplementation(((chunk: string | Uint8Array) => {
  stdout.push(typeof chunk === "string" ? chunk : Buffer.from(chunk).toString("utf8"));
  return true;
}) as typeof process.stdout.write);

let shop: RunningShop;
let admin: string;
let token: string;
let userId: string;
let productId: number;
const api = (path: string) => `${shop.url}/api/v1${path}`;

beforeAll(async () => {
  shop = await startShop(
    { LOG_FORMAT: "json", STRIPE_WEBHOOK_SECRET: SECRET, ADMIN_EMAIL: ADMIN.email, ADMIN_PASSWORD: ADMIN.password },
    [faultyService],
  );
  admin = (await http(api("/users/login"), { method: "POST", body: ADMIN })).body.accessToken;
  userId = (await http(api("/users/register"), { method: "POST", body: { ...USER, firstName: "Hal", lastName: "Ostile" } })).body.id;
  token = (await http(api("/users/login"), { method: "POST", body: USER })).body.accessToken;
  const product = await http(api("/admin/products"), {
    method: "POST",
    token: admin,
    body: { sku: "HOSTILE-1", name: "Sturdy mug", description: "Holds coffee", price: 1200, stock: 50, category: "kitchen" },
  });
  productId = product.body.id;
});

afterAll(async () => {
  await shop?.stop();
  stdoutSpy.mockRestore();
});

const invalid = (field: string, type: string) => ({
  name: "ValidationError",
  message: "Parameters validation error!",
  code: 422,
  type: "VALIDATION_ERROR",
  data: [expect.objectContaining({ field, type, message: expect.any(String) })],
});

const adminProduct = async () => (await http(api(`/admin/products/${productId}`), { token: admin })).body;
const adminUser = async () => (await http(api(`/admin/users/${userId}`), { token: admin })).body;

describe("control characters", () => {
  it.each([
    ["q on the catalog", "/products?q=%00", "q"],
    ["a C0 character in category", "/products?category=kitchen%01", "category"],
    ["a C1 character in q", "/products?q=mug%C2%85", "q"],
    ["DEL in q", "/products?q=%7F", "q"],
    ["a path parameter", "/products/category/kitchen%00", "category"],
  ])("refuses NUL and its kind in %s with 422", async (_what, path, field) => {
    const res = await http(api(path));
    expect(res.status).toBe(422);
    expect(res.body).toEqual(invalid(field, "stringControlCharacter"));
  });

  it("refuses them in an admin search and a sign-in email", async () => {
    expect((await http(api("/admin/users?q=%00"), { token: admin })).body).toEqual(invalid("q", "stringControlCharacter"));
    const login = await http(api("/users/login"), { method: "POST", body: { email: "user\u0000@hostile.test", password: USER.password } });
    expect(login.status).toBe(422);
    expect(login.body).toEqual(invalid("email", "stringControlCharacter"));
  });

  it("changes nothing: no account, no product edit", async () => {
    const before = await adminProduct();
    const register = await http(api("/users/register"), {
      method: "POST",
      body: { email: "eve@hostile.test", password: "eve password 1", firstName: "Eve\u001B[31m", lastName: "X" },
    });
    expect(register.body).toEqual(invalid("firstName", "stringControlCharacter"));
    const patch = await http(api(`/admin/products/${productId}`), { method: "PATCH", token: admin, body: { name: "Mug\u0000" } });
    expect(patch.body).toEqual(invalid("name", "stringControlCharacter"));
    expect((await http(api("/admin/users?q=eve"), { token: admin })).body.total).toBe(0);
    expect(await adminProduct()).toEqual(before);
  });

  it("still accepts tab, line feed and carriage return", async () => {
    expect((await http(api("/products?q=mug%09x"))).status).toBe(200);
    const res = await http(api(`/admin/products/${productId}`), { method: "PATCH", token: admin, body: { description: "Holds coffee.\r\nDishwasher\tsafe." } });
    expect(res.status).toBe(200);
    expect(res.body.description).toBe("Holds coffee.\r\nDishwasher\tsafe.");
  });
});

describe("numbers no database can take", () => {
  it.each([
    ["/orders?offset=1e21", "offset", "user"],
    ["/payments?offset=1e21", "offset", "user"],
    ["/admin/users?offset=1e21", "offset", "admin"],
    ["/admin/orders?offset=1e21", "offset", "admin"],
    ["/admin/payments?offset=1e21", "offset", "admin"],
    ["/admin/products?offset=1e21", "offset", "admin"],
    ["/products?offset=1e21", "offset", "public"],
    ["/products/low-stock?offset=1e21", "offset", "public"],
    ["/products/low-stock?threshold=1e21", "threshold", "public"],
    ["/products/category/kitchen?offset=1e21", "offset", "public"],
    ["/products?minPrice=1e21", "minPrice", "public"],
    ["/products?maxPrice=1e21", "maxPrice", "public"],
    ["/products/1e21", "id", "public"],
  ])("refuses %s with 422", async (path, field, who) => {
    const res = await http(api(path), { token: who === "admin" ? admin : who === "user" ? token : undefined });
    expect(res.status).toBe(422);
    expect(res.body).toEqual(invalid(field, "numberMax"));
  });
});

describe("null for a field that cannot be null", () => {
  it("refuses it in PATCH and PUT of a product with 422, changing nothing", async () => {
    const before = await adminProduct();
    const patch = await http(api(`/admin/products/${productId}`), { method: "PATCH", token: admin, body: { name: null } });
    expect(patch.status).toBe(422);
    expect(patch.body).toEqual(invalid("name", "required"));
    const { sku, name, price, currency, category } = before;
    const put = await http(api(`/admin/products/${productId}`), { method: "PUT", token: admin, body: { sku, name, price, currency, category, isActive: null } });
    expect(put.body).toEqual(invalid("isActive", "required"));
    expect(await adminProduct()).toEqual(before);
  });

  it("refuses it when creating a product, and creates nothing", async () => {
    const total = (await http(api("/admin/products"), { token: admin })).body.total;
    const res = await http(api("/admin/products"), { method: "POST", token: admin, body: { sku: "HOSTILE-NULL", name: "Null", price: 1, category: "x", stock: null } });
    expect(res.body).toEqual(invalid("stock", "required"));
    expect((await http(api("/admin/products"), { token: admin })).body.total).toBe(total);
  });

  it("refuses it in an admin's and a user's account update, changing nothing", async () => {
    const before = await adminUser();
    const byAdmin = await http(api(`/admin/users/${userId}`), { method: "PUT", token: admin, body: { firstName: null } });
    expect(byAdmin.status).toBe(422);
    expect(byAdmin.body).toEqual(invalid("firstName", "required"));
    const own = await http(api("/users/profile"), { method: "PUT", token, body: { firstName: null, lastName: "Ostile" } });
    expect(own.status).toBe(422);
    expect(own.body).toEqual(invalid("firstName", "required"));
    expect(await adminUser()).toEqual(before);
  });

  it("still accepts null where the field may be empty", async () => {
    const res = await http(api(`/admin/products/${productId}`), { method: "PATCH", token: admin, body: { imageUrl: null } });
    expect(res.status).toBe(200);
    expect(res.body.imageUrl).toBeNull();
  });
});

describe("bodies the gateway cannot decode", () => {
  const login = JSON.stringify(USER);
  const post = (encoding: string, body: Buffer) =>
    fetch(api("/users/login"), { method: "POST", headers: { "content-type": "application/json", "content-encoding": encoding }, body });

  it.each([
    ["gzip", Buffer.from("certainly not gzip")],
    ["gzip", zlib.gzipSync(login).subarray(0, 12)],
    ["deflate", Buffer.from("certainly not deflate")],
    ["br", Buffer.from("certainly not brotli")],
  ])("answers a corrupt %s body with 400", async (encoding, body) => {
    const res = await post(encoding, body);
    expect(res.status).toBe(400);
    expect(await res.json()).toEqual({ name: "BadRequestError", message: expect.any(String), code: 400, type: "INVALID_BODY_ENCODING", data: null });
  });

  it("still reads a well-formed gzip body", async () => {
    expect((await post("gzip", zlib.gzipSync(login))).status).toBe(200);
  });

  /** fetch sends no body with a GET; node:http does, as any client may. */
  const send = (method: string, url: string, body: string) =>
    new Promise<{ status: number; body: any }>((resolve, reject) => {
      const req = request(url, { method, headers: { "content-type": "application/json", "content-length": Buffer.byteLength(body) } }, (res) => {
        let text = "";
        res.on("data", (chunk) => (text += chunk));
        res.on("end", () => resolve({ status: res.statusCode!, body: JSON.parse(text) }));
      });
      req.on("error", reject);
      req.end(body);
    });

  it("refuses a body nested deeper than any request of the shop with 400", async () => {
    const deep = `{"email":"${USER.email}","password":"${USER.password}","x":${"[".repeat(20_000)}${"]".repeat(20_000)}}`;
    for (const [method, path] of [["GET", "/products/stats?deep=1"], ["POST", "/users/login"]]) {
      const res = await send(method, api(path), deep);
      expect(res.status).toBe(400);
      expect(res.body).toEqual({ name: "BadRequestError", message: expect.any(String), code: 400, type: "BODY_TOO_DEEP", data: null });
    }
  });
});

describe("signed Stripe events that are not well-formed", () => {
  const webhook = (event: unknown) => {
    const payload = JSON.stringify(event);
    const signature = Stripe.webhooks.generateTestHeaderString({ payload, secret: SECRET });
    return http(api("/payments/webhooks/stripe"), { method: "POST", rawBody: payload, headers: { "stripe-signature": signature } });
  };

  it("refuses one without a type or a data.object with 400, changing nothing", async () => {
    await http(api("/basket/items"), { method: "POST", token, body: { productId, quantity: 1 } });
    const order = (await http(api("/orders"), { method: "POST", token, body: {}, headers: { "idempotency-key": "hostile-order" } })).body;
    const payment = (await http(api("/payments"), { method: "POST", token, body: { orderId: order.id }, headers: { "idempotency-key": "hostile-pay" } })).body;
    const intent = { id: `sim_pi_${payment.id}`, object: "payment_intent" };

    for (const event of [
      { id: "evt_no_type", object: "event", data: { object: intent } },
      { id: "evt_no_object", object: "event", type: "payment_intent.succeeded", data: {} },
      { id: "evt_no_data", object: "event", type: "payment_intent.succeeded" },
      null,
    ]) {
      const res = await webhook(event);
      expect(res.status).toBe(400);
      expect(res.body).toMatchObject({ code: 400, type: "INVALID_EVENT" });
    }
    expect((await http(api(`/payments/${payment.id}`), { token })).body.status).toBe(payment.status);
  });
});

describe("emails in another case or Unicode form", () => {
  it("are one account", async () => {
    const composed = "Jos\u00E9@Hostile.test";
    const decomposed = "JOSE\u0301@hostile.test";
    const first = await http(api("/users/register"), { method: "POST", body: { email: composed, password: "jose password 1", firstName: "J", lastName: "S" } });
    expect(first.status).toBe(201);
    expect(first.body.email).toBe("jos\u00E9@hostile.test");
    const second = await http(api("/users/register"), { method: "POST", body: { email: decomposed, password: "jose password 2", firstName: "J", lastName: "S" } });
    expect(second.status).toBe(409);
    expect(second.body).toMatchObject({ type: "EMAIL_TAKEN" });
    expect((await http(api("/users/login"), { method: "POST", body: { email: decomposed, password: "jose password 1" } })).status).toBe(200);
  });
});

describe("the circuit breaker", () => {
  const openCircuits = () =>
    [...((shop.broker as any).CircuitBreakerStore as Map<string, { state: string; ep: { action: { name: string } } }>).values()]
      .filter((item) => item.state !== "close")
      .map((item) => item.ep.action.name);
  const statusesOf = async (path: string, times: number) => {
    const statuses: number[] = [];
    for (let i = 0; i < times; i++) statuses.push((await http(api(path))).status);
    return statuses;
  };

  it("stays closed through 50 anonymous hostile requests, and every action still answers", async () => {
    const nul = encodeURIComponent("\u0000");
    const status = (res: Promise<{ status: number }>) => res.then((r) => r.status);
    // Half of them at products.list, the most exposed action: 20 failures there used to open its circuit.
    const atList = [() => status(http(api(`/products?q=${nul}`))), () => status(http(api(`/products?category=a${nul}`)))];
    const elsewhere = [
      () => status(http(api(`/products/category/a${nul}`))),
      () => status(http(api("/products?offset=1e21"))),
      () => status(http(api("/products/low-stock?threshold=1e21"))),
      () => status(http(api("/users/login"), { method: "POST", body: { email: "x\u0000@hostile.test", password: "whatever 1" } })),
      () => status(fetch(api("/users/login"), { method: "POST", headers: { "content-type": "application/json", "content-encoding": "gzip" }, body: Buffer.from("junk") })),
      () => status(http(api("/users/login"), { method: "POST", rawBody: "{not json" })),
    ];
    const plan = Array.from({ length: 50 }, (_, i) => (i % 2 === 0 ? atList[(i / 2) % atList.length] : elsewhere[((i - 1) / 2) % elsewhere.length]));
    const statuses: number[] = [];
    for (let i = 0; i < plan.length; i += 10) statuses.push(...(await Promise.all(plan.slice(i, i + 10).map((send) => send()))));
    expect(statuses.every((s) => s >= 400 && s < 500)).toBe(true);

    expect(openCircuits()).toEqual([]);
    // Fresh queries: neither the gateway's micro-cache nor the broker's cache may answer for the actions.
    expect((await http(api("/products?limit=7&sort=-price"))).status).toBe(200);
    expect((await http(api(`/products/${productId}`), { headers: { authorization: `Bearer ${token}` } })).status).toBe(200);
    expect((await http(api("/products/category/kitchen?limit=3"))).status).toBe(200);
    expect((await http(api("/users/login"), { method: "POST", body: USER })).status).toBe(200);
  });

  it("does not count a bug a client can trigger, and still opens for a dependency that is down", async () => {
    // 500s from a bug: the action keeps answering (a 500, not "not available") and its circuit stays closed.
    expect(await statusesOf("/test/stumble", 25)).toEqual(Array(25).fill(500));
    expect(openCircuits()).toEqual([]);
    // A refused connection is the infrastructure's fault: after 20 of them the circuit opens.
    const statuses = await statusesOf("/test/unreachable", 25);
    expect(statuses.slice(0, 20)).toEqual(Array(20).fill(500));
    expect(statuses.slice(20)).not.toContain(500);
    expect(openCircuits()).toEqual(["faulty.unreachable"]);
    expect((await http(api("/products?limit=5"))).status).toBe(200);
  });
});

describe("a 5xx in the log", () => {
  it("carries the error, its stack and the request id (LOG_FORMAT=json), and stays out of the response", async () => {
    const res = await http(api("/test/explode"), { headers: { "x-request-id": "hostile-log-json" } });
    expect(res.status).toBe(500);
    expect(res.body).toEqual({ name: "InternalServerError", message: "Internal server error", code: 500, type: "INTERNAL_ERROR", data: null });
    expect(res.headers.get("x-request-id")).toBe("hostile-log-json");

    const lines = stdout.join("").split("\n").filter((line) => line.includes(BOOM));
    expect(lines).toHaveLength(1); // logged once, not once per layer
    const entry = JSON.parse(lines[0]);
    expect(entry).toMatchObject({ level: "error", requestId: "hostile-log-json", msg: `Request failed: Error: ${BOOM}` });
    expect(entry.err).toMatchObject({ type: "Error", message: BOOM });
    expect(entry.err.stack).toMatch(/\n\s+at .*hostile-input\.test\.ts/);
  });
});

describe("with LOG_FORMAT=text and sign-in limits on", () => {
  let textShop: RunningShop;
  // A second shop with its own configuration: modules (and the configuration they read) load afresh.
  beforeAll(async () => {
    await jest.isolateModulesAsync(async () => {
      textShop = await startShop({ LOG_FORMAT: "text", AUTH_RATE_LIMIT: "3", TRUST_PROXY: "1" }, [faultyService]);
    });
  });
  afterAll(() => textShop?.stop());

  it("logs a 5xx with the error, its stack and the request id", async () => {
    const errors = jest.spyOn(console, "error").mockImplementation(() => undefined);
    try {
      const res = await http(`${textShop.url}/api/v1/test/explode`, { headers: { "x-request-id": "hostile-log-text" } });
      expect(res.status).toBe(500);
      const lines = errors.mock.calls.map((args) => args.join(" ")).filter((line) => line.includes(BOOM));
      expect(lines).toHaveLength(1);
      expect(lines[0]).toContain("[hostile-log-text]");
      expect(lines[0]).toContain(`Error: ${BOOM}`);
      expect(lines[0]).toMatch(/\n\s+at .*hostile-input\.test\.ts/);
    } finally {
      errors.mockRestore();
    }
  });

  it("counts sign-in attempts per email whatever its case or Unicode form", async () => {
    const variants = ["jos\u00E9@limits.test", "JOS\u00C9@limits.test", "jose\u0301@limits.test", "JOSE\u0301@LIMITS.TEST"];
    // Each attempt from another address: only the per-email limit can stop the last one.
    const statuses = [];
    for (const [i, email] of variants.entries()) {
      const res = await http(`${textShop.url}/api/v1/users/login`, {
        method: "POST",
        body: { email, password: "wrong password" },
        headers: { "x-forwarded-for": `198.51.100.${i + 1}` },
      });
      statuses.push(res.status);
    }
    expect(statuses).toEqual([401, 401, 401, 429]);
  });
});
