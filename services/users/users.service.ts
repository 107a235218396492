/**
 * Accounts, sign-in and sessions. Access tokens are short-lived JWTs (lib/auth/tokens.ts); refresh
 * tokens are opaque, single use and rotated (sessions.ts). Identity always comes from the token.
 */
import type { Context, Service, ServiceSchema, ServiceSettingSchema } from "moleculer";
import { literal, Op, UniqueConstraintError, type Sequelize } from "sequelize";
import { SqlDbMixin } from "../../mixins/sql-db.mixin";
import { SweeperMixin } from "../../mixins/sweeper.mixin";
import { containsIgnoringCase, newestFirst } from "../../lib/sql";
import { config } from "../../lib/config";
import { pageParams, text, trimmed } from "../../lib/params";
import { page, ref } from "../../lib/http/schemas";
import { DomainError, notFound } from "../../lib/errors";
import { resolveJwtSecret, TokenService } from "../../lib/auth/tokens";
import type { ShopMeta } from "../../lib/http/access";
import type { AccessState } from "../../lib/auth/access-cache";
import { created, noContent } from "../../lib/http/responses";
import { defineUserModels, User } from "./user.model";
import { userMigrations } from "./migrations";
import { Sessions } from "./sessions";
import { decoyHash, hashPassword, verifyPassword } from "./passwords";
import { accountFields, checkPassword, normalizeEmail, ROLES, toUserView, TRIMMED_FIELDS, type Role, type UserRecord, type UserView } from "./account";

type Ctx<P = unknown> = Context<P, ShopMeta>;

const cfg = config();
const idParam = { id: { type: "uuid" } } as const;
const BAD_CREDENTIALS = () => new DomainError(401, "INVALID_CREDENTIALS", "Invalid email or password");
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
/** Revokes every access token of the account (the gateway compares the token's `ver`). */
const NEXT_TOKEN_VERSION = () => literal("token_version + 1");
/** A users row as read from the table: with its token version. */
type AccountRow = UserRecord & { tokenVersion?: number };
/** What a sign-in answers (the Session schema). */
interface SessionView {
  accessToken: string;
  refreshToken: string;
  tokenType: "Bearer";
  expiresIn: number;
  user: UserView;
}

/** The service's types (the pattern of services/notifications): `this` is the service with these. */
interface UsersSettings extends ServiceSettingSchema {
  rest: string;
  idField: string;
}
interface UsersMethods {
  pruneSessions(): Promise<void>;
  signIn(user: AccountRow, refreshToken: string): Promise<SessionView>;
  createUser(fields: { email: string; password: string; firstName: string; lastName: string }, role: Role): Promise<UserRecord>;
  accessChanged(id: string): Promise<void>;
  findUser(id: string): Promise<UserRecord>;
  updateUser(id: string, fields: Record<string, unknown>): Promise<UserView>;
  ensureAdmin(rawEmail: string, password: string): Promise<UserRecord>;
}
/** What created() and SqlDbMixin put on the service. */
interface UsersVars {
  sequelize: Sequelize;
  tokens: TokenService;
  sessions: Sessions;
}
type UsersThis = Service<UsersSettings> & UsersMethods & UsersVars;

