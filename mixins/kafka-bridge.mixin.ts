/**
 * The Kafka bridge: integration events of the payment flow, none lost and none applied twice.
 *
 * Publishing: a service writes events to its outbox in the same transaction as the state change
 * (`addToOutbox`); the relay here publishes pending rows to Kafka with an idempotent producer
 * (acks=all), key = aggregate id, marks them sent, and retries with back-off while Kafka is away.
 *
 * Consuming: one consumer group per service. Each handler applies its effect once per event id
 * (`processOnce`, or atomically in Redis). A failing handler is retried with back-off; after
 * `maxAttempts` the message goes to `<topic>.dlq` and the service's dead letters, which operators
 * list and replay from the REPL. The offset moves on only after the effect or the dead letter, and is
 * committed every KAFKA_COMMIT_INTERVAL_MS (lib/events/offset-commits.ts).
 *
 * Without KAFKA_BROKERS (the embedded default) the same envelopes go through the same outbox to
 * the same handlers over an in-process bus.
 *
 * Observability: with tracing on, an event's envelope carries the traceparent of the span that
 * wrote it (lib/events/envelope.ts); the relay publishes it in a producer span under that one,
 * whose traceparent travels as a Kafka header; the consumer processes it in a consumer span under
 * that, and the handler's work (its SQL, the events it writes) joins it. Every 5 s each service
 * reports its outbox depth and age, its dead letters waiting for an operator and its consumer
 * lag per topic; published, consumed and dead-lettered messages are counted as they go.
 */
import { Kafka, logLevel, CompressionTypes, type Consumer, type Producer, type Admin } from "kafkajs";
import type { ServiceSchema, Span } from "moleculer";
import { config } from "../lib/config";
import { inProcessBus, type BusMessage } from "../lib/events/bus";
import { createTopicsWithLeaders } from "../lib/events/kafka-topics";
import { PeriodicOffsetCommits } from "../lib/events/offset-commits";
import { dlqTopicOf, parseEnvelope, topicOf, traceparentInJson, TOPICS, type Envelope } from "../lib/events/envelope";
import { SCHEMA_VERSIONS, type EventHandlers, type EventType } from "../lib/events/contracts";
import type { OutboxMessage } from "../lib/events/stores";
import { registerHealthCheck, unregisterHealthCheck } from "../lib/health";
import { arrayOf } from "../lib/http/schemas";
import { queryBool, text } from "../lib/params";
import { outsideAnyRequest, withRequestContext, type RequestContext } from "../lib/request-context";
import { endSpan, newTraceSampled, parentFrom, startSpan, traceparentOf, tracingActive } from "../lib/telemetry/tracing";
import { randomSpanId, randomTraceId } from "../lib/telemetry/trace-ids";
import { counter, DELAY_BUCKETS, gauge, histogram } from "../lib/telemetry/shop-metrics";

export interface KafkaBridgeOptions {
  /** The service's consumers, by event type (typed by lib/events/contracts.ts); `this` is the service. */
  handlers?: EventHandlers;
}

const RELAY_BATCH = 100;
/** The outbox and dead-letter gauges are COUNT queries, the lag two Kafka requests: refreshed this often. */
const REPORT_MS = 5_000;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** How long a stopping service waits for the messages in hand and their offset commit. */
const STOP_COMMIT_MS = 1_000;

