/**
 * The real servers answer over real connections: SQL on PostgreSQL, MariaDB and SQLite, Redis,
 * NATS between two brokers in separate processes, Kafka, and stripe-mock.
 */
import { DataTypes } from "sequelize";
import Redis from "ioredis";
import { Kafka, logLevel } from "kafkajs";
import Stripe from "stripe";
import { ServiceBroker } from "moleculer";
import { createSequelize, migrate } from "../../lib/sql";
import { SQL_TARGETS, stack, uniqueName } from "../support/stack";
import { startTs } from "../support/processes";
import { createTopicsWithLeaders } from "../../lib/events/kafka-topics";

describe.each(SQL_TARGETS)("SQL round trip on %s", (_name, url) => {
  it("migrates, writes and reads back, then rolls back", async () => {
    const sequelize = createSequelize(url());
    const table = uniqueName("probe");
    try {
      const applied = await migrate(
        sequelize,
        [
          {
            name: "001-probe",
            up: (qi) => qi.createTable(table, { id: { type: DataTypes.INTEGER, primaryKey: true, autoIncrement: true }, label: DataTypes.STRING(50) }),
            down: (qi) => qi.dropTable(table),
          },
        ],
        `${table}_migrations`,
      );
      expect(applied).toEqual(["001-probe"]);
      await sequelize.getQueryInterface().bulkInsert(table, [{ label: "héllo" }, { label: "world" }]);
      const [rows] = await sequelize.query(`SELECT label FROM ${table} ORDER BY id`);
      expect(rows).toEqual([{ label: "héllo" }, { label: "world" }]);
      // A second run applies nothing.
      expect(await migrate(sequelize, [], `${table}_migrations`)).toEqual([]);
    } finally {
      await sequelize.getQueryInterface().dropTable(table);
      await sequelize.getQueryInterface().dropTable(`${table}_migrations`);
      await sequelize.close();
    }
  });
});

describe.each(SQL_TARGETS.filter(([name]) => name !== "sqlite"))("migrations on %s", (_name, url) => {
  it("run once when three nodes of a service start at the same moment", async () => {
    const table = uniqueName("race");
    const nodes = [createSequelize(url()), createSequelize(url()), createSequelize(url())];
    const slowMigration = [
      {
        name: "001-slow",
        up: async (qi: any) => {
          await new Promise((r) => setTimeout(r, 300)); // long enough for the others to arrive
          await qi.createTable(table, { id: { type: DataTypes.INTEGER, primaryKey: true } });
        },
        down: (qi: any) => qi.dropTable(table),
      },
    ];
    try {
      const applied = await Promise.all(nodes.map((s) => migrate(s, slowMigration, `${table}_migrations`)));
      expect(applied.map((a) => a.length).sort()).toEqual([0, 0, 1]);
    } finally {
      await nodes[0].getQueryInterface().dropTable(table);
      await nodes[0].getQueryInterface().dropTable(`${table}_migrations`);
      await Promise.all(nodes.map((s) => s.close()));
    }
  });
});

describe("Redis", () => {
  it("sets with a TTL and reads back", async () => {
    const redis = new Redis(stack.redisUrl(), { lazyConnect: true, maxRetriesPerRequest: 1 });
    await redis.connect();
    const key = uniqueName("probe");
    try {
      await redis.set(key, "value", "EX", 60);
      expect(await redis.get(key)).toBe("value");
      expect(await redis.ttl(key)).toBeGreaterThan(50);
    } finally {
      await redis.del(key);
      redis.disconnect();
    }
  });
});

describe("NATS transporter", () => {
  it("carries a request from this broker to a broker in another process", async () => {
    const namespace = uniqueName("nats");
    const remote = startTs("test/support/echo-node.ts", { TRANSPORTER: stack.natsUrl(), NAMESPACE: namespace, NODE_ID: "echo-node" });
    const broker = new ServiceBroker({ namespace, nodeID: "caller", transporter: { type: "NATS", options: { url: stack.natsUrl() } }, logLevel: "warn" });
    try {
      await broker.start();
      await broker.waitForServices("echo", 20_000);
      const answer: any = await broker.call("echo.ping", { value: 42 });
      expect(answer.pong).toBe(42);
      expect(answer.nodeID).toBe("echo-node");
      expect(answer.pid).not.toBe(process.pid);
    } finally {
      await broker.stop();
      await remote.stop();
    }
  });
});

describe("Kafka", () => {
  it("produces a message and a consumer group reads it back", async () => {
    const kafka = new Kafka({ clientId: "probe", brokers: stack.kafkaBrokers(), logLevel: logLevel.NOTHING });
    const topic = uniqueName("probe");
    const admin = kafka.admin();
    const producer = kafka.producer({ idempotent: true });
    const consumer = kafka.consumer({ groupId: `${topic}-group` });
    await admin.connect();
    try {
      await createTopicsWithLeaders(admin, [{ topic, numPartitions: 1 }]);
      await producer.connect();
      await producer.send({ topic, acks: -1, messages: [{ key: "order-1", value: JSON.stringify({ hello: "kafka" }) }] });
      await consumer.connect();
      await consumer.subscribe({ topic, fromBeginning: true });
      const received = await new Promise<{ key: string; value: string }>((resolve) => {
        void consumer.run({
          eachMessage: async ({ message }) => resolve({ key: String(message.key), value: String(message.value) }),
        });
      });
      expect(received).toEqual({ key: "order-1", value: JSON.stringify({ hello: "kafka" }) });
    } finally {
      await consumer.disconnect();
      await producer.disconnect();
      await admin.deleteTopics({ topics: [topic] }).catch(() => undefined);
      await admin.disconnect();
    }
  });
});

describe("stripe-mock", () => {
  it("creates and confirms a PaymentIntent through the stripe SDK", async () => {
    const base = new URL(stack.stripeApiBase());
    const stripe = new Stripe("sk_test_probe", { host: base.hostname, port: Number(base.port), protocol: base.protocol.replace(":", "") as "http" });
    const intent = await stripe.paymentIntents.create({ amount: 1999, currency: "usd" }, { idempotencyKey: uniqueName("pi") });
    expect(intent.object).toBe("payment_intent");
    expect(intent.id).toMatch(/^pi_/);
    const confirmed = await stripe.paymentIntents.confirm(intent.id, { payment_method: "pm_card_visa" });
    expect(confirmed.object).toBe("payment_intent");
  });
});