const UsersService: ServiceSchema<UsersSettings, UsersMethods, UsersVars> = {
  name: "users",
  mixins: [
    SweeperMixin({ method: "pruneSessions", everySeconds: cfg.events.pruneIntervalSeconds, what: "Pruning expired sessions" }),
    SqlDbMixin({ service: "users", models: defineUserModels, migrations: userMigrations }),
  ],

  settings: {
    rest: "/",
    idField: "id",
  },

  actions: {
    register: {
      rest: "POST /users/register",
      auth: "public",
      rateLimit: "auth",
      summary: "Create an account (201 with the user)",
      params: { $$strict: "remove", ...accountFields },
      responses: { 201: ref("User"), errors: [409] },
      async handler(this: UsersThis, ctx: Ctx<{ email: string; password: string; firstName: string; lastName: string }>) {
        const email = normalizeEmail(ctx.params.email);
        checkPassword(ctx.params.password, email);
        const user = await this.createUser({ ...trimmed(ctx.params, TRIMMED_FIELDS), email }, "user");
        return created(ctx, "/api/v1/users/profile", toUserView(user));
      },
    },

    login: {
      rest: "POST /users/login",
      auth: "public",
      rateLimit: "auth",
      summary: "Sign in: an access token (JWT) and a refresh token",
      params: { $$strict: "remove", email: accountFields.email, password: accountFields.password },
      responses: { 200: ref("Session") },
      async handler(this: UsersThis, ctx: Ctx<{ email: string; password: string }>) {
        const user = (await User.findOne({ where: { email: normalizeEmail(ctx.params.email) }, raw: true })) as UserRecord | null;
        // The same work and the same answer whether the email is unknown or the password wrong.
        const matches = await verifyPassword(ctx.params.password, user?.passwordHash ?? (await decoyHash()));
        if (!user || !matches || !user.isActive) throw BAD_CREDENTIALS();
        return this.signIn(user, await this.sessions.start(user.id));
      },
    },

    refreshToken: {
      rest: "POST /users/refresh-token",
      auth: "public",
      summary: "Trade a refresh token for a new pair; the old one is spent",
      params: { $$strict: "remove", refreshToken: text(200, { min: 1 }) },
      responses: { 200: ref("Session") },
      async handler(this: UsersThis, ctx: Ctx<{ refreshToken: string }>) {
        const { userId, token } = await this.sessions.rotate(ctx.params.refreshToken, async (id: string) => {
          const user = await User.findByPk(id, { attributes: ["isActive"], raw: true });
          return !!user?.isActive;
        });
        return this.signIn((await User.findByPk(userId, { raw: true })) as UserRecord, token);
      },
    },

    logout: {
      rest: "POST /users/logout",
      auth: "user",
      summary: "End the session of a refresh token",
      params: { $$strict: "remove", refreshToken: text(200, { min: 1 }) },
      responses: { 204: true },
      async handler(this: UsersThis, ctx: Ctx<{ refreshToken: string }>) {
        // Only the token's owner may end its session; anyone else's token is ignored, not revealed.
        if ((await this.sessions.ownerOf(ctx.params.refreshToken)) === ctx.meta.user!.id) await this.sessions.end(ctx.params.refreshToken);
        return noContent(ctx);
      },
    },

    profile: {
      rest: "GET /users/profile",
      auth: "user",
      summary: "The caller's account",
      responses: { 200: ref("User") },
      async handler(this: UsersThis, ctx: Ctx) {
        return toUserView(await this.findUser(ctx.meta.user!.id));
      },
    },

    updateProfile: {
      rest: "PUT /users/profile",
      auth: "user",
      summary: "Change the caller's name",
      params: { $$strict: true, firstName: accountFields.firstName, lastName: accountFields.lastName },
      responses: { 200: ref("User") },
      async handler(this: UsersThis, ctx: Ctx<{ firstName: string; lastName: string }>) {
        const { firstName, lastName } = trimmed(ctx.params, TRIMMED_FIELDS);
        return this.updateUser(ctx.meta.user!.id, { firstName, lastName });
      },
    },

    changePassword: {
      rest: "POST /users/change-password",
      auth: "user",
      summary: "Change the caller's password; every session and access token ends and a new pair is returned",
      params: { $$strict: true, currentPassword: accountFields.password, newPassword: accountFields.password },
      responses: { 200: ref("Session"), errors: [403] },
      async handler(this: UsersThis, ctx: Ctx<{ currentPassword: string; newPassword: string }>) {
        const user = (await User.findByPk(ctx.meta.user!.id, { raw: true })) as UserRecord | null;
        if (!user || !(await verifyPassword(ctx.params.currentPassword, user.passwordHash!))) {
          throw new DomainError(403, "WRONG_PASSWORD", "The current password is wrong");
        }
        checkPassword(ctx.params.newPassword, user.email);
        await User.update({ passwordHash: await hashPassword(ctx.params.newPassword), tokenVersion: NEXT_TOKEN_VERSION() }, { where: { id: user.id } });
        await this.sessions.endAll(user.id);
        await this.accessChanged(user.id);
        return this.signIn(await this.findUser(user.id), await this.sessions.start(user.id));
      },
    },

    // ---- admin -----------------------------------------------------------------------------

    adminList: {
      rest: "GET /admin/users",
      auth: "admin",
      summary: "Accounts, newest first; `q` searches email and names",
      params: {
        ...pageParams,
        q: text(100, { min: 1, optional: true }),
        role: { type: "enum", values: ROLES, optional: true },
      },
      responses: { 200: page("User") },
      handler(this: UsersThis, ctx: Ctx<{ limit?: number; offset?: number; q?: string; role?: Role }>) {
        const where: Record<string | symbol, unknown> = {};
        if (ctx.params.role) where.role = ctx.params.role;
        if (ctx.params.q) where[Op.or] = ["email", "first_name", "last_name"].map((column) => containsIgnoringCase(this.sequelize, column, ctx.params.q!));
        return newestFirst(User, where, ctx.params, toUserView);
      },
    },

    adminGet: {
      rest: "GET /admin/users/:id",
      auth: "admin",
      summary: "One account",
      params: idParam,
      responses: { 200: ref("User"), errors: [404] },
      async handler(this: UsersThis, ctx: Ctx<{ id: string }>) {
        return toUserView(await this.findUser(ctx.params.id));
      },
    },

    adminUpdate: {
      rest: "PUT /admin/users/:id",
      auth: "admin",
      summary: "Change an account's name or activity; deactivating ends its sessions and access tokens (not your own: 409)",
      params: {
        $$strict: true,
        ...idParam,
        firstName: { ...accountFields.firstName, optional: true },
        lastName: { ...accountFields.lastName, optional: true },
        isActive: { type: "boolean", optional: true },
      },
      responses: { 200: ref("User"), errors: [404, 409] },
      async handler(this: UsersThis, ctx: Ctx<{ id: string; firstName?: string; lastName?: string; isActive?: boolean }>) {
        const { id, ...fields } = trimmed(ctx.params, TRIMMED_FIELDS);
        const deactivating = fields.isActive === false;
        // The acting admin stays one: there is always an active admin to undo a mistake.
        if (deactivating && id === ctx.meta.user?.id) throw new DomainError(409, "CANNOT_DEACTIVATE_SELF", "Admins cannot deactivate their own account");
        // Deactivation also revokes the access tokens, so re-activating does not bring them back.
        const view = await this.updateUser(id, deactivating ? { ...fields, tokenVersion: NEXT_TOKEN_VERSION() } : fields);
        if (deactivating) await this.sessions.endAll(id);
        if (fields.isActive !== undefined) await this.accessChanged(id);
        return view;
      },
    },

    adminDelete: {
      rest: "DELETE /admin/users/:id",
      auth: "admin",
      summary: "Delete an account (kept for the record, unable to sign in)",
      params: idParam,
      responses: { 204: true, errors: [404, 409] },
      async handler(this: UsersThis, ctx: Ctx<{ id: string }>) {
        if (ctx.params.id === ctx.meta.user?.id) throw new DomainError(409, "CANNOT_DELETE_SELF", "Admins cannot delete their own account");
        const deleted = await User.destroy({ where: { id: ctx.params.id } });
        if (deleted === 0) throw notFound("user", { id: ctx.params.id });
        await this.sessions.endAll(ctx.params.id);
        await this.accessChanged(ctx.params.id);
        return noContent(ctx);
      },
    },

    assignRole: {
      rest: "POST /admin/users/:id/assign-role",
      auth: "admin",
      summary: "Make an account a user or an admin; a demoted admin's sessions end (not your own: 409)",
      params: { $$strict: true, ...idParam, role: { type: "enum", values: ROLES } },
      responses: { 200: ref("User"), errors: [404, 409] },
      async handler(this: UsersThis, ctx: Ctx<{ id: string; role: Role }>) {
        const { id, role } = ctx.params;
        if (role !== "admin" && id === ctx.meta.user?.id) throw new DomainError(409, "CANNOT_DEMOTE_SELF", "Admins cannot demote their own account");
        const before = await this.findUser(id);
        const view = await this.updateUser(id, { role });
        // Sessions started as an admin end; the access token keeps working, with the new role.
        if (before.role === "admin" && role !== "admin") await this.sessions.endAll(id);
        await this.accessChanged(id);
        return view;
      },
    },

    /**
     * For the gateway, after it verified a token: the account's current access (null once it is
     * deleted or unknown). Callable from other nodes, never routed (no `rest`, no `auth`).
     */
    accessState: {
      visibility: "public",
      idempotent: true,
      params: { id: { type: "string", min: 1, max: 100 } },
      async handler(this: UsersThis, ctx: Ctx<{ id: string }>): Promise<AccessState | null> {
        if (!UUID.test(ctx.params.id)) return null;
        const user = await User.findByPk(ctx.params.id, { attributes: ["isActive", "role", "tokenVersion"], raw: true });
        return user ? { active: Boolean(user.isActive), role: user.role, tokenVersion: Number(user.tokenVersion) } : null;
      },
    },

    /** For operators (start-up with ADMIN_EMAIL, the REPL's create-admin): create or promote an admin. */
    ensureAdmin: {
      params: { email: accountFields.email, password: accountFields.password },
      async handler(this: UsersThis, ctx: Ctx<{ email: string; password: string }>) {
        return toUserView(await this.ensureAdmin(ctx.params.email, ctx.params.password));
      },
    },
  },

  methods: {
    /** Refresh tokens expired longer than EVENT_RETENTION_DAYS ago go: the table does not grow forever. */
    async pruneSessions(this: UsersThis): Promise<void> {
      const removed = await this.sessions.prune(new Date(Date.now() - cfg.events.retentionMs));
      if (removed) this.logger.info(`Pruned ${removed} expired refresh token(s)`);
    },

    async signIn(this: UsersThis, user: AccountRow, refreshToken: string): Promise<SessionView> {
      const { token, expiresIn } = await this.tokens.sign({ id: user.id, role: user.role }, user.tokenVersion ?? 0);
      return { accessToken: token, refreshToken, tokenType: "Bearer", expiresIn, user: toUserView(user) };
    },

    async createUser(this: UsersThis, fields: { email: string; password: string; firstName: string; lastName: string }, role: Role): Promise<UserRecord> {
      try {
        const user = await User.create({ email: fields.email, passwordHash: await hashPassword(fields.password), firstName: fields.firstName, lastName: fields.lastName, role });
        return user.get({ plain: true }) as UserRecord;
      } catch (err) {
        if (err instanceof UniqueConstraintError) throw new DomainError(409, "EMAIL_TAKEN", "An account with this email exists", { field: "email" });
        throw err;
      }
    },

    /**
     * Tells every gateway node that an account's role or status changed: each drops its cached
     * copy. A Moleculer broadcast is at-most-once; a lost one is bounded by ACCESS_CACHE_TTL_MS.
     */
    async accessChanged(this: UsersThis, id: string): Promise<void> {
      await this.broker.broadcast("user.accessChanged", { id });
    },

    async findUser(this: UsersThis, id: string): Promise<UserRecord> {
      const user = await User.findByPk(id, { raw: true });
      if (!user) throw notFound("user", { id });
      return user as unknown as UserRecord;
    },

    async updateUser(this: UsersThis, id: string, fields: Record<string, unknown>): Promise<UserView> {
      const [changed] = await User.update(fields, { where: { id } });
      if (changed === 0) throw notFound("user", { id });
      return toUserView(await this.findUser(id));
    },

    async ensureAdmin(this: UsersThis, rawEmail: string, password: string): Promise<UserRecord> {
      const email = normalizeEmail(rawEmail);
      checkPassword(password, email);
      const existing = (await User.findOne({ where: { email }, raw: true })) as UserRecord | null;
      if (existing) {
        // An existing account is promoted (or re-activated); its password stays the one its owner chose.
        if (existing.role !== "admin" || !existing.isActive) {
          await User.update({ role: "admin", isActive: true }, { where: { id: existing.id } });
          await this.accessChanged(existing.id);
        }
        return this.findUser(existing.id);
      }
      try {
        return await this.createUser({ email, password, firstName: "Admin", lastName: "Admin" }, "admin");
      } catch (err) {
        // Another users node created it at the same moment.
        if (err instanceof DomainError && err.type === "EMAIL_TAKEN") return this.ensureAdmin(email, password);
        throw err;
      }
    },
  } satisfies UsersMethods,

  created(this: UsersThis) {
    this.tokens = new TokenService(resolveJwtSecret(cfg, (m) => this.logger.warn(m)), cfg.auth.accessTokenTtlSeconds);
    this.sessions = new Sessions(this.sequelize, cfg.auth.refreshTokenTtlSeconds * 1000);
  },

  async started(this: UsersThis) {
    if (cfg.admin.email && cfg.admin.password) {
      const admin = await this.ensureAdmin(cfg.admin.email, cfg.admin.password);
      this.logger.info(`Admin account ready: ${admin.email}`);
    }
  },
};

export default UsersService;
