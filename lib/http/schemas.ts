/**
 * The shapes the API answers with, as JSON Schema (OpenAPI 3.1 components). Actions name them in
 * their `responses` declaration (lib/http/access.ts) with `ref("Product")` or `page("Product")`;
 * the document (lib/http/openapi.ts) carries each once under components/schemas. Every object is
 * closed (`additionalProperties: false`): a field the server sends but the document does not name
 * fails the tests that validate responses against it.
 */
import { ORDER_STATUSES } from "../../services/orders/order-state";
import { PAYMENT_STATUSES } from "../../services/payments/payment-state";

export type JsonSchema = Record<string, unknown>;

export const ref = (name: SchemaName): JsonSchema => ({ $ref: `#/components/schemas/${name}` });
/** A page of `name`: `{items, total, limit, offset}` (the `<name>Page` component). */
export const page = (name: PagedName): JsonSchema => ref(`${name}Page` as SchemaName);
export const arrayOf = (name: SchemaName): JsonSchema => ({ type: "array", items: ref(name) });

/** A closed object whose listed properties are all present. */
function object(properties: Record<string, JsonSchema>, optional: string[] = []): JsonSchema {
  return { type: "object", additionalProperties: false, required: Object.keys(properties).filter((k) => !optional.includes(k)), properties };
}
const nullable = (schema: JsonSchema): JsonSchema => ({ ...schema, type: [schema.type, "null"] });
const integer: JsonSchema = { type: "integer" };
const count: JsonSchema = { type: "integer", minimum: 0 };
const money: JsonSchema = { type: "integer", minimum: 0, description: "Integer minor units of the currency" };
const string: JsonSchema = { type: "string" };
const boolean: JsonSchema = { type: "boolean" };
const dateTime: JsonSchema = { type: "string", format: "date-time" };
const uuid: JsonSchema = { type: "string", format: "uuid" };
const currency: JsonSchema = { type: "string", pattern: "^[A-Z]{3}$", description: "ISO 4217" };

// The statuses are the state machines' own (pure domain modules): the document cannot name one they lack.
const ORDER_STATUS_VALUES: readonly string[] = ORDER_STATUSES;
const PAYMENT_STATUS_VALUES: readonly string[] = PAYMENT_STATUSES;

const productProperties: Record<string, JsonSchema> = {
  id: integer,
  sku: string,
  name: string,
  description: nullable(string),
  price: money,
  currency,
  stock: count,
  available: { ...count, description: "Stock minus live reservations" },
  category: string,
  imageUrl: nullable(string),
  isActive: boolean,
  createdAt: dateTime,
  updatedAt: dateTime,
};

const user = object({
  id: uuid,
  email: string,
  firstName: string,
  lastName: string,
  role: { enum: ["user", "admin"] },
  isActive: boolean,
  createdAt: dateTime,
  updatedAt: dateTime,
});

const orderSummaryProperties: Record<string, JsonSchema> = {
  id: uuid,
  userId: string,
  status: { enum: ORDER_STATUS_VALUES },
  currency,
  total: money,
  itemCount: count,
  refundedAmount: money,
  payBy: nullable(dateTime),
  createdAt: dateTime,
  updatedAt: dateTime,
};

const paymentProperties: Record<string, JsonSchema> = {
  id: uuid,
  orderId: uuid,
  userId: string,
  amount: money,
  currency,
  status: { enum: PAYMENT_STATUS_VALUES },
  provider: { enum: ["simulated", "stripe"] },
  paymentMethod: nullable(string),
  failureReason: nullable(string),
  requiresAction: { oneOf: [{ type: "null" }, object({ type: string })] },
  refundedAmount: money,
  createdAt: dateTime,
  updatedAt: dateTime,
};

const pageOf = (item: SchemaName) => object({ items: arrayOf(item), total: count, limit: { type: "integer", minimum: 1 }, offset: count });

