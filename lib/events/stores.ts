/**
 * Where a service keeps its side of the integration events: the outbox (written in the same
 * transaction as the state change), the ids of events it has applied, and its dead letters.
 * SQL for the services that own a database; Redis or memory for baskets.
 */
import { DataTypes, QueryTypes, UniqueConstraintError, type Sequelize, type Transaction } from "sequelize";
import type Redis from "ioredis";
import { changedRows, insertAtOnce, insertInto, inTransaction, type Migration, type TableRows } from "../sql";
import { runStatement } from "../sql-statements";
import type { Envelope } from "./envelope";
import { topicOf } from "./envelope";

export interface OutboxMessage {
  ref: string;
  topic: string;
  key: string;
  value: string;
}

export interface OutboxStats {
  depth: number;
  oldestAgeSeconds: number;
}

export interface OutboxStore {
  /**
   * Hands the oldest pending messages, in order, to `publish`, and marks them sent once it
   * resolves. Only one relay of a service works at a time (order per key); returns how many went.
   */
  relay(limit: number, publish: (messages: OutboxMessage[]) => Promise<void>): Promise<number>;
  stats(): Promise<OutboxStats>;
  /** Forgets what is older than `before`: sent messages and the ids of applied events. Returns rows removed. */
  prune(before: Date): Promise<number>;
}

export interface DeadLetter {
  id: string;
  topic: string;
  eventId: string | null;
  payload: string;
  error: string;
  attempts: number;
  createdAt: string;
  replayedAt: string | null;
}

export interface DeadLetterStore {
  add(entry: Omit<DeadLetter, "id" | "createdAt" | "replayedAt">): Promise<void>;
  list(includeReplayed?: boolean): Promise<DeadLetter[]>;
  markReplayed(id: string, error?: string): Promise<void>;
  /** How many wait for an operator (not replayed yet). */
  pending(): Promise<number>;
}

// ------------------------------------------------------------------------------------------ SQL

export const integrationEventMigrations: Migration[] = [
  {
    name: "e001-create-integration-event-tables",
    async up(qi) {
      await qi.createTable("outbox", {
        seq: { type: DataTypes.INTEGER, primaryKey: true, autoIncrement: true },
        event_id: { type: DataTypes.STRING(64), allowNull: false, unique: true },
        topic: { type: DataTypes.STRING(100), allowNull: false },
        message_key: { type: DataTypes.STRING(128), allowNull: false },
        type: { type: DataTypes.STRING(100), allowNull: false },
        payload: { type: DataTypes.TEXT, allowNull: false },
        created_at: { type: DataTypes.DATE, allowNull: false },
        sent_at: { type: DataTypes.DATE, allowNull: true },
      });
      await qi.addIndex("outbox", ["sent_at", "seq"], { name: "outbox_pending_idx" });
      await qi.createTable("processed_events", {
        consumer: { type: DataTypes.STRING(64), primaryKey: true },
        event_id: { type: DataTypes.STRING(64), primaryKey: true },
        processed_at: { type: DataTypes.DATE, allowNull: false },
      });
      await qi.createTable("dead_letters", {
        id: { type: DataTypes.INTEGER, primaryKey: true, autoIncrement: true },
        topic: { type: DataTypes.STRING(100), allowNull: false },
        event_id: { type: DataTypes.STRING(64), allowNull: true },
        payload: { type: DataTypes.TEXT, allowNull: false },
        error: { type: DataTypes.TEXT, allowNull: false },
        attempts: { type: DataTypes.INTEGER, allowNull: false },
        created_at: { type: DataTypes.DATE, allowNull: false },
        replayed_at: { type: DataTypes.DATE, allowNull: true },
      });
    },
    async down(qi) {
      await qi.dropTable("dead_letters");
      await qi.dropTable("processed_events");
      await qi.dropTable("outbox");
    },
  },
  {
    // The relay's lock is this row, taken FOR UPDATE SKIP LOCKED: it is released by the COMMIT that
    // marks the batch sent, never before (a session lock such as GET_LOCK was released first, and a
    // second relay re-published rows not yet marked).
    name: "e002-create-outbox-relay-lock",
    async up(qi) {
      await qi.createTable("outbox_relay", { name: { type: DataTypes.STRING(32), primaryKey: true } });
      await qi.bulkInsert("outbox_relay", [{ name: "relay" }]);
      // Pruning finds old rows by time.
      await qi.addIndex("processed_events", ["processed_at"], { name: "processed_events_at_idx" });
    },
    async down(qi) {
      await qi.removeIndex("processed_events", "processed_events_at_idx");
      await qi.dropTable("outbox_relay");
    },
  },
];

