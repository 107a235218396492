/**
 * The embedded default's stand-in for Kafka: topics in memory, one subscription per consumer group,
 * the same envelopes and the same handlers. Delivery is asynchronous (like Kafka's) and in order
 * per topic and group. `publish` resolves only once every subscribed group has handled (applied or
 * dead-lettered) each message, so the outbox marks a row sent only when the consumers' own stores
 * have it: a crash in between leaves the row pending, and it is delivered again (consumers skip
 * event ids they have seen).
 */
export interface BusMessage {
  topic: string;
  key: string;
  value: string;
  /** Kafka headers (the publish span's `traceparent` with tracing on). */
  headers?: Record<string, string>;
}

type Handler = (message: BusMessage) => Promise<void>;
interface Delivery {
  message: BusMessage;
  done: (err?: unknown) => void;
}
interface Subscription {
  topics: Set<string>;
  handler: Handler;
  queue: Delivery[];
  running: boolean;
}

class InProcessBus {
  private readonly groups = new Map<string, Subscription>();

  subscribe(group: string, topics: string[], handler: Handler): () => void {
    const sub: Subscription = { topics: new Set(topics), handler, queue: [], running: false };
    this.groups.set(group, sub);
    return () => {
      if (this.groups.get(group) === sub) this.groups.delete(group);
      // Messages not handled yet stay unsent in their outbox: they are delivered after a restart.
      for (const pending of sub.queue.splice(0)) pending.done(new Error(`consumer group ${group} stopped`));
    };
  }

  /** Messages each topic has waiting for this group, not yet handled: the group's lag. */
  lag(group: string): Map<string, number> {
    const sub = this.groups.get(group);
    const lag = new Map<string, number>([...(sub?.topics ?? [])].map((t) => [t, 0]));
    for (const { message } of sub?.queue ?? []) lag.set(message.topic, (lag.get(message.topic) ?? 0) + 1);
    return lag;
  }

  async publish(messages: BusMessage[]): Promise<void> {
    const deliveries: Promise<void>[] = [];
    for (const sub of this.groups.values()) {
      const wanted = messages.filter((m) => sub.topics.has(m.topic));
      if (wanted.length === 0) continue;
      for (const message of wanted) {
        deliveries.push(new Promise<void>((resolve, reject) => sub.queue.push({ message, done: (err) => (err ? reject(err) : resolve()) })));
      }
      if (!sub.running) void this.drain(sub);
    }
    await Promise.all(deliveries);
  }

  private async drain(sub: Subscription): Promise<void> {
    sub.running = true;
    try {
      // The handler retries and dead-letters on its own (the bridge's consume loop), like a Kafka consumer.
      while (sub.queue.length) {
        const { message, done } = sub.queue.shift()!;
        try {
          await sub.handler(message);
          done();
        } catch (err) {
          done(err);
        }
      }
    } finally {
      sub.running = false;
    }
  }
}

/** One bus per process: every service of the embedded shop shares it. */
export const inProcessBus = new InProcessBus();