export const SCHEMAS = {
  Error: {
    type: "object",
    additionalProperties: false,
    required: ["name", "message", "code", "type", "data"],
    description: "Every error: 4xx with what the client can fix, 5xx saying only 'Internal server error'",
    properties: {
      name: string,
      message: string,
      code: { type: "integer", minimum: 400, maximum: 599 },
      type: { type: ["string", "null"], description: "Stable machine-readable reason, e.g. VALIDATION_ERROR, SKU_TAKEN" },
      data: { description: "Details: the failing fields of a 422 (field, type, message, expected, actual), or what the conflict is about" },
    },
  },
  Health: object({ status: { enum: ["up", "down"] } }),
  HealthReport: object({
    status: { enum: ["up", "down"] },
    nodeId: string,
    uptimeSeconds: count,
    checks: { type: "array", items: object({ name: string, status: { enum: ["up", "down"] }, latencyMs: count, error: string }, ["error"]) },
    services: object({ required: { type: "array", items: string }, missing: { type: "array", items: string } }),
    routes: object({ count, pending: { type: "array", items: string } }),
    reason: { ...string, description: "Why the node is down when it is itself the reason: not started, or stopping (draining)" },
  }, ["reason"]),
  ClusterView: object({
    balancer: { ...string, description: "transporter (NATS queue groups), a Moleculer strategy, or in-process (no transporter)" },
    nodes: {
      type: "array",
      items: object({ id: string, local: boolean, available: boolean, hostname: nullable(string), cpu: nullable({ type: "number" }), lastHeartbeat: nullable(dateTime), services: { type: "array", items: string } }),
    },
    actions: {
      type: "array",
      items: object({
        name: string,
        endpoints: {
          type: "array",
          items: object({
            nodeID: string,
            available: boolean,
            circuit: { enum: ["closed", "open"] },
            calls: { ...nullable(count), description: "Calls this node served (its own metrics); null when it did not answer" },
            errors: nullable(count),
            meanMs: nullable({ type: "number", minimum: 0 }),
          }),
        },
      }),
    },
  }),
  DeadLetter: object({ id: string, topic: string, eventId: nullable(string), payload: string, error: string, attempts: count, createdAt: dateTime, replayedAt: nullable(dateTime) }),
  DeadLetterReplay: object({ id: string, status: { enum: ["applied", "failed"] }, error: string }, ["error"]),
  OpenApiDocument: { type: "object", required: ["openapi", "info", "paths"], properties: { openapi: string, info: { type: "object" }, paths: { type: "object" } } },

  User: user,
  Session: object({
    accessToken: string,
    refreshToken: string,
    tokenType: { const: "Bearer" },
    expiresIn: { type: "integer", minimum: 1, description: "Seconds the access token lives" },
    user: { $ref: "#/components/schemas/User" },
  }),

  Product: object(productProperties),
  AdminProduct: object({ ...productProperties, reserved: { ...count, description: "Units held by live reservations" } }),
  Category: object({ name: string, count, averagePrice: money }),
  CatalogStats: object({
    products: count,
    categories: count,
    averagePrice: money,
    inventoryValue: money,
    lowStock: count,
    outOfStock: count,
    lowStockThreshold: count,
  }),

  Basket: object({
    userId: string,
    items: {
      type: "array",
      items: object({ productId: integer, name: string, unitPrice: money, currency, quantity: { type: "integer", minimum: 1 }, lineTotal: money }),
    },
    itemCount: count,
    total: money,
    currency: nullable(currency),
    expiresAt: nullable(dateTime),
  }),

  OrderSummary: object(orderSummaryProperties),
  Order: object({
    ...orderSummaryProperties,
    lines: { type: "array", items: object({ productId: integer, name: string, unitPrice: money, quantity: { type: "integer", minimum: 1 }, lineTotal: money }) },
    history: {
      type: "array",
      items: object({ from: { enum: [...ORDER_STATUS_VALUES, null] }, to: { enum: ORDER_STATUS_VALUES }, cause: string, at: dateTime }),
    },
  }),

  Payment: object(paymentProperties),
  PaymentDetail: object({
    ...paymentProperties,
    refunds: {
      type: "array",
      items: object({ id: integer, amount: money, status: { enum: ["pending", "succeeded", "failed"] }, reason: string, createdAt: dateTime }),
    },
  }),
  PaymentStats: object({
    count: object(Object.fromEntries(PAYMENT_STATUS_VALUES.map((s) => [s, count]))),
    successRate: { type: ["number", "null"], minimum: 0, maximum: 1 },
    revenue: { type: "object", additionalProperties: money, description: "Per currency" },
    refunded: { type: "object", additionalProperties: money, description: "Per currency" },
  }),
  PaymentMethod: object({
    id: uuid,
    brand: string,
    last4: { type: "string", pattern: "^[0-9]{4}$" },
    expMonth: { type: "integer", minimum: 1, maximum: 12 },
    expYear: integer,
    isDefault: boolean,
    token: string,
    createdAt: dateTime,
  }),
  WebhookReceipt: object({ received: { const: true } }),

  Notification: object({ eventType: string, channel: string, subject: string, body: string, createdAt: dateTime }),

  ProductPage: {},
  AdminProductPage: {},
  UserPage: {},
  OrderSummaryPage: {},
  PaymentPage: {},
} satisfies Record<string, JsonSchema>;

export type SchemaName = keyof typeof SCHEMAS;
type PagedName = "Product" | "AdminProduct" | "User" | "OrderSummary" | "Payment";
for (const item of ["Product", "AdminProduct", "User", "OrderSummary", "Payment"] as const) {
  (SCHEMAS as Record<string, JsonSchema>)[`${item}Page`] = pageOf(item);
}
