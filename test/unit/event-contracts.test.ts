/**
 * Integration events are typed by lib/events/contracts.ts: a payload that does not match its type
 * is a compile error (the type-check of the test command fails on an unused @ts-expect-error).
 */
import { envelope, topicOf, TOPICS } from "../../lib/events/envelope";
import { SCHEMA_VERSIONS, type EventHandlers, type EventType } from "../../lib/events/contracts";

it("builds envelopes whose payload the compiler checks against the event's contract", () => {
  const paid = envelope("orders", "order.paid", "o-1", { orderId: "o-1", userId: "u-1", paymentId: "p-1", amount: 1250, currency: "USD" });
  expect(paid).toMatchObject({ specversion: "1.0", type: "order.paid", subject: "o-1", schemaversion: SCHEMA_VERSIONS["order.paid"] });

  // @ts-expect-error: a payment.completed without its amount is not a payment.completed
  envelope("payments", "payment.completed", "o-1", { paymentId: "p-1", orderId: "o-1", userId: "u-1", currency: "USD" });
  // @ts-expect-error: no such event type
  envelope("payments", "payment.succeeded", "o-1", {});
  const handlers: EventHandlers = {
    async "order.paid"(event) {
      // @ts-expect-error: order.paid carries no `lines`
      return event.data.lines;
    },
  };
  expect(Object.keys(handlers)).toEqual(["order.paid"]);
});

it("gives every event type a schema version and a topic of the payment flow", () => {
  for (const type of Object.keys(SCHEMA_VERSIONS) as EventType[]) {
    expect(SCHEMA_VERSIONS[type]).toMatch(/^\d+$/);
    expect(TOPICS).toContain(topicOf(type));
  }
});
