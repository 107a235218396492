import { isRepeatable, RepeatableActionsMiddleware, TransporterBalancingMiddleware } from "../../lib/repeatable-actions";

describe("actions safe to repeat", () => {
  it.each([
    [{ rest: "GET /products/:id" }, true],
    [{ rest: "get /products" }, true],
    [{ rest: { method: "GET", path: "/basket" } }, true],
    [{ rest: "POST /orders" }, false],
    [{ rest: "PUT /basket/items/:id" }, false],
    [{ rest: "DELETE /basket" }, false],
    [{}, false],
    [{ idempotent: true }, true],
    // An explicit word wins over the route: a GET with a side effect can say so.
    [{ rest: "GET /odd", idempotent: false }, false],
  ])("%j → %s", (action, expected) => {
    expect(isRepeatable(action)).toBe(expected);
  });

  it("gives them the read timeout and retries, keeping what an action sets itself", () => {
    const schema = {
      actions: {
        get: { rest: "GET /things/:id", handler: () => 1 },
        slow: { rest: "GET /slow", timeout: 30_000, handler: () => 1 },
        write: { rest: "POST /things", handler: () => 1 },
        bare: () => 1,
        hidden: false,
      } as Record<string, any>,
    };
    (RepeatableActionsMiddleware(1_500) as any).serviceCreating({}, schema);
    expect(schema.actions.get).toMatchObject({ timeout: 1_500, retryPolicy: { enabled: true } });
    expect(schema.actions.slow).toMatchObject({ timeout: 30_000, retryPolicy: { enabled: true } });
    expect(schema.actions.write.timeout).toBeUndefined();
    expect(schema.actions.write.retryPolicy).toBeUndefined();
    expect(typeof schema.actions.bare).toBe("function");
    expect(schema.actions.hidden).toBe(false);
  });
});

it("takes ACTION_TIMEOUTS over the read timeout and the action's own", () => {
  const schema = {
    name: "orders",
    actions: { checkout: { rest: "POST /orders", handler: () => 1 }, get: { rest: "GET /orders/:id", timeout: 5_000, handler: () => 1 }, list: { rest: "GET /orders", handler: () => 1 } } as Record<string, any>,
  };
  (RepeatableActionsMiddleware(1_500, { "orders.checkout": 15_000, "orders.get": 800 }) as any).serviceCreating({}, schema);
  expect(schema.actions.checkout.timeout).toBe(15_000);
  expect(schema.actions.checkout.retryPolicy).toBeUndefined();
  expect(schema.actions.get.timeout).toBe(800);
  expect(schema.actions.list.timeout).toBe(1_500);
});

describe("balancing by the transporter", () => {
  const seen: unknown[] = [];
  const call = (TransporterBalancingMiddleware as any).call((action: unknown) => Promise.resolve(seen.push(action)));

  it("sends a call aimed at a remote endpoint by action name, so NATS picks a live node", async () => {
    await call({ id: "products-1", local: false, action: { name: "products.get" } }, {}, {});
    await call("orders.list", {}, { nodeID: "core" });
    const local = { id: "me", local: true, action: { name: "api.live" } };
    await call(local, {}, {});
    expect(seen).toEqual(["products.get", "orders.list", local]);
  });
});
