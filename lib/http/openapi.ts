/**
 * Builds the OpenAPI 3.1 document from the gateway's route table and the actions' fastest-validator
 * parameter schemas. Pure: the gateway passes in what the registry knows.
 */
import type { Access } from "./access";

export interface RouteEntry {
  method: string; // GET, POST, ...
  path: string; // full path, e.g. /api/v1/products/:id
  action: string;
  auth: Access;
  params?: Record<string, unknown>;
  summary?: string;
}

type JsonSchema = Record<string, unknown>;

/** "string|min:3|optional" → { type: "string", min: "3", optional: true } */
function expandShorthand(rule: string): Record<string, unknown> {
  const [type, ...flags] = rule.split("|");
  const out: Record<string, unknown> = { type };
  for (const flag of flags) {
    const [key, value] = flag.split(":");
    out[key] = value === undefined ? true : value;
  }
  return out;
}

function normalize(rule: unknown): Record<string, any> {
  if (typeof rule === "string") return expandShorthand(rule);
  if (Array.isArray(rule)) return { type: "multi", rules: rule };
  return (rule ?? { type: "any" }) as Record<string, any>;
}

export function isOptional(rule: unknown): boolean {
  const r = normalize(rule);
  return r.optional === true || r.optional === "true" || r.default !== undefined;
}

/** Converts one fastest-validator rule to JSON Schema (the subset this project uses). */
export function toJsonSchema(rule: unknown): JsonSchema {
  const r = normalize(rule);
  const base: JsonSchema = {};
  if (r.default !== undefined) base.default = r.default;
  switch (r.type) {
    case "string": {
      const s: JsonSchema = { ...base, type: "string" };
      if (r.min !== undefined) s.minLength = Number(r.min);
      if (r.max !== undefined) s.maxLength = Number(r.max);
      if (r.length !== undefined) s.minLength = s.maxLength = Number(r.length);
      if (r.pattern) s.pattern = String(r.pattern instanceof RegExp ? r.pattern.source : r.pattern);
      if (Array.isArray(r.enum)) s.enum = r.enum;
      return s;
    }
    case "email":
      return { ...base, type: "string", format: "email" };
    case "uuid":
      return { ...base, type: "string", format: "uuid" };
    case "url":
      return { ...base, type: "string", format: "uri" };
    case "date":
      return { ...base, type: "string", format: "date-time" };
    case "enum":
      return { ...base, enum: r.values };
    case "equal":
      return { ...base, const: r.value };
    case "boolean":
      return { ...base, type: "boolean" };
    case "number": {
      const s: JsonSchema = { ...base, type: r.integer ? "integer" : "number" };
      if (r.min !== undefined) s.minimum = Number(r.min);
      if (r.max !== undefined) s.maximum = Number(r.max);
      if (r.positive) s.exclusiveMinimum = 0;
      return s;
    }
    case "array": {
      const s: JsonSchema = { ...base, type: "array", items: r.items ? toJsonSchema(r.items) : {} };
      if (r.min !== undefined) s.minItems = Number(r.min);
      if (r.max !== undefined) s.maxItems = Number(r.max);
      return s;
    }
    case "object":
      return r.props ? { ...base, ...objectSchema(r.props) } : { ...base, type: "object" };
    case "multi":
      return { ...base, anyOf: (r.rules as unknown[]).map(toJsonSchema) };
    default:
      return base;
  }
}

export function objectSchema(props: Record<string, unknown>): JsonSchema {
  const properties: Record<string, JsonSchema> = {};
  const required: string[] = [];
  for (const [name, rule] of Object.entries(props)) {
    if (name === "$$strict" || name === "$$async") continue;
    properties[name] = toJsonSchema(rule);
    if (!isOptional(rule)) required.push(name);
  }
  return { type: "object", properties, ...(required.length ? { required } : {}) };
}

const ERROR_SCHEMA = {
  type: "object",
  required: ["name", "message", "code"],
  properties: {
    name: { type: "string" },
    message: { type: "string" },
    code: { type: "integer" },
    type: { type: "string" },
    data: {},
  },
};

/** "/api/v1/products/:id" → "/api/v1/products/{id}" and ["id"] */
export function openApiPath(path: string): { path: string; pathParams: string[] } {
  const pathParams: string[] = [];
  const converted = path.replace(/:([A-Za-z0-9_]+)/g, (_, name: string) => {
    pathParams.push(name);
    return `{${name}}`;
  });
  return { path: converted, pathParams };
}

function operation(route: RouteEntry): Record<string, unknown> {
  const { pathParams } = openApiPath(route.path);
  const params = { ...(route.params ?? {}) };
  const parameters: unknown[] = pathParams.map((name) => ({
    name,
    in: "path",
    required: true,
    schema: params[name] ? toJsonSchema(params[name]) : { type: "string" },
  }));
  for (const name of pathParams) delete params[name];

  const op: Record<string, unknown> = {
    operationId: route.action,
    summary: route.summary ?? route.action,
    tags: [route.action.split(".")[0]],
    "x-moleculer-action": route.action,
    "x-access": route.auth,
  };
  const hasBody = !["GET", "DELETE", "HEAD"].includes(route.method);
  if (hasBody) {
    if (Object.keys(params).length) {
      op.requestBody = { required: true, content: { "application/json": { schema: objectSchema(params) } } };
    }
  } else {
    for (const [name, rule] of Object.entries(params)) {
      if (name.startsWith("$$")) continue;
      parameters.push({ name, in: "query", required: !isOptional(rule), schema: toJsonSchema(rule) });
    }
  }
  if (parameters.length) op.parameters = parameters;
  if (route.auth !== "public") op.security = [{ bearerAuth: [] }];

  const errorResponse = (description: string) => ({
    description,
    content: { "application/json": { schema: { $ref: "#/components/schemas/Error" } } },
  });
  op.responses = {
    "200": { description: "Success", content: { "application/json": { schema: {} } } },
    "4XX": errorResponse("Client error: 400 malformed, 404 not found, 409 conflict, 422 invalid input, 429 rate limited"),
    ...(route.auth === "public" ? {} : { "401": errorResponse("Missing or invalid token") }),
    ...(route.auth === "admin" ? { "403": errorResponse("Not an admin") } : {}),
  };
  return op;
}

export function buildOpenApi(routes: RouteEntry[], info: { title: string; version: string }): Record<string, any> {
  const paths: Record<string, Record<string, unknown>> = {};
  const sorted = [...routes].sort((a, b) => a.path.localeCompare(b.path) || a.method.localeCompare(b.method));
  for (const route of sorted) {
    const { path } = openApiPath(route.path);
    paths[path] ??= {};
    paths[path][route.method.toLowerCase()] = operation(route);
  }
  return {
    openapi: "3.1.0",
    info: { ...info, description: "Shop backend on the Moleculer broker. Money is in integer minor units." },
    servers: [{ url: "/" }],
    paths,
    components: {
      securitySchemes: { bearerAuth: { type: "http", scheme: "bearer", bearerFormat: "JWT" } },
      schemas: { Error: ERROR_SCHEMA },
    },
  };
}
