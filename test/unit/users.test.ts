import type { IncomingMessage } from "node:http";
import { hashPassword, verifyPassword } from "../../services/users/passwords";
import { checkPassword, normalizeEmail, toUserView } from "../../services/users/account";
import { clientIp, MemoryRateLimitStore, RateLimiter } from "../../lib/http/rate-limit";
import { DomainError } from "../../lib/errors";

describe("passwords", () => {
  it("hashes with scrypt and a fresh salt, and verifies only the right password", async () => {
    const a = await hashPassword("correct horse");
    const b = await hashPassword("correct horse");
    expect(a).toMatch(/^scrypt\$32768\$8\$1\$[\w-]{22}\$[\w-]{43}$/);
    expect(a).not.toBe(b);
    expect(await verifyPassword("correct horse", a)).toBe(true);
    expect(await verifyPassword("correct horsE", a)).toBe(false);
    expect(await verifyPassword("correct horse", "not-a-hash")).toBe(false);
    expect(await verifyPassword("correct horse", "md5$abc$def")).toBe(false);
  });
});

describe("account rules", () => {
  it("treats emails case-insensitively", () => {
    expect(normalizeEmail("  Ann@Example.COM ")).toBe("ann@example.com");
  });

  it("treats one email in another Unicode form as the same (NFC)", () => {
    const composed = "jos\u00E9@example.com";
    expect(normalizeEmail("JOSE\u0301@Example.com")).toBe(composed);
    expect(normalizeEmail("jose\u0301@example.com")).toBe(normalizeEmail(composed));
  });

  it.each([
    ["short", "passwordTooShort"],
    ["x".repeat(129), "passwordTooLong"],
    ["Ann@Example.com", "passwordIsEmail"],
  ])("refuses the password %j (%s)", (password, type) => {
    try {
      checkPassword(password, "ann@example.com");
      throw new Error("accepted");
    } catch (err) {
      expect(err).toBeInstanceOf(DomainError);
      expect((err as DomainError).code).toBe(422);
      expect((err as DomainError).data).toEqual([expect.objectContaining({ field: "password", type })]);
    }
  });

  it("accepts a decent password", () => {
    expect(() => checkPassword("correct horse battery", "ann@example.com")).not.toThrow();
  });

  it("never shows the password hash", () => {
    const view = toUserView({
      id: "u1", email: "a@b.c", firstName: "A", lastName: "B", role: "user", isActive: 1,
      createdAt: new Date(0), updatedAt: new Date(0), passwordHash: "scrypt$secret",
    });
    expect(JSON.stringify(view)).not.toContain("scrypt");
    expect(view.isActive).toBe(true);
  });
});

describe("rate limits", () => {
  it("allows `perMinute` requests per key per window, then says how long to wait", async () => {
    let now = 0;
    const limiter = new RateLimiter(new MemoryRateLimitStore(() => now), 3);
    expect([await limiter.check("k"), await limiter.check("k"), await limiter.check("k")]).toEqual([0, 0, 0]);
    now = 15_000;
    expect(await limiter.check("k")).toBe(45);
    expect(await limiter.check("other")).toBe(0);
    now = 60_000;
    expect(await limiter.check("k")).toBe(0); // a new window
  });

  const req = (remoteAddress: string, xff?: string) => ({ socket: { remoteAddress }, headers: xff ? { "x-forwarded-for": xff } : {} }) as unknown as IncomingMessage;

  it("takes the client address from the socket unless proxies are trusted", () => {
    expect(clientIp(req("10.0.0.9", "1.2.3.4"), 0)).toBe("10.0.0.9");
    // One trusted proxy: the address it appended, not what the client wrote before it.
    expect(clientIp(req("10.0.0.9", "6.6.6.6, 1.2.3.4"), 1)).toBe("1.2.3.4");
    expect(clientIp(req("10.0.0.9", "6.6.6.6, 1.2.3.4, 10.0.0.2"), 2)).toBe("1.2.3.4");
    expect(clientIp(req("10.0.0.9"), 1)).toBe("10.0.0.9");
  });
});
