/**
 * Builds the OpenAPI 3.1 document from the gateway's route table: the actions' parameter rules
 * (fastest-validator, read here as JSON Schema), their `responses` and `headers` declarations
 * (lib/http/access.ts) and the shapes in lib/http/schemas.ts. Nothing in it is written by hand, so
 * it cannot drift from what the server does. Pure: the gateway passes in what the registry knows.
 */
import type { Access, RequestHeaders, ResponseDeclaration } from "./access";
import { IDEMPOTENCY_KEY } from "./responses";
import { SCHEMAS, type JsonSchema } from "./schemas";
import { PLAIN_TEXT } from "../params";

export type { JsonSchema };

export interface RouteEntry {
  method: string; // GET, POST, ...
  path: string; // full path, e.g. /api/v1/products/:id
  action: string;
  auth: Access;
  params?: Record<string, unknown>;
  summary?: string;
  responses?: ResponseDeclaration;
  headers?: RequestHeaders;
  tags?: string[];
  bodyMinProperties?: number;
  /** The body is taken raw (the Stripe webhook), not from the parameter rules. */
  rawBody?: boolean;
  /** Outside /api/v1 (health, metrics, the document): no authentication, body parsers or rate limit. */
  system?: boolean;
}

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

const HEX = "[0-9a-fA-F]";
const UUID_PATTERN = `^(?:${HEX}{8}-${HEX}{4}-(?:[126]${HEX}{3}-${HEX}{4}|[3-578]${HEX}{3}-[89abAB]${HEX}{3})-${HEX}{12}|0{8}-0{4}-0{4}-0{4}-0{12})$`;

const patternOf = (p: unknown) => String(p instanceof RegExp ? p.source : p);

/** Adds `null` to a schema's type (fastest-validator's `nullable: true`). */
function withNull(s: JsonSchema): JsonSchema {
  if (typeof s.type === "string") return { ...s, type: [s.type, "null"] };
  if (Array.isArray(s.enum)) return { ...s, enum: [...s.enum, null] };
  return { anyOf: [s, { type: "null" }] };
}

/** Converts one fastest-validator rule to JSON Schema (the subset this project uses). */
export function toJsonSchema(rule: unknown): JsonSchema {
  const r = normalize(rule);
  const base: JsonSchema = {};
  if (r.default !== undefined && typeof r.default !== "function") base.default = r.default;
  let s: JsonSchema;
  switch (r.type) {
    case "string": {
      s = { ...base, type: "string" };
      if (r.min !== undefined) s.minLength = Number(r.min);
      if (r.max !== undefined) s.maxLength = Number(r.max);
      // lib/params.ts: lengths in characters, checked by the rule's `custom` ({min, max}).
      if (r.chars) {
        if (r.chars.min > 0) s.minLength = r.chars.min;
        s.maxLength = r.chars.max;
      }
      if (r.length !== undefined) s.minLength = s.maxLength = Number(r.length);
      // `docPattern`: what the validator and the ClientInput middleware enforce together (lib/params.ts).
      if (r.docPattern ?? r.pattern) s.pattern = patternOf(r.docPattern ?? r.pattern);
      if (r.format) s.format = r.format;
      if (Array.isArray(r.enum)) s.enum = r.enum;
      break;
    }
    case "email":
      s = { ...base, type: "string", format: "email" };
      if (r.max !== undefined) s.maxLength = Number(r.max);
      break;
    case "uuid":
      // What fastest-validator's uuid takes: the nil UUID, or versions 1-8, with the RFC 9562 variant for 3, 4, 5, 7 and 8.
      s = { ...base, type: "string", format: "uuid", pattern: UUID_PATTERN };
      break;
    case "url":
      s = { ...base, type: "string", format: "uri" };
      break;
    case "date":
      s = { ...base, type: "string", format: "date-time" };
      break;
    case "enum":
      s = { ...base, enum: r.values };
      break;
    case "equal":
      s = { ...base, const: r.value };
      break;
    case "boolean":
      s = { ...base, type: "boolean" };
      break;
    case "number": {
      s = { ...base, type: r.integer ? "integer" : "number" };
      if (r.min !== undefined) s.minimum = Number(r.min);
      if (r.max !== undefined) s.maximum = Number(r.max);
      if (r.positive) s.exclusiveMinimum = 0;
      break;
    }
    case "array": {
      s = { ...base, type: "array", items: r.items ? toJsonSchema(r.items) : {} };
      if (r.min !== undefined) s.minItems = Number(r.min);
      if (r.max !== undefined) s.maxItems = Number(r.max);
      break;
    }
    case "object":
      s = r.props ? { ...base, ...objectSchema(r.props, r.strict === true) } : { ...base, type: "object" };
      break;
    case "multi":
      s = { ...base, anyOf: (r.rules as unknown[]).map(toJsonSchema) };
      break;
    case "custom":
      s = { ...base, ...(r.jsonSchema ?? {}) };
      break;
    default:
      s = base;
  }
  return r.nullable === true ? withNull(s) : s;
}