/** An event as its outbox row (for insertAtOnce, with the state change's own rows). */
export function outboxRow(event: Envelope): TableRows {
  return {
    table: "outbox",
    rows: [{ event_id: event.id, topic: topicOf(event.type), message_key: event.subject, type: event.type, payload: JSON.stringify(event), created_at: new Date() }],
  };
}

/** Writes an event to the outbox inside the caller's transaction (the same one as the state change). */
export async function addToOutbox(sequelize: Sequelize, event: Envelope, transaction: Transaction): Promise<void> {
  // A plain statement: on the hot path, the query interface's model machinery costs more than the insert.
  await insertAtOnce(sequelize, [outboxRow(event)], transaction);
}

/**
 * Applies `work` once per (consumer, event id): the id is recorded in the same transaction as the
 * effect, so a redelivered event finds it and changes nothing.
 */
export async function processOnce(
  sequelize: Sequelize,
  consumer: string,
  eventId: string,
  work: (transaction: Transaction) => Promise<void>,
): Promise<"applied" | "duplicate"> {
  try {
    return await inTransaction(sequelize, async (transaction) => {
      await runStatement(sequelize, "INSERT INTO processed_events (consumer, event_id, processed_at) VALUES (?, ?, ?)", [consumer, eventId, new Date()], transaction);
      await work(transaction);
      return "applied" as const;
    });
  } catch (err) {
    if (err instanceof UniqueConstraintError) return "duplicate";
    throw err;
  }
}

/**
 * PostgreSQL: a CTE `claimed` that records (consumer, event id, processed at: the three parameters)
 * and holds one row only if the id was new. Statements that apply an event once build on it.
 */
export const CLAIMED = "claimed AS (INSERT INTO processed_events (consumer, event_id, processed_at) VALUES (?, ?, ?) ON CONFLICT DO NOTHING RETURNING 1)";

/**
 * processOnce for an effect that is one new row (`columns` → values). On PostgreSQL it is one
 * statement: a data-modifying CTE records the event id and inserts the row only if the id was new,
 * atomically without BEGIN and COMMIT (one round trip instead of four). Elsewhere, processOnce.
 * `table` and the column names come from code, never from input.
 */
export async function insertOnce(
  sequelize: Sequelize,
  consumer: string,
  eventId: string,
  table: string,
  columns: Record<string, unknown>,
): Promise<"applied" | "duplicate"> {
  if (sequelize.getDialect() !== "postgres") {
    return processOnce(sequelize, consumer, eventId, (transaction) => insertAtOnce(sequelize, [{ table, rows: [columns] }], transaction));
  }
  const { head, marks } = insertInto(sequelize, table, columns);
  const { changed } = await runStatement(sequelize, `WITH ${CLAIMED} ${head} SELECT ${marks} FROM claimed`, [consumer, eventId, new Date(), ...Object.values(columns)]);
  return changed ? "applied" : "duplicate";
}

export class SqlOutbox implements OutboxStore {
  constructor(private readonly sequelize: Sequelize) {}

  async relay(limit: number, publish: (messages: OutboxMessage[]) => Promise<void>): Promise<number> {
    // Most cycles find nothing: one indexed read, no transaction.
    const { rows } = await runStatement(this.sequelize, "SELECT seq FROM outbox WHERE sent_at IS NULL ORDER BY seq LIMIT 1");
    if (rows.length === 0) return 0;
    // SQLite: one process owns the file, so a flag is the relay's lock. The rows are read, published
    // and marked outside any transaction: the in-process bus waits for the consumers, whose own
    // transactions (in other services' files) must not queue behind one held here.
    if (this.sequelize.getDialect() === "sqlite") {
      if (this.relaying) return 0;
      this.relaying = true;
      try {
        return await this.relayRows(limit, publish);
      } finally {
        this.relaying = false;
      }
    }
    return inTransaction(this.sequelize, async (transaction) => {
      if (!(await this.leadership(transaction))) return 0;
      return this.relayRows(limit, publish, transaction);
    });
  }

  private relaying = false;

