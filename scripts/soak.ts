/**
 * A longer seeded model history than the test suite runs (test/support/shop-model.ts), on the
 * embedded shop or, with --real, on the real stack (scripts/stack.sh up first). Prints the figures
 * and every broken invariant; exits 1 if any.
 *
 *   npm run soak -- --seeds 1,2,3 --customers 40 --steps 40 [--real]
 */
import { parseArgs } from "node:util";
import { startShop, startShopOnRealStack, http, type RunningShop } from "../test/support/shop";
import { runHistory } from "../test/support/shop-model";

const { values } = parseArgs({
  options: {
    seeds: { type: "string", default: "1,2,3" },
    customers: { type: "string", default: "40" },
    steps: { type: "string", default: "40" },
    products: { type: "string", default: "6" },
    stock: { type: "string", default: "20" },
    real: { type: "boolean", default: false },
  },
});

const SECRET = "whsec_soak";
const env = {
  RESERVATION_TTL_SECONDS: "3",
  PAYMENT_GRACE_SECONDS: "1",
  RESERVATION_SWEEP_SECONDS: "1",
  STRIPE_WEBHOOK_SECRET: SECRET,
  ADMIN_EMAIL: "admin@soak.test",
  ADMIN_PASSWORD: "admin password 1",
  LOG_LEVEL: "error",
};

async function main(): Promise<void> {
  const shop: RunningShop & { drop?: () => Promise<void> } = values.real
    ? await startShopOnRealStack(process.env.TEST_KAFKA_BROKERS ?? "127.0.0.1:9092", { ...env, KAFKA_TOPIC_PREFIX: `soak${Date.now().toString(36)}.` })
    : await startShop(env);
  let broken = 0;
  try {
    const admin = (await http(`${shop.url}/api/v1/users/login`, { method: "POST", body: { email: env.ADMIN_EMAIL, password: env.ADMIN_PASSWORD } })).body.accessToken;
    for (const seed of values.seeds!.split(",").map(Number)) {
      const report = await runHistory(shop.url, shop.broker, admin, {
        seed,
        customers: Number(values.customers),
        steps: Number(values.steps),
        products: Number(values.products),
        initialStock: Number(values.stock),
        lapseSeconds: values.real ? 8 : 6,
        webhookSecret: SECRET,
      });
      const errors = Object.entries(report.byOutcome).filter(([k]) => / 5\d\d/.test(k));
      console.log(JSON.stringify({ seed, seconds: report.seconds, requests: report.requests, orders: report.orders, payments: report.payments, refunds: report.refunds, received: report.received, serverErrors: errors, violations: report.violations }));
      broken += report.violations.length + errors.length;
    }
  } finally {
    await shop.stop();
    await shop.drop?.();
  }
  process.exit(broken ? 1 : 0);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
