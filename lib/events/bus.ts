/**
 * The embedded default's stand-in for Kafka: topics in memory, one subscription per consumer group,
 * the same envelopes and the same handlers. Delivery is asynchronous (like Kafka's) and in order
 * per topic and group.
 */
export interface BusMessage {
  topic: string;
  key: string;
  value: string;
}

type Handler = (message: BusMessage) => Promise<void>;

class InProcessBus {
  private readonly groups = new Map<string, { topics: Set<string>; handler: Handler; queue: BusMessage[]; running: boolean }>();

  subscribe(group: string, topics: string[], handler: Handler): () => void {
    this.groups.set(group, { topics: new Set(topics), handler, queue: [], running: false });
    return () => this.groups.delete(group);
  }

  async publish(messages: BusMessage[]): Promise<void> {
    for (const [group, sub] of this.groups) {
      const wanted = messages.filter((m) => sub.topics.has(m.topic));
      if (wanted.length === 0) continue;
      sub.queue.push(...wanted);
      if (!sub.running) void this.drain(group);
    }
  }

  private async drain(group: string): Promise<void> {
    const sub = this.groups.get(group);
    if (!sub) return;
    sub.running = true;
    try {
      // The handler retries and dead-letters on its own (the bridge's consume loop), like a Kafka consumer.
      while (sub.queue.length) await sub.handler(sub.queue.shift()!);
    } finally {
      sub.running = false;
    }
  }
}

/** One bus per process: every service of the embedded shop shares it. */
export const inProcessBus = new InProcessBus();
