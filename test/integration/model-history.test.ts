/**
 * The seeded model history (test/support/shop-model.ts) on the real stack: PostgreSQL, payments on
 * MariaDB, baskets and caches on Redis, every integration event through Kafka. The same invariants
 * as on the embedded shop must hold with real transactions, real consumer groups and real lag.
 */
import { startShopOnRealStack, http } from "../support/shop";
import { stack, uniqueName } from "../support/stack";
import { runHistory } from "../support/shop-model";

const SECRET = "whsec_model_history_real";
let shop: Awaited<ReturnType<typeof startShopOnRealStack>>;
let admin: string;

beforeAll(async () => {
  shop = await startShopOnRealStack(stack.kafkaBrokers().join(","), {
    KAFKA_TOPIC_PREFIX: `${uniqueName("model")}.`,
    RESERVATION_TTL_SECONDS: "3",
    PAYMENT_GRACE_SECONDS: "1",
    RESERVATION_SWEEP_SECONDS: "1",
    STRIPE_WEBHOOK_SECRET: SECRET,
    ADMIN_EMAIL: "admin@model-real.test",
    ADMIN_PASSWORD: "admin password 1",
  });
  admin = (await http(`${shop.url}/api/v1/users/login`, { method: "POST", body: { email: "admin@model-real.test", password: "admin password 1" } })).body.accessToken;
}, 120_000);
afterAll(async () => {
  await shop?.stop();
  await shop?.drop();
});

it("keeps the books over Kafka, PostgreSQL and MariaDB", async () => {
  const report = await runHistory(shop.url, shop.broker, admin, {
    seed: Number(process.env.MODEL_SEED ?? 7),
    customers: 12,
    steps: 20,
    products: 3,
    initialStock: 8,
    lapseSeconds: 8,
    webhookSecret: SECRET,
  });
  if (process.env.MODEL_REPORT) process.stderr.write(`${JSON.stringify(report, null, 1)}\n`);
  expect(["paid", "partially_refunded", "refunded"].reduce((n, s) => n + (report.orders[s] ?? 0), 0)).toBeGreaterThan(0);
  expect(Object.keys(report.byOutcome).filter((k) => / 5\d\d/.test(k))).toEqual([]);
  expect(report.violations).toEqual([]);
}, 180_000);
