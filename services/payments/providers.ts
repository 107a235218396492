/**
 * The payment provider port and its two adapters. `simulated` (the embedded default) decides from
 * Stripe's test payment-method names; `stripe` drives PaymentIntents through the stripe SDK.
 * Every call that charges or refunds carries an idempotency key, so a retry never charges twice.
 */
import Stripe from "stripe";

export type ConfirmOutcome =
  | { status: "succeeded" }
  | { status: "failed"; reason: string }
  | { status: "requires_action"; reason: string };

export interface CardDetails {
  brand: string;
  last4: string;
  expMonth: number;
  expYear: number;
}

export interface PaymentProvider {
  readonly name: "simulated" | "stripe";
  createIntent(input: { amount: number; currency: string; paymentId: string; orderId: string }, idempotencyKey: string): Promise<{ ref: string }>;
  confirm(ref: string, paymentMethod: string, idempotencyKey: string): Promise<ConfirmOutcome>;
  cancel(ref: string, idempotencyKey: string): Promise<void>;
  /** `metadata.refundId` lets a refund webhook tell our own refunds from ones made at the provider. */
  refund(ref: string, amount: number, idempotencyKey: string, metadata: { refundId: string }): Promise<{ ref: string }>;
  /** What may be stored of a payment method: never a card number. */
  describeMethod(token: string): Promise<CardDetails>;
}

/** Stripe's test cards, by payment-method name. */
const TEST_CARDS: Record<string, { brand: string; last4: string; outcome: ConfirmOutcome }> = {
  pm_card_visa: { brand: "visa", last4: "4242", outcome: { status: "succeeded" } },
  pm_card_mastercard: { brand: "mastercard", last4: "4444", outcome: { status: "succeeded" } },
  pm_card_amex: { brand: "amex", last4: "8431", outcome: { status: "succeeded" } },
  pm_card_chargeDeclined: { brand: "visa", last4: "0002", outcome: { status: "failed", reason: "card_declined" } },
  pm_card_chargeDeclinedInsufficientFunds: { brand: "visa", last4: "9995", outcome: { status: "failed", reason: "insufficient_funds" } },
  pm_card_chargeDeclinedExpiredCard: { brand: "visa", last4: "0069", outcome: { status: "failed", reason: "expired_card" } },
  pm_card_authenticationRequired: { brand: "visa", last4: "3184", outcome: { status: "requires_action", reason: "authentication_required" } },
};

export class SimulatedProvider implements PaymentProvider {
  readonly name = "simulated" as const;
  /** How many charges were really attempted, per intent: a test can see a payment is charged once. */
  readonly charges = new Map<string, number>();

  async createIntent(input: { paymentId: string }): Promise<{ ref: string }> {
    return { ref: `sim_pi_${input.paymentId}` };
  }

  async confirm(ref: string, paymentMethod: string): Promise<ConfirmOutcome> {
    this.charges.set(ref, (this.charges.get(ref) ?? 0) + 1);
    return TEST_CARDS[paymentMethod]?.outcome ?? { status: "failed", reason: "unknown_payment_method" };
  }

  async cancel(): Promise<void> {}

  /** Refunds really asked for, by idempotency key: a test can see a refund reached the provider once. */
  readonly refunds = new Map<string, number>();

  async refund(_ref: string, amount: number, idempotencyKey: string): Promise<{ ref: string }> {
    this.refunds.set(idempotencyKey, (this.refunds.get(idempotencyKey) ?? 0) + 1);
    // Like Stripe: the same key names the same refund.
    return { ref: `sim_re_${idempotencyKey.replace(/[^A-Za-z0-9]/g, "_")}_${amount}` };
  }

  async describeMethod(token: string): Promise<CardDetails> {
    const card = TEST_CARDS[token];
    if (!card) throw Object.assign(new Error(`unknown payment method ${token}`), { unknownMethod: true });
    return { brand: card.brand, last4: card.last4, expMonth: 12, expYear: new Date().getFullYear() + 3 };
  }
}

export class StripeProvider implements PaymentProvider {
  readonly name = "stripe" as const;
  private readonly stripe: Stripe;

  constructor(secretKey: string, apiBase?: string) {
    const base = apiBase ? new URL(apiBase) : undefined;
    this.stripe = new Stripe(secretKey, {
      maxNetworkRetries: 2,
      timeout: 10_000,
      ...(base && { host: base.hostname, port: Number(base.port || (base.protocol === "https:" ? 443 : 80)), protocol: base.protocol.replace(":", "") as "http" | "https" }),
    });
  }

  async createIntent(input: { amount: number; currency: string; paymentId: string; orderId: string }, idempotencyKey: string) {
    const intent = await this.stripe.paymentIntents.create(
      { amount: input.amount, currency: input.currency.toLowerCase(), metadata: { paymentId: input.paymentId, orderId: input.orderId } },
      { idempotencyKey },
    );
    return { ref: intent.id };
  }

  async confirm(ref: string, paymentMethod: string, idempotencyKey: string): Promise<ConfirmOutcome> {
    try {
      const intent = await this.stripe.paymentIntents.confirm(ref, { payment_method: paymentMethod }, { idempotencyKey });
      if (intent.status === "succeeded") return { status: "succeeded" };
      if (intent.status === "requires_action") return { status: "requires_action", reason: "authentication_required" };
      if (intent.status === "processing" || intent.status === "requires_capture") return { status: "requires_action", reason: intent.status };
      return { status: "failed", reason: intent.last_payment_error?.code ?? intent.status };
    } catch (err) {
      // A declined card is an answer, not an outage.
      if (err instanceof Stripe.errors.StripeCardError) return { status: "failed", reason: err.code ?? "card_declined" };
      throw err;
    }
  }

  async cancel(ref: string, idempotencyKey: string): Promise<void> {
    await this.stripe.paymentIntents.cancel(ref, {}, { idempotencyKey });
  }

  async refund(ref: string, amount: number, idempotencyKey: string, metadata: { refundId: string }): Promise<{ ref: string }> {
    const refund = await this.stripe.refunds.create({ payment_intent: ref, amount, metadata }, { idempotencyKey });
    return { ref: refund.id };
  }

  async describeMethod(token: string): Promise<CardDetails> {
    const method = await this.stripe.paymentMethods.retrieve(token);
    if (!method.card) throw Object.assign(new Error(`${token} is not a card`), { unknownMethod: true });
    return { brand: method.card.brand, last4: method.card.last4, expMonth: method.card.exp_month, expYear: method.card.exp_year };
  }
}

/** Stripe signs webhooks with the endpoint's secret; checking needs no API call, whichever provider runs. */
const webhookVerifier = new Stripe("sk_test_signature_checks_only");

/** Verifies a webhook's signature: missing, tampered or older than 5 minutes, it throws. */
export function verifyStripeWebhook(payload: string, signature: string, secret: string): Stripe.Event {
  return webhookVerifier.webhooks.constructEvent(payload, signature, secret, 300);
}
