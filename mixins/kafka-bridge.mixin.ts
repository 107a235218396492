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
 * list and replay from the REPL. The offset moves on only after the effect or the dead letter.
 *
 * Without KAFKA_BROKERS (the embedded default) the same envelopes go through the same outbox to
 * the same handlers over an in-process bus.
 */
import { Kafka, logLevel, CompressionTypes, type Consumer, type Producer, type Admin } from "kafkajs";
import type { ServiceSchema } from "moleculer";
import { config } from "../lib/config";
import { inProcessBus, type BusMessage } from "../lib/events/bus";
import { dlqTopicOf, parseEnvelope, topicOf, TOPICS, type Envelope } from "../lib/events/envelope";
import { SCHEMA_VERSIONS, type EventHandlers, type EventType } from "../lib/events/contracts";
import type { OutboxMessage } from "../lib/events/stores";
import { registerHealthCheck, unregisterHealthCheck } from "../lib/health";
import { arrayOf } from "../lib/http/schemas";

export interface KafkaBridgeOptions {
  /** The service's consumers, by event type (typed by lib/events/contracts.ts); `this` is the service. */
  handlers?: EventHandlers;
}

const RELAY_BATCH = 100;
/** The outbox gauges are a COUNT query: refreshed this often, not after every relay cycle. */
const OUTBOX_REPORT_MS = 5_000;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

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
        params: { all: { type: "boolean", optional: true, convert: true } },
        async handler(ctx: any) {
          return this.deadLetters ? this.deadLetters.list(ctx.params.all) : [];
        },
      },
      /** For operators (REPL `dlq-replay`, admin console): apply dead letters again, one or all, after a fix. */
      replayDeadLetters: {
        auth: "admin",
        summary: "Apply this service's dead letters again (one by `id`, or all) once the cause is fixed",
        responses: { 200: arrayOf("DeadLetterReplay") },
        params: { id: { type: "string", optional: true, min: 1, max: 32 } },
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
          this.relayTimer = setTimeout(() => this.relayLoop(), 0);
        }
      },

      async relayLoop() {
        if (!this.bridgeRunning) return;
        this.relaying = true;
        this.broker.metrics?.increment("shop.outbox.relay_cycles", { service: this.name });
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
          // Still "relaying" while reporting: a kick meanwhile must not start a second timer loop.
          await this.reportOutbox().catch(() => undefined);
          this.relaying = false;
          if (this.bridgeRunning) this.relayTimer = setTimeout(() => this.relayLoop(), delay);
        }
      },

      async publishMessages(messages: OutboxMessage[]) {
        if (!this.producer) {
          await inProcessBus.publish(messages.map((m) => ({ topic: m.topic, key: m.key, value: m.value })));
          return;
        }
        const byTopic = new Map<string, { key: string; value: string }[]>();
        for (const m of messages) {
          const topic = onKafka(m.topic);
          if (!byTopic.has(topic)) byTopic.set(topic, []);
          byTopic.get(topic)!.push({ key: m.key, value: m.value });
        }
        await this.producer.sendBatch({
          acks: -1,
          compression: CompressionTypes.None,
          timeout: 10_000,
          topicMessages: [...byTopic].map(([topic, msgs]) => ({ topic, messages: msgs })),
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

      async reportOutbox() {
        if (!this.outbox || !this.broker.metrics || Date.now() - (this.outboxReportedAt ?? 0) < OUTBOX_REPORT_MS) return;
        this.outboxReportedAt = Date.now();
        const { depth, oldestAgeSeconds } = await this.outbox.stats();
        this.broker.metrics.set("shop.outbox.depth", depth, { service: this.name });
        this.broker.metrics.set("shop.outbox.oldest_age_seconds", oldestAgeSeconds, { service: this.name });
      },

      /** Applies one envelope with the service's handler for its type (types it does not handle pass). */
      async applyEnvelope(event: Envelope) {
        const handler = handlers[event.type as EventType] as ((this: unknown, e: Envelope) => Promise<unknown>) | undefined;
        if (!handler) return;
        if (event.schemaversion !== SCHEMA_VERSIONS[event.type as EventType]) throw new Error(`unknown schema version ${event.schemaversion} of ${event.type}`);
        await handler.call(this, event);
      },

      /** One message: retried with back-off, then dead-lettered. Never throws: the offset may move on. */
      async consumeMessage(message: BusMessage) {
        let event: Envelope | undefined;
        let lastError: unknown;
        let attempts = 0;
        try {
          event = parseEnvelope(message.value);
        } catch (err) {
          lastError = err; // a poison message: no retry can mend it
        }
        if (event) {
          for (attempts = 1; attempts <= cfg.kafka.maxAttempts; attempts++) {
            try {
              await this.applyEnvelope(event);
              return;
            } catch (err) {
              lastError = err;
              this.logger.warn(`${event.type} ${event.id}: attempt ${attempts}/${cfg.kafka.maxAttempts} failed:`, (err as Error)?.message ?? err);
              if (attempts < cfg.kafka.maxAttempts) await sleep(Math.min(5_000, cfg.kafka.retryBaseMs * 2 ** (attempts - 1)));
            }
          }
          attempts--;
        }
        const error = String((lastError as Error)?.message ?? lastError);
        this.logger.error(`Dead letter after ${attempts} attempt(s) on ${message.topic}: ${error}`);
        await this.deadLetters.add({ topic: message.topic, eventId: event?.id ?? null, payload: message.value, error, attempts });
        if (this.producer) {
          await this.producer.send({
            topic: dlqTopicOf(message.topic),
            acks: -1,
            messages: [{ key: message.key, value: message.value, headers: { error, attempts: String(attempts), consumer: this.name } }],
          });
        }
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
        await admin.createTopics({
          waitForLeaders: true,
          topics: TOPICS.flatMap((t) => [t, dlqTopicOf(t)]).map((topic) => ({ topic: onKafka(topic), numPartitions: cfg.kafka.partitions, replicationFactor: cfg.kafka.replicationFactor })),
        });
        registerHealthCheck("kafka", async () => void (await admin.describeCluster()));
        if (this.outbox || consumedTopics.length) {
          const producer: Producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1, allowAutoTopicCreation: false });
          await producer.connect();
          this.producer = producer;
        }
        if (consumedTopics.length) {
          const consumer: Consumer = kafka.consumer({
            groupId: `${cfg.namespace}-${this.name}`,
            allowAutoTopicCreation: false,
            sessionTimeout: cfg.kafka.sessionTimeoutMs,
            heartbeatInterval: Math.max(500, Math.floor(cfg.kafka.sessionTimeoutMs / 5)),
          });
          await consumer.connect();
          await consumer.subscribe({ topics: consumedTopics.map(onKafka), fromBeginning: true });
          // eachMessage resolves after the effect (or the dead letter); kafkajs commits only then.
          // Partitions are applied concurrently (order holds per key, which is per partition).
          await consumer.run({
            partitionsConsumedConcurrently: cfg.kafka.partitions,
            eachMessage: async ({ topic, message }) =>
              this.consumeMessage({ topic, key: String(message.key ?? ""), value: String(message.value ?? "") }),
          });
          this.consumer = consumer;
        }
      },
    },

    async started() {
      // The service set up `this.outbox` and `this.deadLetters` in its created() hook.
      if (!this.deadLetters && consumedTopics.length) throw new Error(`${this.name}: the Kafka bridge needs a dead-letter store`);
      this.broker.metrics?.register({ type: "gauge", name: "shop.outbox.depth", labelNames: ["service"], description: "Outbox rows not yet published" });
      this.broker.metrics?.register({ type: "gauge", name: "shop.outbox.oldest_age_seconds", labelNames: ["service"], description: "Age of the oldest unpublished outbox row" });
      // One relay loop per service: idle, this grows by about one per OUTBOX_RELAY_INTERVAL_MS.
      this.broker.metrics?.register({ type: "counter", name: "shop.outbox.relay_cycles", labelNames: ["service"], description: "Outbox relay cycles run" });
      if (cfg.kafkaBrokers) await this.startKafka();
      else if (consumedTopics.length) {
        this.unsubscribeBus = inProcessBus.subscribe(`${cfg.namespace}-${this.name}`, consumedTopics, (m: BusMessage) => this.consumeMessage(m));
      }
      this.bridgeRunning = true;
      if (this.outbox) {
        this.relayTimer = setTimeout(() => this.relayLoop(), 0);
        this.pruneTimer = setInterval(() => this.pruneEventRecords(), cfg.events.pruneIntervalSeconds * 1000).unref();
      }
    },

    async stopped() {
      this.bridgeRunning = false;
      clearTimeout(this.relayTimer);
      clearInterval(this.pruneTimer);
      while (this.relaying) await sleep(20);
      this.unsubscribeBus?.();
      unregisterHealthCheck("kafka");
      await this.consumer?.disconnect();
      await this.producer?.disconnect();
      await this.kafkaAdmin?.disconnect();
    },
  };
  return mixin;
}
