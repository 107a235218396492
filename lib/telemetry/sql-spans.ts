/**
 * A client span per SQL statement a traced request or message runs (tracing on only): the
 * statement's operation and table (`UPDATE products`), the database system and name. Never the
 * statement's text: Sequelize writes values into it (emails, hashes, amounts).
 *
 * Every query of a Sequelize instance goes through its `query` method (model methods, the query
 * interface, transactions' BEGIN and COMMIT): it is wrapped once, on the instance. Statements sent
 * to the driver directly (lib/sql-statements.ts) take their span from `inSqlSpan`.
 */
import type { Sequelize } from "sequelize";
import { endSpan, startSpan } from "./tracing";

const SYSTEMS: Record<string, string> = { postgres: "postgresql", mariadb: "mariadb", mysql: "mysql", sqlite: "sqlite" };
const OPERATION = /^\s*\(?\s*([A-Za-z]+)/;
const TABLE = /\b(?:FROM|INTO|UPDATE|JOIN|TABLE)\s+(?:IF\s+(?:NOT\s+)?EXISTS\s+)?[`"[]?(\w+)/i;

/** `UPDATE products`, `SELECT outbox`, `COMMIT`: what a statement does, to what (its summary). */
export function summarizeSql(sql: string): { operation: string; table?: string; summary: string } {
  const word = (OPERATION.exec(sql)?.[1] ?? "QUERY").toUpperCase();
  // PostgreSQL's and MariaDB's START TRANSACTION is SQLite's BEGIN: one name for one thing.
  const operation = word === "START" ? "BEGIN" : word;
  const table = TABLE.exec(sql.slice(0, 2000))?.[1];
  return { operation, table, summary: table ? `${operation} ${table}` : operation };
}

interface TracedDatabase {
  service: string;
  system: string;
  database?: string;
}

/** The databases whose statements get spans (traceSequelize), with what the spans say of them. */
const traced = new WeakMap<Sequelize, TracedDatabase>();

/**
 * Runs one statement, in a span of its own when the database is traced and the current request or
 * message is sampled. For what goes to the driver directly too (lib/sql-statements.ts).
 */
export function inSqlSpan<T>(sequelize: Sequelize, sql: string, run: () => Promise<T>): Promise<T> {
  const db = traced.get(sequelize);
  if (!db) return run();
  const { operation, table, summary } = summarizeSql(sql);
  const span = startSpan(summary, {
    kind: "client",
    service: db.service,
    attributes: {
      "db.system.name": db.system,
      "db.namespace": db.system === "sqlite" ? db.service : db.database,
      "db.operation.name": operation,
      "db.collection.name": table,
      "db.query.summary": summary,
    },
  });
  if (!span) return run();
  return run().then(
    (result) => {
      endSpan(span);
      return result;
    },
    (err) => {
      endSpan(span, err);
      throw err;
    },
  );
}

/** Wraps `sequelize.query` so that statements run inside a traced span get one of their own. */
export function traceSequelize(sequelize: Sequelize, service: string): void {
  const system = SYSTEMS[sequelize.getDialect()] ?? sequelize.getDialect();
  traced.set(sequelize, { service, system, database: sequelize.getDatabaseName?.() || undefined });
  const query = sequelize.query.bind(sequelize) as (...args: unknown[]) => Promise<unknown>;
  (sequelize as any).query = function tracedQuery(sql: unknown, options?: unknown) {
    const text = typeof sql === "string" ? sql : String((sql as { query?: unknown })?.query ?? "");
    return inSqlSpan(sequelize, text, () => query(sql, options));
  };
}
