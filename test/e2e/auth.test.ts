/** Accounts through the gateway, tried as a new user would on the embedded shop. */
import { startShop, http, type RunningShop } from "../support/shop";

let shop: RunningShop;
const api = (path: string) => `${shop.url}/api/v1${path}`;
const post = (path: string, body: unknown, token?: string, headers?: Record<string, string>) => http(api(path), { method: "POST", body, token, headers });

beforeAll(async () => {
  shop = await startShop({ ADMIN_EMAIL: "admin@shop.test", ADMIN_PASSWORD: "admin password 1", });
});
afterAll(() => shop.stop());

it("registers, signs in, refreshes, reads the profile and signs out", async () => {
  const registered = await post("/users/register", { email: "new@shop.test", password: "my new password", firstName: "New", lastName: "User" });
  expect(registered.status).toBe(201);
  const login = await post("/users/login", { email: "new@shop.test", password: "my new password" });
  expect(login.status).toBe(200);
  const { accessToken, refreshToken } = login.body;

  const profile = await http(api("/users/profile"), { token: accessToken });
  expect(profile).toMatchObject({ status: 200, body: { email: "new@shop.test", role: "user" } });
  expect((await http(api("/users/profile"))).status).toBe(401);
  expect((await http(api("/users/profile"), { token: accessToken + "x" })).status).toBe(401);

  const refreshed = await post("/users/refresh-token", { refreshToken });
  expect(refreshed.status).toBe(200);
  // The old refresh token is spent; replaying it also kills the new one.
  expect((await post("/users/refresh-token", { refreshToken })).status).toBe(401);
  expect((await post("/users/refresh-token", { refreshToken: refreshed.body.refreshToken })).status).toBe(401);

  const again = await post("/users/login", { email: "new@shop.test", password: "my new password" });
  const logout = await post("/users/logout", { refreshToken: again.body.refreshToken }, again.body.accessToken);
  expect(logout.status).toBe(204);
  expect((await post("/users/refresh-token", { refreshToken: again.body.refreshToken })).status).toBe(401);

  // A user is not an admin; the admin from ADMIN_EMAIL is.
  expect((await http(api("/admin/users"), { token: accessToken })).status).toBe(403);
  const admin = await post("/users/login", { email: "admin@shop.test", password: "admin password 1" });
  const users = await http(api("/admin/users"), { token: admin.body.accessToken });
  expect(users.status).toBe(200);
  expect(users.body.items.map((u: any) => u.email)).toEqual(expect.arrayContaining(["new@shop.test", "admin@shop.test"]));
});
