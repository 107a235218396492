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

  it("documents what each action declares it answers", () => {
    const doc = buildOpenApi(
      [
        {
          method: "POST",
          path: "/api/v1/things",
          action: "things.create",
          auth: "user",
          params: { $$strict: true, name: "string|min:1", note: "string|optional" },
          headers: { "Idempotency-Key": "required" },
          responses: { 201: { $ref: "#/components/schemas/Product" }, replay: true, errors: [409], links: { Get: { operationId: "things.get", parameters: { id: "$response.body#/id" } } } },
        },
        { method: "DELETE", path: "/api/v1/things/:id", action: "things.remove", auth: "admin", params: { id: "number" }, responses: { 204: true, errors: [404] } },
        { method: "GET", path: "/health", action: "api.health", auth: "public", system: true, responses: { 200: { $ref: "#/components/schemas/Health" } } },
      ],
      { title: "t", version: "1" },
    );
    const create = doc.paths["/api/v1/things"].post;
    expect(create.requestBody).toEqual({
      required: true,
      content: { "application/json": { schema: { type: "object", properties: { name: { type: "string", minLength: 1 }, note: { type: "string" } }, required: ["name"], additionalProperties: false } } },
    });
    expect(create.parameters).toEqual([expect.objectContaining({ name: "Idempotency-Key", in: "header", required: true })]);
    expect(create.responses["201"].headers.Location.required).toBe(true);
    expect(create.responses["201"].links.Get.operationId).toBe("things.get");
    expect(create.responses["200"].headers["Idempotent-Replayed"]).toBeDefined();
    // The gateway's own errors on every /api/v1 route, plus the action's, each a shared response.
    expect(Object.keys(create.responses).sort()).toEqual(["200", "201", "400", "401", "409", "413", "415", "422", "429", "503"]);
    expect(create.responses["409"]).toEqual({ $ref: "#/components/responses/Conflict" });
    expect(doc.components.responses.Conflict.content["application/json"].schema).toEqual({ $ref: "#/components/schemas/Error" });

    const remove = doc.paths["/api/v1/things/{id}"].delete;
    expect(remove.responses["204"]).toEqual({ description: "Done; no content" });
    expect(remove.responses["403"]).toBeDefined();
    expect(remove.responses["404"]).toBeDefined();
    // Health and friends: no authentication, body or rate limit there, so none of those errors.
    expect(Object.keys(doc.paths["/health"].get.responses)).toEqual(["200"]);
    expect(doc.paths["/health"].get.security).toBeUndefined();
  });
});
