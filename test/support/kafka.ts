/**
 * Every test (and benchmark) run on the shared Kafka makes its own topics and consumer groups; left
 * behind they pile up (thousands of partitions after a few hundred runs), and the broker and every
 * client pay for them: the checkout benchmark's Kafka CPU per checkout doubled.
 */
import { Kafka, logLevel, type Admin } from "kafkajs";

export async function connectKafkaAdmin(brokers: string[], clientId = "test-support", retries?: number): Promise<Admin> {
  const admin = new Kafka({ clientId, brokers, logLevel: logLevel.NOTHING, retry: retries === undefined ? undefined : { retries } }).admin();
  await admin.connect();
  return admin;
}

/**
 * Removes a run's topics (names starting with `topicPrefix`) and consumer groups (ids starting
 * with `groupPrefix`). A group that still has a member (a consumer killed less than a session
 * timeout ago) cannot be deleted yet: it is left for Kafka to expire with its offsets. A group whose
 * topics were just deleted may go by itself between the listing and the deletion, and a topic
 * another client is deleting may still be listed: neither is an error.
 */
export async function removeKafkaRun(brokers: string[], run: { topicPrefix?: string; groupPrefix?: string }): Promise<void> {
  const { topicPrefix, groupPrefix } = run;
  if (topicPrefix === "" || groupPrefix === "") throw new Error("removeKafkaRun: an empty prefix would match everything");
  // No retries inside kafkajs: it would retry a gone topic's error for seconds; deleteTopicsStartingWith lists again instead.
  const admin = await connectKafkaAdmin(brokers, "test-support", 0);
  try {
    if (topicPrefix) await deleteTopicsStartingWith(admin, topicPrefix);
    if (groupPrefix) {
      const { groups } = await admin.listGroups();
      const groupIds = groups.map((g) => g.groupId).filter((id) => id.startsWith(groupPrefix));
      if (groupIds.length) await admin.deleteGroups(groupIds).catch(ignoreGroupsInUseOrGone);
    }
  } finally {
    await admin.disconnect();
  }
}

/**
 * Removes what a shop run under `namespace` made, when its KAFKA_TOPIC_PREFIX was `${namespace}.`:
 * those topics, and its services' consumer groups (the Kafka bridge names them `${namespace}-<service>`).
 */
export function removeShopKafka(brokers: string[], namespace: string): Promise<void> {
  return removeKafkaRun(brokers, { topicPrefix: `${namespace}.`, groupPrefix: `${namespace}-` });
}

/**
 * A topic that another client has just deleted is still listed for a moment, and deleting it again
 * fails the whole batch with UNKNOWN_TOPIC_OR_PARTITION (it failed kafka-topics' afterAll in CI,
 * whose churn deletes topics under the run's prefix). The other topics of the batch are deleted all
 * the same: list again and delete what is left.
 */
async function deleteTopicsStartingWith(admin: Admin, prefix: string): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    const topics = (await admin.listTopics()).filter((t) => t.startsWith(prefix));
    if (!topics.length) return;
    try {
      await admin.deleteTopics({ topics });
      return;
    } catch (err) {
      const { type, cause } = err as { type?: string; cause?: { type?: string } };
      if (attempt >= 20 || (type ?? cause?.type) !== "UNKNOWN_TOPIC_OR_PARTITION") throw err;
    }
    await new Promise((resolve) => setTimeout(resolve, 100 * attempt));
  }
}

const LEFT_OR_GONE = new Set(["NON_EMPTY_GROUP", "GROUP_ID_NOT_FOUND"]);

/** Rethrows unless every group that failed to go still has a member, or was gone already. */
function ignoreGroupsInUseOrGone(err: unknown): void {
  const failed = (err as { groups?: { error?: { type?: string } }[] }).groups;
  if ((err as Error)?.name !== "KafkaJSDeleteGroupsError" || !failed?.every((g) => LEFT_OR_GONE.has(g.error?.type ?? ""))) throw err;
}
