/**
 * How far behind each event consumer ran: for every event a consumer applied, the time from the
 * producer writing it to its outbox (outbox.created_at) to the consumer recording it
 * (processed_events.processed_at). Producers and consumers keep these tables in their own
 * databases, so the rows are read from each and joined here by event id.
 */
import { Client } from "pg";
import mariadb from "mariadb";
import type { ServiceDatabase } from "../../test/support/databases";

export type { ServiceDatabase };

interface EventTimes {
  /** event id → when it was written to an outbox (epoch ms). */
  created: Map<string, number>;
  /** One row per (consumer, event) applied. */
  processed: { consumer: string; eventId: string; at: number }[];
  /** Databases whose processed_at is stored in whole seconds (MariaDB DATETIME without fractions). */
  wholeSeconds: string[];
}

export interface ConsumerLag {
  consumer: string;
  lagsMs: number[];
  /** Applied events with no outbox row in SQL (e.g. from the baskets' Redis outbox): not timed. */
  untimed: number;
}

const HAS_TABLES = "SELECT count(*) AS n FROM information_schema.tables WHERE table_name IN ('outbox', 'processed_events')";

async function readPostgres(db: ServiceDatabase, into: EventTimes): Promise<void> {
  const client = new Client({ connectionString: db.url });
  await client.connect();
  try {
    if (Number((await client.query(`${HAS_TABLES} AND table_schema = current_schema()`)).rows[0].n) < 2) return;
    for (const r of (await client.query("SELECT event_id, extract(epoch FROM created_at) * 1000 AS at FROM outbox")).rows) into.created.set(r.event_id, Number(r.at));
    for (const r of (await client.query("SELECT consumer, event_id, extract(epoch FROM processed_at) * 1000 AS at FROM processed_events")).rows) {
      into.processed.push({ consumer: r.consumer, eventId: r.event_id, at: Number(r.at) });
    }
  } finally {
    await client.end();
  }
}

async function readMariadb(db: ServiceDatabase, into: EventTimes): Promise<void> {
  const u = new URL(db.url);
  const conn = await mariadb.createConnection({
    host: u.hostname, port: Number(u.port), user: decodeURIComponent(u.username), password: decodeURIComponent(u.password), database: u.pathname.slice(1),
  });
  try {
    if (Number((await conn.query(`${HAS_TABLES} AND table_schema = DATABASE()`))[0].n) < 2) return;
    // The shop writes these DATETIMEs in UTC; read them as UTC epochs.
    await conn.query("SET time_zone = '+00:00'");
    const precision: { tbl: string; p: number }[] = await conn.query(
      "SELECT table_name AS tbl, DATETIME_PRECISION AS p FROM information_schema.columns WHERE table_schema = DATABASE() AND (table_name, column_name) IN (('outbox', 'created_at'), ('processed_events', 'processed_at'))",
    );
    const wholeSeconds = (table: string) => Number(precision.find((c) => c.tbl === table)?.p) === 0;
    // A whole-second created_at would blur every lag by up to a second: the event's own CloudEvents
    // `time` (milliseconds, set just before the outbox insert) stands in for it.
    const outbox = wholeSeconds("outbox")
      ? (await conn.query("SELECT event_id, payload FROM outbox")).map((r: any) => [r.event_id, Date.parse(JSON.parse(r.payload).time)])
      : (await conn.query("SELECT event_id, unix_timestamp(created_at) * 1000 AS at FROM outbox")).map((r: any) => [r.event_id, Number(r.at)]);
    for (const [eventId, at] of outbox) into.created.set(eventId, at);
    const processed = await conn.query("SELECT consumer, event_id, unix_timestamp(processed_at) * 1000 AS at FROM processed_events");
    if (processed.length && wholeSeconds("processed_events")) into.wholeSeconds.push(db.service);
    for (const r of processed) into.processed.push({ consumer: r.consumer, eventId: r.event_id, at: Number(r.at) });
  } finally {
    await conn.end();
  }
}

/** Lag per consumer of the events written to an outbox at or after `since` (epoch ms). */
export async function consumerLags(dbs: ServiceDatabase[], since: number): Promise<{ lags: ConsumerLag[]; wholeSeconds: string[] }> {
  const times: EventTimes = { created: new Map(), processed: [], wholeSeconds: [] };
  for (const db of dbs) await (db.kind === "postgres" ? readPostgres(db, times) : readMariadb(db, times));

  const byConsumer = new Map<string, ConsumerLag>();
  for (const row of times.processed) {
    const lag = byConsumer.get(row.consumer) ?? { consumer: row.consumer, lagsMs: [], untimed: 0 };
    byConsumer.set(row.consumer, lag);
    const created = times.created.get(row.eventId);
    if (created === undefined) lag.untimed++;
    else if (created >= since) lag.lagsMs.push(row.at - created);
  }
  return { lags: [...byConsumer.values()].sort((a, b) => a.consumer.localeCompare(b.consumer)), wholeSeconds: times.wholeSeconds };
}
