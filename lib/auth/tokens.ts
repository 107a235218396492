/**
 * Access tokens: short-lived HS256 JWTs (jose). Verification pins the algorithm, issuer and
 * audience, so `none`, other algorithms and tokens minted for something else are rejected.
 * A token carries the account's token version (`ver`) at signing; the gateway refuses it once the
 * account's version has moved on. Its `role` is informational: the gateway authorizes with the
 * account's current role.
 */
import { randomBytes, randomUUID } from "node:crypto";
import { SignJWT, jwtVerify, errors as joseErrors } from "jose";
import type { Caller } from "../http/access";

export const ISSUER = "moleculer-shop";
export const AUDIENCE = "moleculer-shop-api";
const ALGORITHM = "HS256";

export class InvalidTokenError extends Error {}

export class TokenService {
  private readonly key: Uint8Array;

  constructor(
    secret: string,
    private readonly ttlSeconds = 15 * 60,
  ) {
    this.key = new TextEncoder().encode(secret);
  }

  async sign(caller: Caller, tokenVersion = 0): Promise<{ token: string; expiresIn: number }> {
    const token = await new SignJWT({ role: caller.role, ver: tokenVersion })
      .setProtectedHeader({ alg: ALGORITHM, typ: "JWT" })
      .setSubject(caller.id)
      .setIssuer(ISSUER)
      .setAudience(AUDIENCE)
      .setIssuedAt()
      .setExpirationTime(`${this.ttlSeconds}s`)
      .setJti(randomUUID())
      .sign(this.key);
    return { token, expiresIn: this.ttlSeconds };
  }

  async verify(token: string): Promise<Caller & { jti: string; iat: number; tokenVersion: number }> {
    try {
      const { payload } = await jwtVerify(token, this.key, {
        algorithms: [ALGORITHM],
        issuer: ISSUER,
        audience: AUDIENCE,
        requiredClaims: ["sub", "exp", "iat", "jti"],
      });
      if (payload.role !== "user" && payload.role !== "admin") throw new InvalidTokenError("unknown role");
      // Tokens minted before versions existed count as version 0.
      const tokenVersion = payload.ver ?? 0;
      if (!Number.isSafeInteger(tokenVersion) || (tokenVersion as number) < 0) throw new InvalidTokenError("invalid token");
      return { id: payload.sub!, role: payload.role, jti: payload.jti!, iat: payload.iat!, tokenVersion: tokenVersion as number };
    } catch (err) {
      if (err instanceof InvalidTokenError) throw err;
      if (err instanceof joseErrors.JWTExpired) throw new InvalidTokenError("token expired");
      throw new InvalidTokenError("invalid token");
    }
  }
}

let generated: string | undefined;

/**
 * The signing secret: JWT_SECRET, or (embedded default only) one generated for this process,
 * which the users and api services share because they run in the same process.
 */
export function resolveJwtSecret(cfg: { jwtSecret?: string; embedded: boolean }, warn: (msg: string) => void): string {
  if (cfg.jwtSecret) return cfg.jwtSecret;
  if (!cfg.embedded) throw new Error("JWT_SECRET is required when services run on several nodes (TRANSPORTER is set)");
  if (!generated) {
    generated = randomBytes(32).toString("base64url");
    warn("JWT_SECRET is not set: generated one for this process; tokens will not survive a restart");
  }
  return generated;
}
