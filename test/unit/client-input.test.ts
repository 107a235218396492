/** What fastest-validator cannot refuse and every REST action must: control characters and stray nulls. */
import { controlCharacterProblems, nestedDeeperThan, nullProblems } from "../../lib/http/client-input";

describe("controlCharacterProblems", () => {
  it.each(["\u0000", "a\u0000b", "\u0001", "\u0008", "\u000B", "\u000C", "\u001B[31m", "\u007F", "\u0085", "\u009F"])("refuses %j", (text) => {
    expect(controlCharacterProblems({ q: text })).toEqual([
      { field: "q", type: "stringControlCharacter", message: "The 'q' field may not contain control characters." },
    ]);
  });

  it("accepts tab, line feed, carriage return and any printable Unicode", () => {
    expect(controlCharacterProblems({ description: "line 1\r\nline\t2", name: "Crème brûlée ☕ 東京 \u00A0" })).toEqual([]);
  });

  it("names the field at any depth, keys included", () => {
    const problems = controlCharacterProblems({ lines: [{ note: "ok" }, { note: "x\u0000" }], meta: { "k\u0000": 1 }, n: 5, flag: null });
    expect(problems.map((p) => p.field).sort()).toEqual(["lines[1].note", "meta.k\u0000"]);
  });

  it("walks any nesting without overflowing, and names at most 20 problems", () => {
    const deep = JSON.parse(`${"[".repeat(50_000)}"\\u0000"${"]".repeat(50_000)}`);
    expect(controlCharacterProblems({ x: deep })).toHaveLength(1);
    expect(controlCharacterProblems({ many: Array(1000).fill("\u0000") })).toHaveLength(20);
  });
});

describe("nestedDeeperThan", () => {
  it("measures arrays and objects alike, without overflowing on any depth", () => {
    expect(nestedDeeperThan({ lines: [{ productId: 1 }] }, 3)).toBe(false);
    expect(nestedDeeperThan({ lines: [{ productId: [1] }] }, 3)).toBe(true);
    expect(nestedDeeperThan("text", 0)).toBe(false);
    expect(nestedDeeperThan(JSON.parse(`${"[".repeat(50_000)}${"]".repeat(50_000)}`), 32)).toBe(true);
  });
});

describe("nullProblems", () => {
  const schema = {
    $$strict: true,
    name: { type: "string", optional: true },
    description: { type: "string", optional: true, nullable: true },
    imageUrl: "url|optional|nullable",
    category: "string|optional",
    address: { type: "object", optional: true, props: { city: { type: "string", optional: true }, line2: { type: "string", nullable: true, optional: true } } },
    lines: { type: "array", optional: true, items: { type: "object", props: { note: { type: "string", optional: true } } } },
  };

  it("refuses null for a field whose rule does not say nullable, like fastest-validator's 'required'", () => {
    expect(nullProblems({ name: null, category: null }, schema)).toEqual([
      { field: "name", type: "required", message: "The 'name' field may not be null." },
      { field: "category", type: "required", message: "The 'category' field may not be null." },
    ]);
  });

  it("accepts null where the rule allows it, and absent fields", () => {
    expect(nullProblems({ description: null, imageUrl: null }, schema)).toEqual([]);
    expect(nullProblems({}, schema)).toEqual([]);
  });

  it("looks into nested objects and arrays of objects", () => {
    const problems = nullProblems({ address: { city: null, line2: null }, lines: [{ note: "a" }, { note: null }] }, schema);
    expect(problems.map((p) => p.field)).toEqual(["address.city", "lines[1].note"]);
  });

  it("leaves undeclared fields to the schema's $$strict", () => {
    expect(nullProblems({ other: null }, schema)).toEqual([]);
    expect(nullProblems({ name: null }, undefined)).toEqual([]);
  });
});
