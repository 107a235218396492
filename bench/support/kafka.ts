/**
 * The benchmark's dealings with the stack's Kafka. Whether the shop's event consumers have caught
 * up is asked of Kafka rather than of the shop's databases (whose statement counters are being
 * read): a consumer commits a message's offset only after applying it, so a group whose committed
 * offsets reach the end of its topics is done.
 */
import { Kafka, logLevel, type Admin } from "kafkajs";
import { connectKafkaAdmin } from "../../test/support/kafka";
import { sleep } from "./processes";

/** Messages not yet applied by the consumer groups whose id starts with `groupPrefix`. */
async function pendingMessages(admin: Admin, groupPrefix: string): Promise<number> {
  const { groups } = await admin.listGroups();
  let pending = 0;
  for (const { groupId } of groups.filter((g) => g.groupId.startsWith(groupPrefix))) {
    for (const { topic, partitions } of await admin.fetchOffsets({ groupId })) {
      const ends = new Map((await admin.fetchTopicOffsets(topic)).map((p) => [p.partition, p]));
      for (const { partition, offset } of partitions) {
        const end = ends.get(partition);
        if (!end) continue;
        // -1: nothing committed yet, so everything since the start is pending.
        pending += Number(end.high) - (Number(offset) < 0 ? Number(end.low) : Number(offset));
      }
    }
  }
  return pending;
}

/**
 * Waits until every message is applied, seen twice in a row (an event still on its way from an
 * outbox to Kafka is not in the count yet). Returns what is still pending at the timeout.
 */
export async function waitForConsumers(brokers: string[], groupPrefix: string, timeoutMs: number): Promise<number> {
  const admin = await connectKafkaAdmin(brokers, "bench");
  try {
    const deadline = Date.now() + timeoutMs;
    let quietChecks = 0;
    for (;;) {
      const pending = await pendingMessages(admin, groupPrefix);
      quietChecks = pending === 0 ? quietChecks + 1 : 0;
      if (quietChecks === 2 || Date.now() > deadline) return pending;
      await sleep(250);
    }
  } finally {
    await admin.disconnect();
  }
}

export interface BasketClears {
  /** When the basket service cleared the basket of this paid order (its basket.cleared event's time), in epoch ms. */
  clearedAt(orderId: string): number | undefined;
  /** Resolves once the basket.cleared event of this order is read; rejects after `timeoutMs`. */
  whenCleared(orderId: string, timeoutMs: number): Promise<void>;
  stop(): Promise<void>;
}

/**
 * Reads the run's basket.cleared events as they are published: each carries the moment the basket
 * was cleared (written by the same Redis script that cleared it). Clients wait for these before
 * their next round, and the event lag is measured from them, rather than by clients polling their
 * baskets: those requests would load the shop being measured (at 10 ms polls, ≈ 15% of its CPU per
 * checkout).
 */
export async function watchBasketClears(brokers: string[], topic: string, groupId: string): Promise<BasketClears> {
  const consumer = new Kafka({ clientId: groupId, brokers, logLevel: logLevel.WARN }).consumer({ groupId, maxWaitTimeInMs: 100 });
  const cleared = new Map<string, number>();
  const waiting = new Map<string, () => void>();
  await consumer.connect();
  await consumer.subscribe({ topics: [topic], fromBeginning: true });
  await consumer.run({
    eachMessage: async ({ message }) => {
      const event = JSON.parse(String(message.value ?? "{}")) as { type?: string; time?: string; data?: { orderId?: string } };
      const orderId = event.data?.orderId;
      if (event.type !== "basket.cleared" || !orderId || !event.time) return;
      cleared.set(orderId, Date.parse(event.time));
      waiting.get(orderId)?.();
    },
  });
  return {
    clearedAt: (orderId) => cleared.get(orderId),
    whenCleared(orderId, timeoutMs) {
      if (cleared.has(orderId)) return Promise.resolve();
      return new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no basket.cleared for order ${orderId} within ${timeoutMs} ms`)), timeoutMs);
        waiting.set(orderId, () => {
          clearTimeout(timer);
          waiting.delete(orderId);
          resolve();
        });
      });
    },
    stop: () => consumer.disconnect(),
  };
}
