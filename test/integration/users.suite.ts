/**
 * The users service against one SQL database: accounts, sign-in, rotating refresh tokens, roles.
 * Run by users.<dialect>.test.ts, one jest module registry (one configuration) per dialect.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import type { ServiceBroker } from "moleculer";
import { freshDatabase, type SqlKind, type TestDatabase } from "../support/databases";
import { TokenService } from "../../lib/auth/tokens";

export function userSuite(kind: SqlKind): void {
  let db: TestDatabase;
  let broker: ServiceBroker;
  let dataDir: string;
  const SECRET = "users-suite-secret".padEnd(40, "x");
  const as = (user?: { id: string; role: "user" | "admin" }) => ({ meta: { user } });
  const call = <T = any>(action: string, params: Record<string, unknown> = {}, opts: object = {}): Promise<T> => broker.call(`users.${action}`, params, opts);
  const failure = (p: Promise<unknown>) => p.then(() => Promise.reject(new Error("expected a failure")), (err) => err);
  const register = (email: string, password = "correct horse battery") => call("register", { email, password, firstName: "Ann", lastName: "Lee" });

  beforeAll(async () => {
    db = await freshDatabase(kind);
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "shop-users-"));
    Object.assign(process.env, {
      USERS_DB_URL: db.url, DATA_DIR: dataDir, LOG_LEVEL: "warn", LOG_FORMAT: "text", JWT_SECRET: SECRET,
      ADMIN_EMAIL: "Boss@Example.com", ADMIN_PASSWORD: "boss password 1",
    });
    const { ServiceBroker } = await import("moleculer");
    const { default: brokerConfig } = await import("../../moleculer.config");
    const { default: UsersService } = await import("../../services/users/users.service");
    broker = new ServiceBroker({ ...brokerConfig, nodeID: `users-${kind}`, transporter: null });
    broker.createService(UsersService);
    await broker.start();
  }, 60_000);

  afterAll(async () => {
    await broker?.stop();
    await db?.drop();
    fs.rmSync(dataDir, { recursive: true, force: true });
  });

  it("registers with a case-insensitively unique email and never returns the hash", async () => {
    const user = await register("Ann@Example.com");
    expect(user).toMatchObject({ email: "ann@example.com", role: "user", isActive: true, id: expect.stringMatching(/^[0-9a-f-]{36}$/) });
    expect(JSON.stringify(user)).not.toMatch(/password|scrypt/i);
    expect(await failure(register("ANN@example.com"))).toMatchObject({ code: 409, type: "EMAIL_TAKEN" });
    expect(await failure(register("bob@example.com", "short"))).toMatchObject({ code: 422 });
    expect(await failure(register("bob@example.com", "bob@example.com"))).toMatchObject({ code: 422 });
  });

  it("signs in with a verifiable JWT, and answers unknown emails and wrong passwords alike", async () => {
    const session = await call("login", { email: "ANN@example.com", password: "correct horse battery" });
    expect(session).toMatchObject({ tokenType: "Bearer", expiresIn: 900, user: { email: "ann@example.com" }, refreshToken: expect.any(String) });
    const claims = await new TokenService(SECRET).verify(session.accessToken);
    expect(claims).toMatchObject({ id: session.user.id, role: "user" });
    const wrong = await failure(call("login", { email: "ann@example.com", password: "wrong password" }));
    const unknown = await failure(call("login", { email: "nobody@example.com", password: "wrong password" }));
    expect([wrong.code, wrong.type, wrong.message]).toEqual([401, "INVALID_CREDENTIALS", "Invalid email or password"]);
    expect([unknown.code, unknown.type, unknown.message]).toEqual([wrong.code, wrong.type, wrong.message]);
  });

  it("rotates refresh tokens; reusing a spent one revokes its whole family", async () => {
    const first = await call("login", { email: "ann@example.com", password: "correct horse battery" });
    const second = await call("refreshToken", { refreshToken: first.refreshToken });
    expect(second.refreshToken).not.toBe(first.refreshToken);
    expect(await failure(call("refreshToken", { refreshToken: first.refreshToken }))).toMatchObject({ code: 401, data: { reason: "reused" } });
    // The thief's replay killed the legitimate successor too.
    expect(await failure(call("refreshToken", { refreshToken: second.refreshToken }))).toMatchObject({ code: 401 });
    expect(await failure(call("refreshToken", { refreshToken: "made-up" }))).toMatchObject({ code: 401, data: { reason: "unknown" } });
  });

  it("lets exactly one of two concurrent refreshes with the same token win", async () => {
    const { refreshToken } = await call("login", { email: "ann@example.com", password: "correct horse battery" });
    const results = await Promise.allSettled([call("refreshToken", { refreshToken }), call("refreshToken", { refreshToken })]);
    expect(results.filter((r) => r.status === "fulfilled").length).toBeLessThanOrEqual(1);
    expect(results.filter((r) => r.status === "rejected").length).toBeGreaterThanOrEqual(1);
  });

  it("logs out one session, and a password change ends all of them", async () => {
    const a = await call("login", { email: "ann@example.com", password: "correct horse battery" });
    const b = await call("login", { email: "ann@example.com", password: "correct horse battery" });
    const ann = { id: a.user.id, role: "user" as const };
    await call("logout", { refreshToken: a.refreshToken }, as(ann));
    expect(await failure(call("refreshToken", { refreshToken: a.refreshToken }))).toMatchObject({ code: 401 });
    // Someone else's token is not theirs to end.
    const mallory = { id: "00000000-0000-4000-8000-000000000000", role: "user" as const };
    await call("logout", { refreshToken: b.refreshToken }, as(mallory));
    const stillAlive = await call("refreshToken", { refreshToken: b.refreshToken });

    expect(await failure(call("changePassword", { currentPassword: "nope nope nope", newPassword: "a new password" }, as(ann)))).toMatchObject({ code: 403 });
    const fresh = await call("changePassword", { currentPassword: "correct horse battery", newPassword: "a brand new password" }, as(ann));
    expect(await failure(call("refreshToken", { refreshToken: stillAlive.refreshToken }))).toMatchObject({ code: 401 });
    expect((await call("refreshToken", { refreshToken: fresh.refreshToken })).user.id).toBe(ann.id);
    expect(await failure(call("login", { email: "ann@example.com", password: "correct horse battery" }))).toMatchObject({ code: 401 });
    await call("login", { email: "ann@example.com", password: "a brand new password" });
  });

  it("shows and changes the caller's own profile only", async () => {
    const { user } = await call("login", { email: "ann@example.com", password: "a brand new password" });
    const me = { id: user.id, role: "user" as const };
    expect((await call("profile", {}, as(me))).email).toBe("ann@example.com");
    expect(await call("updateProfile", { firstName: "Annie", lastName: "Lee" }, as(me))).toMatchObject({ firstName: "Annie" });
    expect(await failure(call("updateProfile", { firstName: "A", lastName: "B", role: "admin" }, as(me)))).toMatchObject({ code: 422 });
  });

  it("creates the first admin from ADMIN_EMAIL, and promotes an existing account", async () => {
    const admin = await call("login", { email: "boss@example.com", password: "boss password 1" });
    expect(admin.user.role).toBe("admin");
    await register("carol@example.com");
    const promoted = await call("ensureAdmin", { email: "carol@example.com", password: "whatever it is" });
    expect(promoted.role).toBe("admin");
    // Promotion keeps the owner's own password.
    await call("login", { email: "carol@example.com", password: "correct horse battery" });
  });

  it("lets admins list, search, change roles, deactivate and delete", async () => {
    const boss = { id: (await call("login", { email: "boss@example.com", password: "boss password 1" })).user.id, role: "admin" as const };
    const dave = await register("dave@example.com");
    const page = await call("adminList", { q: "DAVE", limit: 10 }, as(boss));
    expect(page).toMatchObject({ total: 1, limit: 10, offset: 0 });
    expect(page.items[0].email).toBe("dave@example.com");
    expect((await call("adminList", { role: "admin" }, as(boss))).items.map((u: any) => u.email).sort()).toEqual(["boss@example.com", "carol@example.com"]);
    expect((await call("assignRole", { id: dave.id, role: "admin" }, as(boss))).role).toBe("admin");
    expect(await failure(call("assignRole", { id: dave.id, role: "root" }, as(boss)))).toMatchObject({ code: 422 });

    // A deactivated account can neither sign in nor refresh.
    const session = await call("login", { email: "dave@example.com", password: "correct horse battery" });
    await call("adminUpdate", { id: dave.id, isActive: false }, as(boss));
    expect(await failure(call("refreshToken", { refreshToken: session.refreshToken }))).toMatchObject({ code: 401 });
    expect(await failure(call("login", { email: "dave@example.com", password: "correct horse battery" }))).toMatchObject({ code: 401 });

    await call("adminDelete", { id: dave.id }, as(boss));
    expect(await failure(call("adminGet", { id: dave.id }, as(boss)))).toMatchObject({ code: 404 });
    expect(await failure(call("adminDelete", { id: boss.id }, as(boss)))).toMatchObject({ code: 409 });
    expect(await failure(call("adminGet", { id: "not-a-uuid" }, as(boss)))).toMatchObject({ code: 422 });
  });

  it("tells the gateway each account's access as it is now, and broadcasts every change of it", async () => {
    const boss = { id: (await call("login", { email: "boss@example.com", password: "boss password 1" })).user.id, role: "admin" as const };
    const erin = await register("erin@example.com");
    const state = () => call("accessState", { id: erin.id });
    const broadcasts = jest.spyOn(broker, "broadcast");
    const announced = () => (broadcasts.mock.calls as unknown[][]).filter(([event, payload]) => event === "user.accessChanged" && (payload as { id?: string })?.id === erin.id).length;
    try {
      expect(await state()).toEqual({ active: true, role: "user", tokenVersion: 0 });

      await call("assignRole", { id: erin.id, role: "admin" }, as(boss));
      expect(await state()).toMatchObject({ role: "admin" });
      expect(announced()).toBe(1);
      const asAdmin = await call("login", { email: "erin@example.com", password: "correct horse battery" });
      const me = { id: erin.id, role: "admin" as const };
      expect(await failure(call("assignRole", { id: erin.id, role: "user" }, as(me)))).toMatchObject({ code: 409, type: "CANNOT_DEMOTE_SELF" });
      expect(await failure(call("adminUpdate", { id: erin.id, isActive: false }, as(me)))).toMatchObject({ code: 409, type: "CANNOT_DEACTIVATE_SELF" });
      // A demotion ends the sessions started as an admin.
      await call("assignRole", { id: erin.id, role: "user" }, as(boss));
      expect(await state()).toEqual({ active: true, role: "user", tokenVersion: 0 });
      expect(await failure(call("refreshToken", { refreshToken: asAdmin.refreshToken }))).toMatchObject({ code: 401 });

      // Deactivation revokes the access tokens too (a new version), and re-activation does not bring them back.
      await call("adminUpdate", { id: erin.id, isActive: false }, as(boss));
      expect(await state()).toEqual({ active: false, role: "user", tokenVersion: 1 });
      await call("adminUpdate", { id: erin.id, isActive: true }, as(boss));
      expect(await state()).toEqual({ active: true, role: "user", tokenVersion: 1 });

      // A password change does too; the pair it returns carries the new version.
      const changed = await call("changePassword", { currentPassword: "correct horse battery", newPassword: "a brand new password" }, as({ id: erin.id, role: "user" }));
      expect(await state()).toMatchObject({ tokenVersion: 2 });
      expect(await new TokenService(SECRET).verify(changed.accessToken)).toMatchObject({ id: erin.id, tokenVersion: 2 });
      expect(announced()).toBe(5);

      await call("adminDelete", { id: erin.id }, as(boss));
      expect(await state()).toBeNull();
      expect(announced()).toBe(6);
      expect(await call("accessState", { id: "00000000-0000-4000-8000-000000000000" })).toBeNull();
      expect(await call("accessState", { id: "not-a-uuid" })).toBeNull();
    } finally {
      broadcasts.mockRestore();
    }
  });

  it("lets an operator re-activate a deactivated admin with ensureAdmin", async () => {
    const boss = { id: (await call("login", { email: "boss@example.com", password: "boss password 1" })).user.id, role: "admin" as const };
    const frank = await register("frank@example.com");
    await call("assignRole", { id: frank.id, role: "admin" }, as(boss));
    await call("adminUpdate", { id: frank.id, isActive: false }, as(boss));
    expect(await call("ensureAdmin", { email: "frank@example.com", password: "whatever it is" })).toMatchObject({ role: "admin", isActive: true });
    await call("login", { email: "frank@example.com", password: "correct horse battery" });
  });
}
