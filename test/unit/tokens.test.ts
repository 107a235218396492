import { SignJWT, UnsecuredJWT } from "jose";
import { TokenService, InvalidTokenError, ISSUER, AUDIENCE } from "../../lib/auth/tokens";

const SECRET = "s".repeat(32);

describe("access tokens", () => {
  const tokens = new TokenService(SECRET, 60);

  it("round-trips the caller with sub, role, iss, aud, exp, iat and jti", async () => {
    const { token, expiresIn } = await tokens.sign({ id: "42", role: "admin" });
    expect(expiresIn).toBe(60);
    const caller = await tokens.verify(token);
    expect(caller).toMatchObject({ id: "42", role: "admin" });
    expect(caller.jti).toMatch(/^[0-9a-f-]{36}$/);
  });

  it("carries the account's token version; a token without one is version 0, a malformed one is refused", async () => {
    expect((await tokens.verify((await tokens.sign({ id: "42", role: "user" }, 3)).token)).tokenVersion).toBe(3);
    const key = new TextEncoder().encode(SECRET);
    const claims = (ver: unknown) => new SignJWT({ role: "user", ...(ver === undefined ? {} : { ver }) }).setProtectedHeader({ alg: "HS256" }).setSubject("1")
      .setIssuer(ISSUER).setAudience(AUDIENCE).setIssuedAt().setJti("j").setExpirationTime("1m").sign(key);
    expect((await tokens.verify(await claims(undefined))).tokenVersion).toBe(0);
    for (const bad of [-1, 1.5, "2"]) await expect(tokens.verify(await claims(bad))).rejects.toThrow(InvalidTokenError);
  });

  it("rejects a token signed with another secret, a `none` token, and other audiences", async () => {
    const other = await new TokenService("x".repeat(32)).sign({ id: "1", role: "user" });
    await expect(tokens.verify(other.token)).rejects.toThrow(InvalidTokenError);

    const unsecured = new UnsecuredJWT({ role: "admin" }).setSubject("1").setIssuer(ISSUER).setAudience(AUDIENCE).setIssuedAt().setExpirationTime("1m").encode();
    await expect(tokens.verify(unsecured)).rejects.toThrow(InvalidTokenError);

    const key = new TextEncoder().encode(SECRET);
    const wrongAudience = await new SignJWT({ role: "user" }).setProtectedHeader({ alg: "HS256" }).setSubject("1").setIssuer(ISSUER)
      .setAudience("someone-else").setIssuedAt().setJti("j").setExpirationTime("1m").sign(key);
    await expect(tokens.verify(wrongAudience)).rejects.toThrow(InvalidTokenError);

    const hs512 = await new SignJWT({ role: "user" }).setProtectedHeader({ alg: "HS512" }).setSubject("1").setIssuer(ISSUER)
      .setAudience(AUDIENCE).setIssuedAt().setJti("j").setExpirationTime("1m").sign(key);
    await expect(tokens.verify(hs512)).rejects.toThrow(InvalidTokenError);
  });

  it("rejects an expired token and an unknown role", async () => {
    const key = new TextEncoder().encode(SECRET);
    const expired = await new SignJWT({ role: "user" }).setProtectedHeader({ alg: "HS256" }).setSubject("1").setIssuer(ISSUER)
      .setAudience(AUDIENCE).setIssuedAt(1000).setJti("j").setExpirationTime(2000).sign(key);
    await expect(tokens.verify(expired)).rejects.toThrow("token expired");
    const root = await new SignJWT({ role: "root" }).setProtectedHeader({ alg: "HS256" }).setSubject("1").setIssuer(ISSUER)
      .setAudience(AUDIENCE).setIssuedAt().setJti("j").setExpirationTime("1m").sign(key);
    await expect(tokens.verify(root)).rejects.toThrow("unknown role");
  });
});
