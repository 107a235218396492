/**
 * Refresh-token sessions: opaque random tokens, stored as SHA-256 hashes, single use, rotated.
 * Presenting a spent or revoked token revokes its whole family: whoever stole it and whoever
 * holds the newer one both lose the session, and the user signs in again.
 */
import { createHash, randomBytes, randomUUID } from "node:crypto";
import { Op, type Sequelize } from "sequelize";
import { inTransaction } from "../../lib/sql";
import { DomainError } from "../../lib/errors";
import { RefreshToken } from "./user.model";

const hashOf = (token: string) => createHash("sha256").update(token).digest("hex");
const invalid = (reason: string) => new DomainError(401, "INVALID_REFRESH_TOKEN", "Invalid refresh token", { reason });

export class Sessions {
  constructor(
    private readonly sequelize: Sequelize,
    private readonly ttlMs: number,
    private readonly now: () => Date = () => new Date(),
  ) {}

  /** Starts a session (a new family) for a user; returns the refresh token to hand out. */
  async start(userId: string): Promise<string> {
    return this.issue(userId, randomUUID());
  }

  /**
   * Spends `token` and returns the next one of its family, with the user it belongs to.
   * `isUserActive` decides whether the user may still hold a session.
   */
  async rotate(token: string, isUserActive: (userId: string) => Promise<boolean>): Promise<{ userId: string; token: string }> {
    const tokenHash = hashOf(token);
    const outcome = await inTransaction(this.sequelize, async (transaction) => {
      const now = this.now();
      const [spent] = await RefreshToken.update(
        { usedAt: now },
        { where: { tokenHash, usedAt: null, revokedAt: null, expiresAt: { [Op.gt]: now } }, transaction },
      );
      const row = await RefreshToken.findOne({ where: { tokenHash }, transaction, raw: true });
      if (!row) return { error: "unknown" as const };
      if (spent === 0) {
        if (row.usedAt || row.revokedAt) return { error: "reused" as const, familyId: row.familyId };
        return { error: "expired" as const };
      }
      if (!(await isUserActive(row.userId))) return { error: "inactive" as const, familyId: row.familyId };
      return { userId: row.userId, token: await this.issue(row.userId, row.familyId, transaction) };
    });
    if (outcome.error !== undefined) {
      // No token was issued; a replayed or orphaned token ends its whole family.
      if (outcome.familyId) await this.revokeFamily(outcome.familyId);
      throw invalid(outcome.error);
    }
    return { userId: outcome.userId, token: outcome.token };
  }

  /** Ends the session the token belongs to (logout). Unknown tokens are ignored. */
  async end(token: string): Promise<void> {
    const row = await RefreshToken.findOne({ where: { tokenHash: hashOf(token) }, raw: true });
    if (row) await this.revokeFamily(row.familyId);
  }

  /** Ends every session of a user (password change, deactivation, deletion). */
  async endAll(userId: string): Promise<void> {
    await RefreshToken.update({ revokedAt: this.now() }, { where: { userId, revokedAt: null } });
  }

  /** The user a token belongs to, if it is a live one. */
  async ownerOf(token: string): Promise<string | undefined> {
    const row = await RefreshToken.findOne({ where: { tokenHash: hashOf(token), revokedAt: null }, raw: true });
    return row?.userId;
  }

  /** Forgets tokens that expired before `before` (spent ones are kept till then to catch their reuse). */
  async prune(before: Date): Promise<number> {
    return RefreshToken.destroy({ where: { expiresAt: { [Op.lt]: before } } });
  }

  private async revokeFamily(familyId: string): Promise<void> {
    await RefreshToken.update({ revokedAt: this.now() }, { where: { familyId, revokedAt: null } });
  }

  private async issue(userId: string, familyId: string, transaction?: any): Promise<string> {
    const token = randomBytes(32).toString("base64url");
    await RefreshToken.create({ userId, familyId, tokenHash: hashOf(token), expiresAt: new Date(this.now().getTime() + this.ttlMs) }, { transaction });
    return token;
  }
}
