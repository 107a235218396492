/** The Stripe adapter against stripe-mock (the stripe SDK over HTTP), and webhook signatures. */
import Stripe from "stripe";
import { StripeProvider, verifyStripeWebhook } from "../../services/payments/providers";
import { stack, uniqueName } from "../support/stack";

describe("Stripe provider on stripe-mock", () => {
  let provider: StripeProvider;
  beforeAll(() => {
    provider = new StripeProvider("sk_test_stack", stack.stripeApiBase());
  });

  it("creates a PaymentIntent in minor units, confirms, refunds and cancels it", async () => {
    const key = uniqueName("pay");
    const { ref } = await provider.createIntent({ amount: 1999, currency: "USD", paymentId: key, orderId: "o-1" }, `${key}:intent`);
    expect(ref).toMatch(/^pi_/);
    const outcome = await provider.confirm(ref, "pm_card_visa", `${key}:confirm`);
    expect(["succeeded", "failed", "requires_action"]).toContain(outcome.status);
    expect((await provider.refund(ref, 500, `${key}:refund`, { refundId: "1" })).ref).toMatch(/^re_/);
    await expect(provider.cancel(ref, `${key}:cancel`)).resolves.toBeUndefined();
  });

  it("describes a saved card by brand, last four digits and expiry only", async () => {
    const card = await provider.describeMethod("pm_card_visa");
    expect(Object.keys(card).sort()).toEqual(["brand", "expMonth", "expYear", "last4"]);
    expect(card.last4).toMatch(/^\d{4}$/);
  });

  it("reports an unreachable Stripe as an error, not as a decline", async () => {
    const offline = new StripeProvider("sk_test_stack", "http://127.0.0.1:9"); // nothing listens there
    await expect(offline.confirm("pi_123", "pm_card_visa", uniqueName("k"))).rejects.toThrow();
  });
});

describe("Stripe webhook signatures", () => {
  const secret = "whsec_test_secret";
  const payload = JSON.stringify({ id: "evt_1", object: "event", type: "payment_intent.succeeded", data: { object: { id: "pi_1", object: "payment_intent" } } });
  const header = (body: string, timestamp = Math.floor(Date.now() / 1000), key = secret) => Stripe.webhooks.generateTestHeaderString({ payload: body, secret: key, timestamp });

  it("accepts a valid signature", () => {
    expect(verifyStripeWebhook(payload, header(payload), secret).type).toBe("payment_intent.succeeded");
  });

  it("refuses a tampered body, a wrong secret, a stale timestamp and a missing signature", () => {
    expect(() => verifyStripeWebhook(payload.replace("pi_1", "pi_2"), header(payload), secret)).toThrow();
    expect(() => verifyStripeWebhook(payload, header(payload, undefined, "whsec_other"), secret)).toThrow();
    expect(() => verifyStripeWebhook(payload, header(payload, Math.floor(Date.now() / 1000) - 600), secret)).toThrow(/tolerance/i);
    expect(() => verifyStripeWebhook(payload, "", secret)).toThrow();
  });
});
