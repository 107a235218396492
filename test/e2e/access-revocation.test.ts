/**
 * Role and status changes take effect on the next request, not when an access token expires: the
 * gateway authorizes with the account's current state (users.accessState), caches it briefly, and
 * drops it when users broadcasts `user.accessChanged`. The cache TTL here is long, so only that
 * broadcast can explain an immediate effect.
 */
import { startShop, http, type RunningShop } from "../support/shop";

let shop: RunningShop;
let admin: { id: string; token: string };
const api = (path: string) => `${shop.url}/api/v1${path}`;
const post = (path: string, body: unknown, token?: string) => http(api(path), { method: "POST", body, token });
const put = (path: string, body: unknown, token?: string) => http(api(path), { method: "PUT", body, token });
const get = (path: string, token?: string) => http(api(path), { token });
const PASSWORD = "a long password 1";

async function login(email: string, password = PASSWORD) {
  const res = await post("/users/login", { email, password });
  expect(res.status).toBe(200);
  return { id: res.body.user.id as string, token: res.body.accessToken as string, refreshToken: res.body.refreshToken as string };
}

async function signUp(email: string, role: "user" | "admin" = "user") {
  expect((await post("/users/register", { email, password: PASSWORD, firstName: "Bea", lastName: "Lee" })).status).toBe(201);
  const session = await login(email);
  if (role === "admin") expect((await post(`/admin/users/${session.id}/assign-role`, { role: "admin" }, admin.token)).status).toBe(200);
  return session;
}

beforeAll(async () => {
  shop = await startShop({ ADMIN_EMAIL: "first-admin@shop.test", ADMIN_PASSWORD: "admin password 1", ACCESS_CACHE_TTL_MS: "60000" });
  admin = await login("first-admin@shop.test", "admin password 1");
});
afterAll(() => shop.stop());

it("uses the current role: a promotion works at once, a demotion ends admin access on the very next request", async () => {
  const b = await signUp("bea@shop.test");
  expect((await get("/admin/users", b.token)).status).toBe(403);
  expect((await post(`/admin/users/${b.id}/assign-role`, { role: "admin" }, admin.token)).status).toBe(200);
  // The token still says "user"; the account is an admin now.
  expect((await get("/admin/users", b.token)).status).toBe(200);
  const asAdmin = await login("bea@shop.test");
  expect((await get("/admin/users", asAdmin.token)).status).toBe(200);

  expect((await post(`/admin/users/${b.id}/assign-role`, { role: "user" }, admin.token)).status).toBe(200);
  expect(await get("/admin/users", asAdmin.token)).toMatchObject({ status: 403, body: { type: "ERR_FORBIDDEN" } });
  // Not able to promote itself back, nor to lock out the admin who demoted it.
  expect((await post(`/admin/users/${b.id}/assign-role`, { role: "admin" }, asAdmin.token)).status).toBe(403);
  expect((await put(`/admin/users/${admin.id}`, { isActive: false }, asAdmin.token)).status).toBe(403);
  // Still a user: the token works where a user may go, and says who the user is now.
  expect(await get("/users/profile", asAdmin.token)).toMatchObject({ status: 200, body: { role: "user" } });
  // Demotion ends the sessions: the admin-era refresh token is dead.
  expect((await post("/users/refresh-token", { refreshToken: asAdmin.refreshToken })).status).toBe(401);
  expect((await get("/admin/users", admin.token)).status).toBe(200);
});

it("refuses a deactivated account's token on every route at once, and its refresh token", async () => {
  const c = await signUp("cole@shop.test", "admin");
  const session = await login("cole@shop.test");
  expect((await get("/admin/users", session.token)).status).toBe(200);

  expect((await put(`/admin/users/${c.id}`, { isActive: false }, admin.token)).status).toBe(200);
  const refused = await get("/users/profile", session.token);
  expect(refused).toMatchObject({ status: 401, body: { type: "ERR_INVALID_TOKEN", data: { reason: "account deactivated" } } });
  // The bug this guards against: a deactivated admin re-activating (or re-promoting) itself.
  expect((await put(`/admin/users/${c.id}`, { isActive: true }, session.token)).status).toBe(401);
  expect((await post(`/admin/users/${c.id}/assign-role`, { role: "admin" }, session.token)).status).toBe(401);
  expect((await put(`/admin/users/${admin.id}`, { isActive: false }, session.token)).status).toBe(401);
  // Any request that carries the token, even to a public route.
  expect((await get("/products", session.token)).status).toBe(401);
  expect((await post("/users/refresh-token", { refreshToken: session.refreshToken })).status).toBe(401);
  expect((await post("/users/login", { email: "cole@shop.test", password: PASSWORD })).status).toBe(401);
  expect((await get("/admin/users", admin.token)).status).toBe(200);
});

