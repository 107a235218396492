/**
 * The outbox relay publishes each event once and runs one loop per service.
 *
 * - Several relays of one outbox (several nodes of a service) race over the same rows on
 *   PostgreSQL and MariaDB: every row is handed to `publish` exactly once, in order.
 * - After a burst of checkouts on the real stack, a consumer of our own (a fresh Kafka group, so
 *   before any dedupe) sees every event id once, and the idle shop runs one relay loop per service.
 */
import { Kafka, logLevel } from "kafkajs";
import type { Sequelize } from "sequelize";
import { migratedDatabase } from "../support/databases";
import { startShopOnRealStack, http, signedIn } from "../support/shop";
import { removeKafkaRun } from "../support/kafka";
import { stack, uniqueName } from "../support/stack";
import { waitFor } from "../support/processes";
import { inTransaction } from "../../lib/sql";
import { addToOutbox, integrationEventMigrations, SqlOutbox, type OutboxMessage } from "../../lib/events/stores";
import { envelope, TOPICS } from "../../lib/events/envelope";

describe.each(["postgres", "mariadb"] as const)("racing relays on %s", (kind) => {
  let db: Awaited<ReturnType<typeof migratedDatabase>>;
  let sequelize: Sequelize;

  beforeAll(async () => {
    db = await migratedDatabase(kind, integrationEventMigrations, "events_migrations");
    sequelize = db.sequelize;
  });

  afterAll(() => db?.drop());

  it("hands every row to publish exactly once, in order, whatever the number of relays", async () => {
    const total = 300;
    for (let i = 0; i < total; i += 50) {
      await inTransaction(sequelize, async (t) => {
        for (let j = i; j < i + 50; j++) await addToOutbox(sequelize, envelope("orders", "order.cancelled", `order-${j % 7}`, { orderId: `order-${j % 7}`, userId: "u" }), t);
      });
    }
    const published: OutboxMessage[] = [];
    // Four relays (as four nodes would), each on its own outbox object, small batches, a publish that yields.
    const relays = Array.from({ length: 4 }, () => new SqlOutbox(sequelize));
    const publish = async (messages: OutboxMessage[]) => {
      await new Promise((r) => setTimeout(r, Math.random() * 3));
      published.push(...messages);
    };
    await Promise.all(
      relays.map(async (relay) => {
        while (published.length < total) if ((await relay.relay(7, publish)) === 0) await new Promise((r) => setTimeout(r, 1));
      }),
    );
    for (const relay of relays) expect(await relay.relay(7, publish)).toBe(0);
    const refs = published.map((m) => Number(m.ref));
    expect(new Set(refs).size).toBe(total);
    expect(refs).toHaveLength(total);
    expect(refs).toEqual([...refs].sort((a, b) => a - b)); // one leader at a time: the outbox order
  }, 60_000);
});

describe("after a burst of checkouts on the real stack", () => {
  const prefix = `${uniqueName("ro")}.`;
  const kafka = new Kafka({ clientId: "relay-once-test", brokers: stack.kafkaBrokers(), logLevel: logLevel.NOTHING });
  const countingGroup = uniqueName("relay-once-count");
  const consumer = kafka.consumer({ groupId: countingGroup });
  const seen = new Map<string, number>();
  let shop: Awaited<ReturnType<typeof startShopOnRealStack>>;

  beforeAll(async () => {
    shop = await startShopOnRealStack(stack.kafkaBrokers().join(","), {
      KAFKA_TOPIC_PREFIX: prefix,
      OUTBOX_RELAY_INTERVAL_MS: "500",
      ADMIN_EMAIL: "admin@relay.test",
      ADMIN_PASSWORD: "admin password 1",
    });
    await consumer.connect();
    await consumer.subscribe({ topics: TOPICS.map((t) => `${prefix}${t}`), fromBeginning: true });
    await consumer.run({
      eachMessage: async ({ message }) => {
        const id = JSON.parse(String(message.value)).id as string;
        seen.set(id, (seen.get(id) ?? 0) + 1);
      },
    });
  }, 120_000);

  afterAll(async () => {
    await consumer.disconnect();
    await shop?.stop();
    await Promise.all([shop?.drop(), removeKafkaRun(stack.kafkaBrokers(), { groupPrefix: countingGroup })]);
  });

  it("publishes each event once, and idles with one relay loop per service", async () => {
    const api = (path: string) => `${shop.url}/api/v1${path}`;
    const admin = (await http(api("/users/login"), { method: "POST", body: { email: "admin@relay.test", password: "admin password 1" } })).body.accessToken;
    const product = (await http(api("/admin/products"), { method: "POST", token: admin, body: { sku: "R-1", name: "Relay mug", price: 700, stock: 500, category: "r" } })).body;
    const buyers = await Promise.all(Array.from({ length: 8 }, (_, i) => signedIn(shop, `buyer${i}@relay.test`)));
    // The burst: every buyer checks out and pays three times, all at once.
    await Promise.all(
      buyers.map(async (buyer, b) => {
        for (let round = 0; round < 3; round++) {
          await http(api("/basket/items"), { method: "POST", token: buyer.token, body: { productId: product.id, quantity: 1 } });
          const order = (await http(api("/orders"), { method: "POST", token: buyer.token, body: {}, headers: { "idempotency-key": `o-${b}-${round}` } })).body;
          const payment = (await http(api("/payments"), { method: "POST", token: buyer.token, body: { orderId: order.id }, headers: { "idempotency-key": `p-${b}-${round}` } })).body;
          const paid = await http(api(`/payments/${payment.id}/process`), { method: "POST", token: buyer.token, body: { paymentMethod: "pm_card_visa" } });
          expect(paid.body.status).toBe("completed");
          await waitFor(async () => (await http(api("/basket"), { token: buyer.token })).body.itemCount === 0, 30_000, "the basket to be cleared");
        }
      }),
    );
    await waitFor(async () => (await http(api(`/admin/products/${product.id}`), { token: admin })).body.stock === 500 - 24, 30_000, "every sale to be committed");
    const outboxes = ["products", "orders", "payments", "baskets"];
    await waitFor(async () => (await Promise.all(outboxes.map((s) => shop.broker.call(`${s}.outboxStatus`)))).every((o: any) => o.depth === 0), 30_000, "the outboxes to drain");

    // Per checkout at least: stock reserved, order created, payment completed, order paid, stock updated, basket cleared.
    await waitFor(async () => seen.size >= 24 * 6, 30_000, "our consumer to read every event");
    await new Promise((r) => setTimeout(r, 1000)); // any duplicate would be right behind
    const duplicates = [...seen].filter(([, n]) => n > 1);
    expect(duplicates).toEqual([]);

    // Idle: each service's relay wakes about once per OUTBOX_RELAY_INTERVAL_MS (500 ms), not once per loop it ever started.
    const cycles = () => Object.fromEntries(outboxes.map((s) => [s, Number(shop.broker.metrics.getMetric("shop.outbox.relay_cycles")?.get({ service: s })?.value ?? 0)]));
    const before = cycles();
    await new Promise((r) => setTimeout(r, 3000));
    const after = cycles();
    for (const service of outboxes) {
      const idleCycles = after[service] - before[service];
      expect({ service, idleCycles, atMost8: idleCycles <= 8 }).toEqual({ service, idleCycles, atMost8: true });
      expect(idleCycles).toBeGreaterThanOrEqual(4);
    }
  }, 180_000);
});
