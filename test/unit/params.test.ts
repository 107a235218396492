/**
 * Query and path values are read strictly, as the OpenAPI document states them: what Number() or
 * new Date() would stretch into a value ("", " ", "0x10", "0.5" as a date) is refused.
 */
import Validator from "fastest-validator";
import { NON_BLANK_TEXT, EMAIL, parseDateTime, queryBool, queryDateTime, queryInt, trimmed, name, email, text } from "../../lib/params";
import { toJsonSchema } from "../../lib/http/openapi";

// Moleculer's own settings for fastest-validator.
const v = new Validator({ useNewCustomCheckerFunction: true } as any);
const check = (schema: Record<string, unknown>, params: Record<string, unknown>) => {
  const copy = { ...params };
  const result = v.compile({ ...schema })(copy);
  return { ok: result === true, params: copy, errors: result === true ? [] : (result as { type: string }[]).map((e) => e.type) };
};

describe("queryInt", () => {
  const schema = { n: queryInt({ min: 0, max: 100, optional: true }) };
  it.each(["", " ", "0x10", "Infinity", "1,5", "007", "5 "])("refuses %j", (value) => {
    expect(check(schema, { n: value }).errors).toEqual(["number"]);
  });
  it("reads decimal literals and numbers, within bounds", () => {
    expect(check(schema, { n: "42" }).params.n).toBe(42);
    expect(check(schema, { n: 7 }).params.n).toBe(7);
    expect(check(schema, { n: "1.5" }).errors).toEqual(["numberInteger"]);
    expect(check(schema, { n: "1e21" }).errors).toEqual(["numberMax"]);
    expect(check(schema, { n: "-1" }).errors).toEqual(["numberMin"]);
    expect(check(schema, {}).ok).toBe(true);
  });
  it("applies its default", () => {
    expect(check({ n: queryInt({ min: 1, max: 10, default: 5 }) }, {}).params.n).toBe(5);
  });
  it("is documented as the integer it reads", () => {
    expect(toJsonSchema(queryInt({ min: 1, max: 10, default: 5 }))).toEqual({ type: "integer", minimum: 1, maximum: 10, default: 5 });
  });
});

describe("queryBool", () => {
  it("takes true and false only", () => {
    const schema = { b: queryBool() };
    expect(check(schema, { b: "true" }).params.b).toBe(true);
    expect(check(schema, { b: "false" }).params.b).toBe(false);
    for (const value of ["1", "0", "on", "yes", ""]) expect(check(schema, { b: value }).errors).toEqual(["boolean"]);
  });
});

describe("queryDateTime", () => {
  const schema = { d: queryDateTime() };
  it.each(["0.5", "2026", "2026-01-01", "2026-02-30T00:00:00Z", "2026-01-01T24:00:00Z", "2026-01-01T00:00:00+25:00", "2026-01-01 00:00:00Z", "yesterday"])("refuses %j", (value) => {
    expect(check(schema, { d: value }).errors).toEqual(["date"]);
  });
  it("reads RFC 3339 date-times into Dates", () => {
    expect((check(schema, { d: "2026-11-22T08:00:00Z" }).params.d as Date).toISOString()).toBe("2026-11-22T08:00:00.000Z");
    expect((check(schema, { d: "2024-02-29t23:30:00.25+01:00" }).params.d as Date).toISOString()).toBe("2024-02-29T22:30:00.250Z");
    expect(parseDateTime("0099-01-01T00:00:00Z")?.getUTCFullYear()).toBe(99);
  });
});

describe("text rules and the document's patterns", () => {
  it("names are not blank, and stored trimmed", () => {
    expect(check({ n: name(10) }, { n: "  " }).ok).toBe(false);
    expect(check({ n: name(10) }, { n: " Mug " }).ok).toBe(true);
    expect(trimmed({ n: " Mug ", other: " x " }, ["n"])).toEqual({ n: "Mug", other: " x " });
    expect(NON_BLANK_TEXT.test("\u3000\tMug")).toBe(true);
    expect(NON_BLANK_TEXT.test("\u3000\u00a0\n")).toBe(false);
    expect(NON_BLANK_TEXT.test("Mug\u0000")).toBe(false);
  });

  it("the document's email pattern is the validator's shape without control characters", () => {
    expect(check({ e: email() }, { e: "José@Example.test" }).ok).toBe(true);
    for (const bad of ["no-at.example", "a@b", "a b@c.d", "a@@b.c"]) expect(check({ e: email() }, { e: bad }).ok).toBe(false);
    expect(EMAIL.test("user\u0000@example.test")).toBe(false);
    expect(toJsonSchema(email())).toEqual({ type: "string", maxLength: 254, pattern: EMAIL.source });
  });

  it("text is documented without control characters (the ClientInput middleware refuses them)", () => {
    expect(toJsonSchema(text(5, { min: 1, optional: true, nullable: true }))).toEqual({ type: ["string", "null"], minLength: 1, maxLength: 5, pattern: expect.stringContaining("\\u0000-\\u0008") });
  });
});

describe("lengths", () => {
  it("count characters, not UTF-16 units: an emoji is one", () => {
    const rule = { t: text(3, { min: 2 }) };
    expect(check(rule, { t: "😀😀😀" }).ok).toBe(true);
    expect(check(rule, { t: "😀😀😀😀" }).errors).toEqual(["stringMax"]);
    expect(check(rule, { t: "😀" }).errors).toEqual(["stringMin"]);
    expect(toJsonSchema(rule.t)).toMatchObject({ minLength: 2, maxLength: 3 });
  });
});
