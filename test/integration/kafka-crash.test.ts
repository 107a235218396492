/**
 * A consuming node killed with SIGKILL in the middle of a stream of events, then restarted:
 * every event's effect is there exactly once (offsets are committed only after the effect, and the
 * effect records the event id in its own transaction).
 */
import { randomUUID } from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { Kafka, logLevel } from "kafkajs";
import { Client } from "pg";
import { freshDatabase, type TestDatabase } from "../support/databases";
import { removeShopKafka } from "../support/kafka";
import { stack, uniqueName } from "../support/stack";
import { isRunning, startTs, waitFor, type Child } from "../support/processes";
import { envelope } from "../../lib/events/envelope";
import { createTopicsWithLeaders } from "../../lib/events/kafka-topics";

const EVENTS = 300;
const namespace = uniqueName("crash");
const prefix = `${namespace}.`;
let db: TestDatabase;
let node: Child | undefined;
let dataDir: string;

const startConsumer = () =>
  startTs("shop.ts", {
    SERVICES: "notifications",
    NAMESPACE: namespace,
    KAFKA_BROKERS: stack.kafkaBrokers().join(","),
    KAFKA_TOPIC_PREFIX: prefix,
    NOTIFICATIONS_DB_URL: db.url,
    DATA_DIR: dataDir,
    PORT: "0",
  });

async function count(sql: string): Promise<number> {
  const client = new Client({ connectionString: db.url });
  await client.connect();
  try {
    return Number((await client.query(sql)).rows[0].n);
  } catch {
    return 0; // the tables do not exist yet
  } finally {
    await client.end();
  }
}

beforeAll(async () => {
  db = await freshDatabase("postgres");
  dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "shop-crash-"));
});

afterAll(async () => {
  await node?.stop("SIGKILL");
  await Promise.all([db.drop(), removeShopKafka(stack.kafkaBrokers(), namespace)]);
  fs.rmSync(dataDir, { recursive: true, force: true });
});

it("applies every event exactly once across a SIGKILL and a restart", async () => {
  const kafka = new Kafka({ clientId: "crash-test", brokers: stack.kafkaBrokers(), logLevel: logLevel.NOTHING });
  const admin = kafka.admin();
  await admin.connect();
  await createTopicsWithLeaders(admin, [`${prefix}order-events`, `${prefix}order-events.dlq`].map((topic) => ({ topic, numPartitions: 3 })));
  await admin.disconnect();
  const producer = kafka.producer({ idempotent: true });
  await producer.connect();
  const events = Array.from({ length: EVENTS }, (_, i) => {
    const orderId = randomUUID();
    return envelope("orders", "order.created", orderId, { orderId, userId: `user-${i}`, total: 100 + i, currency: "USD", payBy: new Date().toISOString() });
  });
  await producer.send({ topic: `${prefix}order-events`, acks: -1, messages: events.map((e) => ({ key: e.subject, value: JSON.stringify(e) })) });
  await producer.disconnect();

  node = startConsumer();
  // Kill it while it is working through the stream.
  await waitFor(async () => (await count("SELECT COUNT(*) AS n FROM notifications")) >= 20, 60_000, `the node to start consuming\n${node.output()}`);
  const pid = node.process.pid!;
  await node.stop("SIGKILL");
  expect(isRunning(pid)).toBe(false); // the worker itself died, not a wrapper around it
  const atKill = await count("SELECT COUNT(*) AS n FROM notifications");
  expect(atKill).toBeLessThan(EVENTS); // it really died mid-stream

  node = startConsumer();
  await waitFor(async () => (await count("SELECT COUNT(*) AS n FROM notifications")) >= EVENTS, 90_000, `the restarted node to finish\n${node.output()}`);
  await new Promise((r) => setTimeout(r, 2_000)); // time for any redelivery to show up
  expect(await count("SELECT COUNT(*) AS n FROM notifications")).toBe(EVENTS);
  expect(await count("SELECT COUNT(DISTINCT event_id) AS n FROM notifications")).toBe(EVENTS);
  expect(await count("SELECT COUNT(*) AS n FROM processed_events")).toBe(EVENTS);
}, 240_000);