  private async relayRows(limit: number, publish: (messages: OutboxMessage[]) => Promise<void>, transaction?: Transaction): Promise<number> {
    const { rows } = await runStatement<{ seq: number; topic: string; message_key: string; payload: string }>(
      this.sequelize,
      `SELECT seq, topic, message_key, payload FROM outbox WHERE sent_at IS NULL ORDER BY seq LIMIT ${Math.trunc(limit)}`,
      [],
      transaction,
    );
    if (rows.length === 0) return 0;
    await publish(rows.map((r) => ({ ref: String(r.seq), topic: r.topic, key: r.message_key, value: r.payload })));
    await runStatement(this.sequelize, `UPDATE outbox SET sent_at = ? WHERE seq IN (${rows.map((r) => Math.trunc(Number(r.seq))).join(",")})`, [new Date()], transaction);
    return rows.length;
  }

  /** One relay per service at a time: the lock row, held until this transaction ends (after the rows are marked). */
  private async leadership(transaction: Transaction): Promise<boolean> {
    const { rows } = await runStatement(this.sequelize, "SELECT name FROM outbox_relay WHERE name = 'relay' FOR UPDATE SKIP LOCKED", [], transaction);
    return rows.length === 1;
  }

  async prune(before: Date): Promise<number> {
    // An event redelivered after this long (Kafka keeps a topic 7 days by default) would be applied again.
    const sent = await changedRows(this.sequelize, "DELETE FROM outbox WHERE sent_at < ?", [before]);
    return sent + (await changedRows(this.sequelize, "DELETE FROM processed_events WHERE processed_at < ?", [before]));
  }

  async stats(): Promise<OutboxStats> {
    const [row] = await this.sequelize.query<{ depth: unknown; oldest: unknown }>(
      "SELECT COUNT(*) AS depth, MIN(created_at) AS oldest FROM outbox WHERE sent_at IS NULL",
      { type: QueryTypes.SELECT },
    );
    const oldest = row?.oldest ? new Date(row.oldest as string).getTime() : undefined;
    return { depth: Number(row?.depth ?? 0), oldestAgeSeconds: oldest ? Math.max(0, Math.round((Date.now() - oldest) / 1000)) : 0 };
  }
}

export class SqlDeadLetters implements DeadLetterStore {
  constructor(private readonly sequelize: Sequelize) {}

  async add(entry: Omit<DeadLetter, "id" | "createdAt" | "replayedAt">): Promise<void> {
    await this.sequelize.getQueryInterface().bulkInsert("dead_letters", [
      { topic: entry.topic, event_id: entry.eventId, payload: entry.payload, error: entry.error.slice(0, 4000), attempts: entry.attempts, created_at: new Date(), replayed_at: null },
    ]);
  }

  async list(includeReplayed = false): Promise<DeadLetter[]> {
    const rows = await this.sequelize.query<any>(
      `SELECT id, topic, event_id, payload, error, attempts, created_at, replayed_at FROM dead_letters${includeReplayed ? "" : " WHERE replayed_at IS NULL"} ORDER BY id`,
      { type: QueryTypes.SELECT },
    );
    return rows.map((r) => ({
      id: String(r.id),
      topic: r.topic,
      eventId: r.event_id,
      payload: r.payload,
      error: r.error,
      attempts: Number(r.attempts),
      createdAt: new Date(r.created_at).toISOString(),
      replayedAt: r.replayed_at ? new Date(r.replayed_at).toISOString() : null,
    }));
  }

  async pending(): Promise<number> {
    const [row] = await this.sequelize.query<{ n: unknown }>("SELECT COUNT(*) AS n FROM dead_letters WHERE replayed_at IS NULL", { type: QueryTypes.SELECT });
    return Number(row?.n ?? 0);
  }

  async markReplayed(id: string, error?: string): Promise<void> {
    if (error) await this.sequelize.query("UPDATE dead_letters SET error = ?, attempts = attempts + 1 WHERE id = ?", { replacements: [error.slice(0, 4000), Number(id)] });
    else await this.sequelize.query("UPDATE dead_letters SET replayed_at = ? WHERE id = ?", { replacements: [new Date(), Number(id)] });
  }
}

// ------------------------------------------------------------------------------ Redis and memory

/** An outbox in a Redis stream: entries are added atomically with the effect (in its Lua script). */
export class RedisOutbox implements OutboxStore {
  constructor(
    private readonly redis: Redis,
    readonly streamKey: string,
  ) {}