it("lets a re-activated account sign in again, while its old tokens stay revoked", async () => {
  const d = await signUp("dana@shop.test");
  expect((await put(`/admin/users/${d.id}`, { isActive: false }, admin.token)).status).toBe(200);
  expect((await get("/users/profile", d.token)).status).toBe(401);
  expect((await put(`/admin/users/${d.id}`, { isActive: true }, admin.token)).status).toBe(200);

  const again = await login("dana@shop.test");
  expect(await get("/users/profile", again.token)).toMatchObject({ status: 200, body: { id: d.id, isActive: true } });
  expect((await post("/users/refresh-token", { refreshToken: again.refreshToken })).status).toBe(200);
  expect(await get("/users/profile", d.token)).toMatchObject({ status: 401, body: { data: { reason: "token revoked" } } });
});

it("refuses a deleted account's token", async () => {
  const e = await signUp("eli@shop.test");
  expect((await get("/users/profile", e.token)).status).toBe(200);
  expect((await http(api(`/admin/users/${e.id}`), { method: "DELETE", token: admin.token })).status).toBe(204);
  expect(await get("/users/profile", e.token)).toMatchObject({ status: 401, body: { type: "ERR_INVALID_TOKEN", data: { reason: "account not found" } } });
  expect((await post("/users/refresh-token", { refreshToken: e.refreshToken })).status).toBe(401);
});

it("ends the other access tokens of an account whose password changes", async () => {
  await signUp("finn@shop.test");
  const laptop = await login("finn@shop.test");
  const phone = await login("finn@shop.test");
  const changed = await post("/users/change-password", { currentPassword: PASSWORD, newPassword: "another password 2" }, laptop.token);
  expect(changed.status).toBe(200);
  expect((await get("/users/profile", phone.token)).status).toBe(401);
  expect((await get("/users/profile", laptop.token)).status).toBe(401);
  expect((await get("/users/profile", changed.body.accessToken)).status).toBe(200);
});

it("refuses to let an admin demote or deactivate their own account", async () => {
  expect(await post(`/admin/users/${admin.id}/assign-role`, { role: "user" }, admin.token)).toMatchObject({ status: 409, body: { type: "CANNOT_DEMOTE_SELF" } });
  expect(await put(`/admin/users/${admin.id}`, { isActive: false }, admin.token)).toMatchObject({ status: 409, body: { type: "CANNOT_DEACTIVATE_SELF" } });
  // Renaming oneself, or re-asserting one's own role, is fine.
  expect((await put(`/admin/users/${admin.id}`, { firstName: "Ada", isActive: true }, admin.token)).status).toBe(200);
  expect((await post(`/admin/users/${admin.id}/assign-role`, { role: "admin" }, admin.token)).status).toBe(200);
  expect((await get("/admin/users", admin.token)).status).toBe(200);
});

it("asks users once per account while the cached state is fresh", async () => {
  const g = await signUp("gus@shop.test");
  const gateway: any = shop.broker.getLocalService("api");
  const lookups = jest.spyOn(gateway, "fetchAccessState");
  try {
    for (let i = 0; i < 3; i++) expect((await get("/users/profile", g.token)).status).toBe(200);
    expect(lookups.mock.calls.length).toBeLessThanOrEqual(1);
  } finally {
    lookups.mockRestore();
  }
});

it("answers 503, not the benefit of the doubt, when users cannot tell the account's state", async () => {
  const h = await signUp("hal@shop.test");
  const { Errors } = await import("moleculer");
  const call = shop.broker.call.bind(shop.broker);
  const outage = jest.spyOn(shop.broker, "call").mockImplementation(((action: string, ...rest: unknown[]) =>
    action === "users.accessState" ? Promise.reject(new Errors.ServiceNotAvailableError({ action, nodeID: "gone" })) : (call as any)(action, ...rest)) as any);
  try {
    expect(await get("/users/profile", h.token)).toMatchObject({ status: 503, body: { type: "AUTH_UNAVAILABLE" } });
  } finally {
    outage.mockRestore();
  }
  expect((await get("/users/profile", h.token)).status).toBe(200);
});
