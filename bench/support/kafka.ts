/**
 * The benchmark's dealings with the stack's Kafka. Whether the shop's event consumers have caught
 * up is asked of Kafka rather than of the shop's databases (whose statement counters are being
 * read): a consumer commits a message's offset only after applying it, so a group whose committed
 * offsets reach the end of its topics is done.
 */
import { Kafka, logLevel, type Admin } from "kafkajs";
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
  const admin = await connectAdmin(brokers);
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

/** Removes a run's topics and consumer groups: the Kafka is shared, and every run makes its own. */
export async function removeRun(brokers: string[], topicPrefix: string, groupPrefix: string): Promise<void> {
  const admin = await connectAdmin(brokers);
  try {
    const { groups } = await admin.listGroups();
    const groupIds = groups.map((g) => g.groupId).filter((id) => id.startsWith(groupPrefix));
    if (groupIds.length) await admin.deleteGroups(groupIds);
    const topics = (await admin.listTopics()).filter((t) => t.startsWith(topicPrefix));
    if (topics.length) await admin.deleteTopics({ topics });
  } finally {
    await admin.disconnect();
  }
}

async function connectAdmin(brokers: string[]): Promise<Admin> {
  const admin = new Kafka({ clientId: "bench", brokers, logLevel: logLevel.NOTHING }).admin();
  await admin.connect();
  return admin;
}