/** The JSON Schema of a parameter object; `strict` ($$strict: true) refuses unknown fields. */
export function objectSchema(props: Record<string, unknown>, strict = props.$$strict === true): JsonSchema {
  const properties: Record<string, JsonSchema> = {};
  const required: string[] = [];
  for (const [name, rule] of Object.entries(props)) {
    if (name.startsWith("$$")) continue;
    properties[name] = toJsonSchema(rule);
    if (!isOptional(rule)) required.push(name);
  }
  return { type: "object", properties, ...(required.length ? { required } : {}), ...(strict ? { additionalProperties: false } : {}) };
}

/** "/api/v1/products/:id" → "/api/v1/products/{id}" and ["id"] */
export function openApiPath(path: string): { path: string; pathParams: string[] } {
  const pathParams: string[] = [];
  const converted = path.replace(/:([A-Za-z0-9_]+)/g, (_, name: string) => {
    pathParams.push(name);
    return `{${name}}`;
  });
  return { path: converted, pathParams };
}

const json = (schema: JsonSchema) => ({ "application/json": { schema } });
const errorResponse = (description: string, headers?: Record<string, unknown>) => ({
  description,
  ...(headers && { headers }),
  content: json({ $ref: "#/components/schemas/Error" }),
});

/** Every error status the API answers, each described once (components/responses). */
const ERROR_RESPONSES: Record<string, { name: string; response: Record<string, unknown> }> = {
  400: { name: "BadRequest", response: errorResponse("The request cannot be read: malformed JSON, a body that cannot be decoded or nested too deep, a missing or malformed Idempotency-Key or Stripe-Signature") },
  401: { name: "Unauthorized", response: errorResponse("No token where one is needed, or a token that is invalid, expired or revoked, or whose account is gone or deactivated") },
  402: { name: "PaymentRequired", response: errorResponse("The payment provider refused") },
  403: { name: "Forbidden", response: errorResponse("The caller's role may not do this (or, for a password change, the current password is wrong)") },
  404: { name: "NotFound", response: errorResponse("No such resource, or not the caller's") },
  409: { name: "Conflict", response: errorResponse("The resource's state does not allow it (the type says why: SKU_TAKEN, INSUFFICIENT_STOCK, ILLEGAL_TRANSITION, ...)") },
  413: { name: "PayloadTooLarge", response: errorResponse("The body is larger than BODY_LIMIT") },
  415: { name: "UnsupportedMediaType", response: errorResponse("The body's encoding or charset is not supported") },
  422: { name: "ValidationFailed", response: errorResponse("Invalid parameters: `data` lists the failing fields") },
  429: {
    name: "TooManyRequests",
    response: errorResponse("Rate limited", { "Retry-After": { description: "Seconds to wait", schema: { type: "string", pattern: "^[0-9]+$" } } }),
  },
  503: { name: "ServiceUnavailable", response: errorResponse("A dependency cannot answer now (the accounts service that checks tokens, a database, a timeout); try again") },
};

/** Statuses the gateway itself can answer on any /api/v1 route, whatever the action. */
const GATEWAY_ERRORS = [400, 401, 413, 415, 422, 429, 503];

const IDEMPOTENCY_KEY_HEADER = { type: "string", pattern: IDEMPOTENCY_KEY.source };
const HEADER_SCHEMAS: Record<string, { schema: JsonSchema; description: string }> = {
  "Idempotency-Key": { schema: IDEMPOTENCY_KEY_HEADER, description: "Makes the request safe to retry: the same key replays the first answer" },
  "Stripe-Signature": { schema: { type: "string", minLength: 1, pattern: PLAIN_TEXT.source }, description: "Stripe's signature of the raw body (STRIPE_WEBHOOK_SECRET)" },
};

function operationId(route: RouteEntry, taken: Set<string>): string {
  let id = route.action;
  for (let n = 2; taken.has(id); n++) id = `${route.action}_${n}`;
  taken.add(id);
  return id;
}

