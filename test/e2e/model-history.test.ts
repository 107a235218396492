/**
 * Seeded random histories of many customers and an admin at once, on the embedded shop, checked
 * against the invariants of money and stock (test/support/shop-model.ts). Reservations last 2 s, so
 * orders lapse during the run. A failing seed is printed: MODEL_SEED=<seed> replays its choices.
 */
import { startShop, http, type RunningShop } from "../support/shop";
import { LAPSING_ORDERS, runHistory } from "../support/shop-model";

const SECRET = "whsec_model_history";
let shop: RunningShop;
let admin: string;
const seeds = process.env.MODEL_SEED ? [Number(process.env.MODEL_SEED)] : [1, 2];

beforeAll(async () => {
  shop = await startShop({
    ...LAPSING_ORDERS,
    STRIPE_WEBHOOK_SECRET: SECRET,
    ADMIN_EMAIL: "admin@model.test",
    ADMIN_PASSWORD: "admin password 1",
  });
  admin = (await http(`${shop.url}/api/v1/users/login`, { method: "POST", body: { email: "admin@model.test", password: "admin password 1" } })).body.accessToken;
}, 30_000);
afterAll(() => shop.stop());

it.each(seeds)("keeps the books for seed %i", async (seed) => {
  const report = await runHistory(shop.url, shop.broker, admin, {
    seed,
    customers: 12,
    steps: 20,
    products: 4,
    initialStock: 8,
    lapseSeconds: 5,
    webhookSecret: SECRET,
  });
  if (process.env.MODEL_REPORT) process.stderr.write(`${JSON.stringify(report, null, 1)}\n`);
  // The history must have exercised what it claims to: sales, lapses, refunds, declines.
  const sold = ["paid", "partially_refunded", "refunded"].reduce((n, s) => n + (report.orders[s] ?? 0), 0);
  expect(sold).toBeGreaterThan(0);
  expect((report.orders.expired ?? 0) + (report.orders.cancelled ?? 0)).toBeGreaterThan(0);
  expect(report.refunds).toBeGreaterThan(0);
  expect(Object.keys(report.byOutcome).filter((k) => / 5\d\d/.test(k))).toEqual([]);
  expect(report.violations).toEqual([]);
}, 120_000);
