import { buildOpenApi, openApiPath, toJsonSchema, objectSchema } from "../../lib/http/openapi";

describe("OpenAPI document", () => {
  it("turns path parameters into OpenAPI templates", () => {
    expect(openApiPath("/api/v1/products/:id/stock")).toEqual({ path: "/api/v1/products/{id}/stock", pathParams: ["id"] });
  });

  it("converts fastest-validator rules, shorthand included", () => {
    expect(toJsonSchema("string|min:3|max:10")).toEqual({ type: "string", minLength: 3, maxLength: 10 });
    expect(toJsonSchema({ type: "number", integer: true, min: 1, max: 100 })).toEqual({ type: "integer", minimum: 1, maximum: 100 });
    expect(toJsonSchema({ type: "enum", values: ["a", "b"] })).toEqual({ enum: ["a", "b"] });
    expect(toJsonSchema({ type: "email" })).toEqual({ type: "string", format: "email" });
    expect(toJsonSchema({ type: "array", items: "string", max: 5 })).toEqual({ type: "array", items: { type: "string" }, maxItems: 5 });
    expect(objectSchema({ a: "string", b: { type: "number", optional: true } })).toEqual({
      type: "object",
      properties: { a: { type: "string" }, b: { type: "number" } },
      required: ["a"],
    });
  });

  it("documents query parameters for reads, a JSON body for writes, and security for non-public routes", () => {
    const doc = buildOpenApi(
      [
        { method: "GET", path: "/api/v1/things/:id", action: "things.get", auth: "public", params: { id: "number", full: "boolean|optional" } },
        { method: "POST", path: "/api/v1/things", action: "things.create", auth: "admin", params: { name: "string" } },
      ],
      { title: "t", version: "1" },
    );
    expect(doc.openapi).toBe("3.1.0");
    const get = doc.paths["/api/v1/things/{id}"].get;
    expect(get.parameters).toEqual([
      { name: "id", in: "path", required: true, schema: { type: "number" } },
      { name: "full", in: "query", required: false, schema: { type: "boolean" } },
    ]);
    expect(get.security).toBeUndefined();
    const post = doc.paths["/api/v1/things"].post;
    expect(post.requestBody.content["application/json"].schema.required).toEqual(["name"]);
    expect(post.security).toEqual([{ bearerAuth: [] }]);
    expect(post.responses["403"]).toBeDefined();
  });
});