export function KafkaBridgeMixin(opts: KafkaBridgeOptions = {}): ServiceSchema<any> {
  const cfg = config();
  const handlers = opts.handlers ?? {};
  const consumedTopics = [...new Set(Object.keys(handlers).map(topicOf))];
  // Outboxes store logical topics (payment-events); on Kafka they carry the configured prefix.
  const onKafka = (topic: string) => `${cfg.kafka.topicPrefix}${topic}`;

  // `merged` is a Moleculer lifecycle hook that its typings do not list.
  const mixin: ServiceSchema<any> & { merged(schema: ServiceSchema<any>): void } = {
    name: "kafka-bridge",

    actions: {
      /** For operators (REPL `outbox`): how much is waiting to be published, and for how long. */
      outboxStatus: {
        async handler() {
          const stats = this.outbox ? await this.outbox.stats() : { depth: 0, oldestAgeSeconds: 0 };
          return { service: this.name, kafka: this.kafka ? "kafka" : "in-process", ...stats };
        },
      },
      /** For operators (REPL `dlq`, admin console): the messages this service could not apply. */
      deadLetters: {
        auth: "admin",
        summary: "Integration events this service could not apply (dead letters); `all` includes replayed ones",
        responses: { 200: arrayOf("DeadLetter") },
        params: { $$strict: true, all: queryBool({ optional: true }) },
        async handler(ctx: any) {
          return this.deadLetters ? this.deadLetters.list(ctx.params.all) : [];
        },
      },
      /** For operators (REPL `dlq-replay`, admin console): apply dead letters again, one or all, after a fix. */
      replayDeadLetters: {
        auth: "admin",
        summary: "Apply this service's dead letters again (one by `id`, or all) once the cause is fixed",
        responses: { 200: arrayOf("DeadLetterReplay") },
        params: { $$strict: true, id: text(32, { min: 1, optional: true }) },
        async handler(ctx: any) {
          const pending = ((await this.deadLetters?.list()) ?? []).filter((d: any) => !ctx.params.id || d.id === ctx.params.id);
          const results = [];
          for (const letter of pending) {
            try {
              await this.applyEnvelope(parseEnvelope(letter.payload));
              await this.deadLetters.markReplayed(letter.id);
              results.push({ id: letter.id, status: "applied" });
            } catch (err: any) {
              await this.deadLetters.markReplayed(letter.id, String(err?.message ?? err));
              results.push({ id: letter.id, status: "failed", error: String(err?.message ?? err) });
            }
          }
          return results;
        },
      },
    },

    /** Each service's own admin routes (its name is known once the mixins are merged): /api/v1/admin/dead-letters/<service>. */
    merged(schema: ServiceSchema<any>) {
      schema.actions!.deadLetters = { ...(schema.actions!.deadLetters as object), rest: `GET /admin/dead-letters/${schema.name}` };
      schema.actions!.replayDeadLetters = { ...(schema.actions!.replayDeadLetters as object), rest: `POST /admin/dead-letters/${schema.name}/replay` };
    },

    methods: {
      /** Publishes what is pending now instead of at the next tick (call after a commit). */
      kickRelay() {
        this.relayWanted = true;
        if (this.relayTimer && !this.relaying) {
          clearTimeout(this.relayTimer);
          this.scheduleRelay(0);
        }
      },

      /**
       * The relay's next cycle, outside the request whose commit woke it: its logs must not carry
       * that request's id forever after, nor its spans join that request's trace.
       */
      scheduleRelay(delay: number) {
        this.relayTimer = outsideAnyRequest(() => setTimeout(() => this.relayLoop(), delay));
      },

      async relayLoop() {
        if (!this.bridgeRunning) return;
        this.relaying = true;
        this.countRelayCycle({ service: this.name });
        let delay = cfg.kafka.relayIntervalMs;
        try {
          this.relayWanted = false;
          const sent: number = await this.outbox.relay(RELAY_BATCH, (messages: OutboxMessage[]) => this.publishMessages(messages));
          this.relayFailures = 0;
          if (sent === RELAY_BATCH || this.relayWanted) delay = 0;
        } catch (err: any) {
          // Kafka away (or the database): the rows stay pending; try again later, backing off.
          this.relayFailures = (this.relayFailures ?? 0) + 1;
          delay = Math.min(30_000, cfg.kafka.relayIntervalMs * 2 ** Math.min(this.relayFailures, 8));
          if (this.relayFailures === 1 || this.relayFailures % 10 === 0) this.logger.warn(`Outbox relay failed (${this.relayFailures}x), retrying in ${delay} ms:`, err?.message ?? err);
        } finally {
          this.relaying = false;
          if (this.bridgeRunning) this.scheduleRelay(delay);
        }
      },

      async publishMessages(messages: OutboxMessage[]) {
        // With tracing on, each message is sent in a span under the one that wrote it.
        const spans: (Span | undefined)[] = tracingActive() ? messages.map((m) => this.publishSpan(m)) : [];
        const headersOf = (i: number) => (spans[i] ? { traceparent: traceparentOf(spans[i]) } : undefined);
        try {
          if (!this.producer) {
            await inProcessBus.publish(messages.map((m, i) => ({ topic: m.topic, key: m.key, value: m.value, headers: headersOf(i) })));
          } else {
            const byTopic = new Map<string, { key: string; value: string; headers?: Record<string, string> }[]>();
            messages.forEach((m, i) => {
              const topic = onKafka(m.topic);
              if (!byTopic.has(topic)) byTopic.set(topic, []);
              byTopic.get(topic)!.push({ key: m.key, value: m.value, headers: headersOf(i) });
            });
            await this.producer.sendBatch({
              acks: -1,
              compression: CompressionTypes.None,
              timeout: 10_000,
              topicMessages: [...byTopic].map(([topic, msgs]) => ({ topic, messages: msgs })),
            });
          }
        } catch (err) {
          for (const span of spans) endSpan(span, err);
          throw err;
        }
        for (const span of spans) endSpan(span);
        for (const m of messages) this.countPublished({ service: this.name, topic: this.producer ? onKafka(m.topic) : m.topic });
      },

      /** The producer span of one outbox message, under the span that wrote it (none if it was written untraced). */
      publishSpan(m: OutboxMessage): Span | undefined {
        const parent = parentFrom(traceparentInJson(m.value));
        if (!parent) return undefined;
        const topic = this.producer ? onKafka(m.topic) : m.topic;
        return startSpan(`send ${topic}`, {
          kind: "producer",
          service: this.name,
          parent,
          attributes: {
            "messaging.system": this.producer ? "kafka" : "in-process",
            "messaging.operation.type": "send",
            "messaging.destination.name": topic,
            "messaging.kafka.message.key": m.key,
            "shop.outbox.ref": m.ref,
          },
        });
      },

      /** Sent messages and applied-event ids older than EVENT_RETENTION_DAYS go (every node may do it). */
      async pruneEventRecords() {
        const before = new Date(Date.now() - cfg.events.retentionMs);
        try {
          const removed: number = await this.outbox.prune(before);
          if (removed) this.logger.info(`Pruned ${removed} sent or applied event record(s) older than ${before.toISOString()}`);
        } catch (err: any) {
          this.logger.warn("Pruning event records failed:", err?.message ?? err);
        }
      },

      /** The gauges: outbox depth and age, dead letters waiting, consumer lag per topic. Each part on its own: one failing leaves the others. */
      async reportBridge() {
        if (this.outbox) {
          await this.outbox.stats().then(({ depth, oldestAgeSeconds }: { depth: number; oldestAgeSeconds: number }) => {
            this.setOutboxDepth({ service: this.name }, depth);
            this.setOutboxAge({ service: this.name }, oldestAgeSeconds);
          }, () => undefined);
        }
        if (this.deadLetters) await this.deadLetters.pending().then((n: number) => this.setDeadLettersPending({ service: this.name }, n), () => undefined);
        if (consumedTopics.length) await this.consumerLag().then((lag: Map<string, number>) => {
          for (const [topic, n] of lag) this.setConsumerLag({ topic, group: this.consumerGroup }, n);
        }, () => undefined);
      },

      /** Messages written to each consumed topic and not yet applied by this service's group. */
      async consumerLag(): Promise<Map<string, number>> {
        if (!this.kafkaAdmin) return inProcessBus.lag(this.consumerGroup);
        const lag = new Map<string, number>();
        const committed = await this.kafkaAdmin.fetchOffsets({ groupId: this.consumerGroup, topics: consumedTopics.map(onKafka) });
        for (const { topic, partitions } of committed as { topic: string; partitions: { partition: number; offset: string }[] }[]) {
          const ends: { partition: number; high: string; low: string }[] = await this.kafkaAdmin.fetchTopicOffsets(topic);
          let total = 0;
          for (const end of ends) {
            const offset = Number(partitions.find((p) => p.partition === end.partition)?.offset ?? -1);
            // Nothing committed yet: everything still on the partition is behind.
            total += Math.max(0, Number(end.high) - (offset >= 0 ? offset : Number(end.low)));
          }
          lag.set(topic, total);
        }
        return lag;
      },

      /** Applies one envelope with the service's handler for its type (types it does not handle pass). */
      async applyEnvelope(event: Envelope) {
        const handler = handlers[event.type as EventType] as ((this: unknown, e: Envelope) => Promise<unknown>) | undefined;
        if (!handler) return;
        if (event.schemaversion !== SCHEMA_VERSIONS[event.type as EventType]) throw new Error(`unknown schema version ${event.schemaversion} of ${event.type}`);
        await handler.call(this, event);
      },

      /**
       * One message: retried with back-off, then dead-lettered. Never throws: the offset may move on.
       * With tracing on it is processed in a consumer span under the message's producer span.
       */
      async consumeMessage(message: BusMessage) {
        let outcome: { error?: string };
        if (tracingActive()) {
          const { span, context } = this.consumeTrace(message);
          outcome = await withRequestContext(context, () => this.processMessage(message, span));
          endSpan(span, outcome.error === undefined ? undefined : new Error(outcome.error));
        } else outcome = await this.processMessage(message);
        this.countConsumed({ service: this.name, topic: message.topic, outcome: outcome.error === undefined ? "applied" : "dead_lettered" });
      },

      /**
       * The trace a message is processed in: under its producer span (a header), or the span that
       * wrote it (its envelope), or a trace of its own. A consumer span when the trace is sampled;
       * otherwise none, but a context that carries the decision on to what the handler writes.
       */
      consumeTrace(message: BusMessage): { span?: Span; context: RequestContext } {
        const parent = parentFrom(message.headers?.traceparent) ?? parentFrom(traceparentInJson(message.value));
        const traceId = parent?.traceId ?? randomTraceId();
        const sampled = parent ? parent.sampled : newTraceSampled(traceId);
        // Kafka's topic name (with KAFKA_TOPIC_PREFIX), or the in-process bus's.
        const topic = message.topic;
        const span = startSpan(`process ${topic}`, {
          kind: "consumer",
          service: this.name,
          parent: { traceId, spanId: parent?.spanId, sampled },
          attributes: {
            "messaging.system": this.producer ? "kafka" : "in-process",
            "messaging.operation.type": "process",
            "messaging.destination.name": topic,
            "messaging.consumer.group.name": this.consumerGroup,
            "messaging.kafka.message.key": message.key,
          },
        });
        if (span) return { span, context: { traceId, spanId: span.id, sampled: true } };
        return { context: { traceId, spanId: parent?.spanId ?? randomSpanId(), sampled: false } };
      },

      async processMessage(message: BusMessage, span?: Span): Promise<{ error?: string }> {
        let event: Envelope | undefined;
        let lastError: unknown;
        let attempts = 0;
        try {
          event = parseEnvelope(message.value);
        } catch (err) {
          lastError = err; // a poison message: no retry can mend it
        }
        if (event) {
          span?.addTags({ "messaging.message.id": event.id, "cloudevents.event_type": event.type, "cloudevents.event_subject": event.subject });
          for (attempts = 1; attempts <= cfg.kafka.maxAttempts; attempts++) {
            try {
              await this.applyEnvelope(event);
              const delay = (Date.now() - Date.parse(event.time)) / 1000;
              if (delay >= 0) this.observeDelivery({ service: this.name, type: event.type }, delay);
              return {};
            } catch (err) {
              lastError = err;
              span?.log("attempt failed", { attempt: attempts, error: String((err as Error)?.message ?? err) });
              this.logger.warn(`${event.type} ${event.id}: attempt ${attempts}/${cfg.kafka.maxAttempts} failed:`, (err as Error)?.message ?? err);
              if (attempts < cfg.kafka.maxAttempts) await sleep(Math.min(5_000, cfg.kafka.retryBaseMs * 2 ** (attempts - 1)));
            }
          }
          attempts--;
        }
        const error = String((lastError as Error)?.message ?? lastError);
        this.logger.error(`Dead letter after ${attempts} attempt(s) on ${message.topic}: ${error}`);
        await this.deadLetters.add({ topic: message.topic, eventId: event?.id ?? null, payload: message.value, error, attempts });
        this.countDeadLetter({ service: this.name, topic: message.topic });
        if (this.producer) {
          await this.producer.send({
            topic: dlqTopicOf(message.topic),
            acks: -1,
            messages: [{ key: message.key, value: message.value, headers: { error, attempts: String(attempts), consumer: this.name } }],
          });
        }
        return { error };
      },

      registerBridgeMetrics() {
        const b = this.broker;
        this.setOutboxDepth = gauge(b, { name: "shop.outbox.depth", labelNames: ["service"], description: "Outbox rows not yet published" });
        this.setOutboxAge = gauge(b, { name: "shop.outbox.oldest_age_seconds", labelNames: ["service"], unit: "seconds", description: "Age of the oldest unpublished outbox row, in seconds" });
        // One relay loop per service: idle, this grows by about one per OUTBOX_RELAY_INTERVAL_MS.
        this.countRelayCycle = counter(b, { name: "shop.outbox.relay_cycles", labelNames: ["service"], description: "Outbox relay cycles run" });
        this.countPublished = counter(b, { name: "shop.outbox.published", labelNames: ["service", "topic"], description: "Integration events published from the outbox, by topic" });
        this.countConsumed = counter(b, {
          name: "shop.kafka.consumed",
          labelNames: ["service", "topic", "outcome"],
          description: "Integration events a service's consumer finished with: applied (or a duplicate skipped) or dead_lettered",
        });
        this.countDeadLetter = counter(b, { name: "shop.dead_letters", labelNames: ["service", "topic"], description: "Messages a service could not apply and dead-lettered" });
        this.setDeadLettersPending = gauge(b, { name: "shop.dead_letters.pending", labelNames: ["service"], description: "Dead letters of a service not replayed yet (waiting for an operator)" });
        this.setConsumerLag = gauge(b, { name: "shop.kafka.consumer_lag", labelNames: ["topic", "group"], description: "Messages on a topic not yet applied by a consumer group (summed over partitions)" });
        this.observeDelivery = histogram(b, {
          name: "shop.event.delivery_delay_seconds",
          labelNames: ["service", "type"],
          buckets: DELAY_BUCKETS,
          unit: "seconds",
          description: "From an integration event's creation to its effect applied by a consuming service, in seconds",
        });
      },

      async startKafka() {
        const kafka = new Kafka({
          clientId: `${cfg.namespace}-${this.name}-${this.broker.nodeID}`,
          brokers: cfg.kafkaBrokers!,
          logLevel: logLevel.WARN,
          retry: { initialRetryTime: 300, retries: 8 },
        });
        this.kafka = kafka;
        const admin: Admin = kafka.admin();
        this.kafkaAdmin = admin;
        await admin.connect();
        // Topics (and their dead-letter topics) exist before anyone writes or reads.
        await createTopicsWithLeaders(
          admin,
          TOPICS.flatMap((t) => [t, dlqTopicOf(t)]).map((topic) => ({ topic: onKafka(topic), numPartitions: cfg.kafka.partitions, replicationFactor: cfg.kafka.replicationFactor })),
        );
        registerHealthCheck("kafka", async () => void (await admin.describeCluster()));
        if (this.outbox || consumedTopics.length) {
          const producer: Producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1, allowAutoTopicCreation: false });
          await producer.connect();
          this.producer = producer;
        }
        if (consumedTopics.length) {
          const consumer: Consumer = kafka.consumer({
            groupId: this.consumerGroup,
            allowAutoTopicCreation: false,
            sessionTimeout: cfg.kafka.sessionTimeoutMs,
            heartbeatInterval: Math.max(500, Math.floor(cfg.kafka.sessionTimeoutMs / 5)),
          });
          await consumer.connect();
          await consumer.subscribe({ topics: consumedTopics.map(onKafka), fromBeginning: true });
          this.offsetCommits = new PeriodicOffsetCommits(consumer, cfg.kafka.commitIntervalMs, (err: any) =>
            this.logger.warn("Offset commit refused (those messages will come again, and be skipped):", err?.message ?? err),
          );
          this.consuming = 0;
          // eachMessage resolves after the effect (or the dead letter); only then is its offset marked for commit.
          // Partitions are applied concurrently (order holds per key, which is per partition).
          await consumer.run({
            autoCommit: false,
            partitionsConsumedConcurrently: cfg.kafka.partitions,
            eachMessage: async ({ topic, partition, message }) => {
              this.consuming++;
              try {
                await this.consumeMessage({ topic, key: String(message.key ?? ""), value: String(message.value ?? ""), headers: traceHeaders(message.headers) });
                this.offsetCommits.applied(topic, partition, message.offset);
              } finally {
                this.consuming--;
              }
            },
          });
          this.consumer = consumer;
        }
      },
    },

    async started() {
      // The service set up `this.outbox` and `this.deadLetters` in its created() hook.
      if (!this.deadLetters && consumedTopics.length) throw new Error(`${this.name}: the Kafka bridge needs a dead-letter store`);
      this.consumerGroup = `${cfg.namespace}-${this.name}`;
      this.registerBridgeMetrics();
      if (cfg.kafkaBrokers) await this.startKafka();
      else if (consumedTopics.length) {
        this.unsubscribeBus = inProcessBus.subscribe(this.consumerGroup, consumedTopics, (m: BusMessage) => this.consumeMessage(m));
      }
      this.bridgeRunning = true;
      if (this.outbox) {
        this.scheduleRelay(0);
        this.pruneTimer = setInterval(() => this.pruneEventRecords(), cfg.events.pruneIntervalSeconds * 1000).unref();
      }
      // Not at once: the service's own started() has not connected its stores yet (baskets' Redis).
      this.reportTimer = outsideAnyRequest(() => setInterval(() => void this.reportBridge(), REPORT_MS).unref());
    },

    async stopped() {
      this.bridgeRunning = false;
      clearTimeout(this.relayTimer);
      clearInterval(this.pruneTimer);
      clearInterval(this.reportTimer);
      while (this.relaying) await sleep(20);
      this.unsubscribeBus?.();
      unregisterHealthCheck("kafka");
      if (this.consumer) {
        // No new messages; those in hand finish, and what they applied is committed while still a
        // member. For a moment at most: during a rebalance kafkajs retries a commit for many seconds,
        // and what stays uncommitted only comes again to another node, which skips it.
        this.consumer.pause(consumedTopics.map((topic) => ({ topic: onKafka(topic) })));
        const commitApplied = async () => {
          while (this.consuming > 0) await sleep(20);
          await this.offsetCommits.flush();
        };
        let timer: NodeJS.Timeout | undefined;
        await Promise.race([commitApplied(), new Promise((resolve) => (timer = setTimeout(resolve, STOP_COMMIT_MS)))]);
        clearTimeout(timer);
      }
      await this.consumer?.disconnect();
      await this.producer?.disconnect();
      await this.kafkaAdmin?.disconnect();
    },
  };
  return mixin;
}

/** The trace headers of a Kafka message (kafkajs gives header values as buffers). */
function traceHeaders(headers: Record<string, unknown> | undefined): Record<string, string> | undefined {
  const value = headers?.traceparent;
  if (value === undefined) return undefined;
  return { traceparent: Buffer.isBuffer(value) ? value.toString("utf8") : String(value) };
}