function successResponses(route: RouteEntry): Record<string, unknown> {
  const declared = route.responses;
  if (!declared) return { "200": { description: "Undeclared answer", content: json({}) } };
  const out: Record<string, unknown> = {};
  const links = declared.links;
  if (declared[201]) {
    out["201"] = {
      description: "Created",
      headers: { Location: { required: true, description: "Where the new resource lives", schema: { type: "string", format: "uri-reference" } } },
      content: json(declared[201]),
      ...(links && { links }),
    };
  }
  const replayHeader = { "Idempotent-Replayed": { description: "true when this answers an earlier request with the same Idempotency-Key", schema: { const: "true" } } };
  const body200 = declared[200] ?? (declared.replay ? declared[201] : undefined);
  if (body200) {
    const isTextual = body200.type === "string" && body200.contentMediaType === "text/plain";
    out["200"] = {
      description: declared.replay && !declared[200] ? "The first answer to this Idempotency-Key, replayed" : "Success",
      ...(declared.replay && { headers: replayHeader }),
      content: isTextual ? { "text/plain": { schema: { type: "string" } } } : json(body200),
      ...(links && !declared[201] && { links }),
    };
  }
  if (declared[204]) out["204"] = { description: "Done; no content" };
  if (declared[503]) out["503"] = { description: "Not ready: the report says what is missing", content: json(declared[503]) };
  return out;
}

function operation(route: RouteEntry, taken: Set<string>): Record<string, unknown> {
  const { pathParams } = openApiPath(route.path);
  const params: Record<string, unknown> = { ...(route.params ?? {}) };
  const parameters: unknown[] = pathParams.map((name) => ({
    name,
    in: "path",
    required: true,
    schema: params[name] ? toJsonSchema(params[name]) : { type: "string" },
  }));
  for (const name of pathParams) delete params[name];
  for (const [name, need] of Object.entries(route.headers ?? {})) {
    const header = HEADER_SCHEMAS[name];
    parameters.push({ name, in: "header", required: need === "required", description: header.description, schema: header.schema });
  }

  const op: Record<string, unknown> = {
    operationId: operationId(route, taken),
    summary: route.summary ?? route.action,
    tags: route.tags ?? [route.action.split(".")[0]],
    "x-moleculer-action": route.action,
    "x-access": route.auth,
  };
  const hasBody = !["GET", "DELETE", "HEAD"].includes(route.method);
  const fields = Object.keys(params).filter((name) => !name.startsWith("$$"));
  if (route.rawBody) {
    op.requestBody = { required: true, content: json({ type: "object", description: "The event, exactly as signed" }) };
  } else if (hasBody) {
    if (fields.length) {
      const schema = objectSchema(params);
      if (route.bodyMinProperties) schema.minProperties = route.bodyMinProperties;
      op.requestBody = { required: (Array.isArray(schema.required) && schema.required.length > 0) || schema.minProperties !== undefined, content: json(schema) };
    }
  } else {
    for (const name of fields) parameters.push({ name, in: "query", required: !isOptional(params[name]), schema: toJsonSchema(params[name]) });
  }
  if (parameters.length) op.parameters = parameters;
  if (route.auth !== "public") op.security = [{ bearerAuth: [] }];

  const errors = new Set<number>([...(route.system ? [] : GATEWAY_ERRORS), ...(route.auth === "admin" ? [403] : []), ...(route.responses?.errors ?? [])]);
  op.responses = {
    ...successResponses(route),
    ...Object.fromEntries([...errors].sort().map((status) => [String(status), { $ref: `#/components/responses/${ERROR_RESPONSES[status].name}` }])),
  };
  if (!route.responses) op["x-undeclared"] = true;
  return op;
}

const TAGS: Record<string, string> = {
  api: "Health, metrics and this document",
  users: "Accounts, sign-in, sessions",
  products: "The catalog and its stock",
  baskets: "One basket per user",
  orders: "Checkout and orders",
  payments: "Payments, refunds, saved payment methods, Stripe webhooks",
  notifications: "What the shop told the customer",
};

export function buildOpenApi(routes: RouteEntry[], info: { title: string; version: string }): Record<string, any> {
  const paths: Record<string, Record<string, unknown>> = {};
  const taken = new Set<string>();
  const sorted = [...routes].sort((a, b) => a.path.localeCompare(b.path) || a.method.localeCompare(b.method));
  for (const route of sorted) {
    const { path } = openApiPath(route.path);
    paths[path] ??= {};
    paths[path][route.method.toLowerCase()] = operation(route, taken);
  }
  const usedTags = new Set(Object.values(paths).flatMap((ops) => Object.values(ops).flatMap((op: any) => op.tags as string[])));
  return {
    openapi: "3.1.0",
    info: { ...info, description: "Shop backend on the Moleculer broker. Money is in integer minor units of an ISO 4217 currency." },
    servers: [{ url: "/" }],
    tags: [...usedTags].sort().map((name) => ({ name, ...(TAGS[name] && { description: TAGS[name] }) })),
    paths,
    components: {
      securitySchemes: { bearerAuth: { type: "http", scheme: "bearer", bearerFormat: "JWT" } },
      schemas: SCHEMAS,
      responses: Object.fromEntries(Object.values(ERROR_RESPONSES).map(({ name, response }) => [name, response])),
    },
  };
}
