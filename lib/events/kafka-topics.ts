/**
 * Creates Kafka topics and returns once every partition has a leader, so the first produce or
 * subscribe that follows cannot race the broker.
 *
 * kafkajs's own `waitForLeaders` retries only LEADER_NOT_AVAILABLE; a KRaft broker asked for a
 * topic's metadata a moment after creating it may still answer UNKNOWN_TOPIC_OR_PARTITION ("This
 * server does not host this topic-partition"), and kafkajs then fails the whole call.
 */
import type { Admin, ITopicConfig } from "kafkajs";

const SETTLING = new Set(["UNKNOWN_TOPIC_OR_PARTITION", "LEADER_NOT_AVAILABLE"]);

export async function createTopicsWithLeaders(admin: Admin, topics: ITopicConfig[], timeoutMs = 30_000): Promise<void> {
  await admin.createTopics({ topics, waitForLeaders: false });
  const names = topics.map((t) => t.topic);
  const deadline = Date.now() + timeoutMs;
  for (let delay = 50; ; delay = Math.min(delay * 2, 500)) {
    try {
      const { topics: found } = await admin.fetchTopicMetadata({ topics: names });
      if (found.length === names.length && found.every((t) => t.partitions.length > 0 && t.partitions.every((p) => p.leader >= 0))) return;
    } catch (err) {
      const { type, cause } = err as { type?: string; cause?: { type?: string } };
      if (!SETTLING.has(type ?? cause?.type ?? "")) throw err;
    }
    if (Date.now() > deadline) throw new Error(`Kafka topics without leaders after ${timeoutMs} ms: ${names.join(", ")}`);
    await new Promise((resolve) => setTimeout(resolve, delay));
  }
}