  async relay(limit: number, publish: (messages: OutboxMessage[]) => Promise<void>): Promise<number> {
    const lock = `${this.streamKey}:relay-lock`;
    if ((await this.redis.set(lock, "1", "PX", 30_000, "NX")) !== "OK") return 0;
    try {
      const entries = await this.redis.xrange(this.streamKey, "-", "+", "COUNT", limit);
      if (entries.length === 0) return 0;
      await publish(
        entries.map(([id, fields]) => {
          // A stream entry's fields come as [name, value, name, value, ...].
          const f: Record<string, string> = {};
          for (let i = 0; i < fields.length; i += 2) f[fields[i]] = fields[i + 1];
          return { ref: id, topic: f.topic, key: f.key, value: f.value };
        }),
      );
      await this.redis.xdel(this.streamKey, ...entries.map(([id]) => id));
      return entries.length;
    } finally {
      await this.redis.del(lock);
    }
  }

  async stats(): Promise<OutboxStats> {
    const [first] = await this.redis.xrange(this.streamKey, "-", "+", "COUNT", 1);
    const depth = await this.redis.xlen(this.streamKey);
    const oldestMs = first ? Number(first[0].split("-")[0]) : undefined;
    return { depth, oldestAgeSeconds: oldestMs ? Math.max(0, Math.round((Date.now() - oldestMs) / 1000)) : 0 };
  }

  /** Sent entries are deleted as they go; applied-event ids expire by their own TTL. */
  async prune(): Promise<number> {
    return 0;
  }
}

/** The embedded default's outbox: messages appended with the effect, relayed like any other. */
export class MemoryOutbox implements OutboxStore {
  private readonly pending: (OutboxMessage & { at: number })[] = [];
  private seq = 0;

  add(event: Envelope): void {
    this.pending.push({ ref: String(++this.seq), topic: topicOf(event.type), key: event.subject, value: JSON.stringify(event), at: Date.now() });
  }

  async relay(limit: number, publish: (messages: OutboxMessage[]) => Promise<void>): Promise<number> {
    const batch = this.pending.slice(0, limit);
    if (batch.length === 0) return 0;
    await publish(batch);
    this.pending.splice(0, batch.length);
    return batch.length;
  }

  async stats(): Promise<OutboxStats> {
    const oldest = this.pending[0]?.at;
    return { depth: this.pending.length, oldestAgeSeconds: oldest ? Math.round((Date.now() - oldest) / 1000) : 0 };
  }

  async prune(): Promise<number> {
    return 0;
  }
}

export class MemoryDeadLetters implements DeadLetterStore {
  private readonly entries: DeadLetter[] = [];

  async add(entry: Omit<DeadLetter, "id" | "createdAt" | "replayedAt">): Promise<void> {
    this.entries.push({ ...entry, id: String(this.entries.length + 1), createdAt: new Date().toISOString(), replayedAt: null });
  }

  async list(includeReplayed = false): Promise<DeadLetter[]> {
    return this.entries.filter((e) => includeReplayed || !e.replayedAt);
  }

  async pending(): Promise<number> {
    return this.entries.filter((e) => !e.replayedAt).length;
  }

  async markReplayed(id: string, error?: string): Promise<void> {
    const entry = this.entries.find((e) => e.id === id);
    if (!entry) return;
    if (error) Object.assign(entry, { error, attempts: entry.attempts + 1 });
    else entry.replayedAt = new Date().toISOString();
  }
}

/** Dead letters in a Redis hash (baskets on the real stack). */
export class RedisDeadLetters implements DeadLetterStore {
  constructor(
    private readonly redis: Redis,
    private readonly key: string,
  ) {}

  async add(entry: Omit<DeadLetter, "id" | "createdAt" | "replayedAt">): Promise<void> {
    const id = String(await this.redis.incr(`${this.key}:seq`));
    await this.redis.hset(this.key, id, JSON.stringify({ ...entry, id, createdAt: new Date().toISOString(), replayedAt: null }));
  }

  async list(includeReplayed = false): Promise<DeadLetter[]> {
    const all = Object.values(await this.redis.hgetall(this.key)).map((v) => JSON.parse(v) as DeadLetter);
    return all.filter((e) => includeReplayed || !e.replayedAt).sort((a, b) => Number(a.id) - Number(b.id));
  }

  async pending(): Promise<number> {
    return (await this.list()).length;
  }

  async markReplayed(id: string, error?: string): Promise<void> {
    const raw = await this.redis.hget(this.key, id);
    if (!raw) return;
    const entry = JSON.parse(raw) as DeadLetter;
    if (error) Object.assign(entry, { error, attempts: entry.attempts + 1 });
    else entry.replayedAt = new Date().toISOString();
    await this.redis.hset(this.key, id, JSON.stringify(entry));
  }
}
