/**
 * Hand-written statements sent straight to the driver, for the hot paths. Through `sequelize.query`
 * a statement pays 50 to 100 µs of CPU before and after the driver's own work (option merging, the
 * retry wrapper, a Query object, replacements parsed character by character, logging hooks, result
 * formatting): more than the statement costs PostgreSQL. Here PostgreSQL and MariaDB get the
 * statement and its parameters as they are, on the transaction's connection or one from Sequelize's
 * pool; the errors are Sequelize's (UniqueConstraintError and the like, by the dialect's own mapping),
 * and traced requests still get a span per statement. SQLite keeps going through Sequelize: its
 * writes take turns on one connection (lib/sql.ts).
 *
 * Parameters are `?`, in order, on every dialect (never inside a quoted literal or name).
 */
import { QueryTypes, type Model, type ModelStatic, type Sequelize, type Transaction } from "sequelize";
import { inSqlSpan } from "./telemetry/sql-spans";

/** What a statement did: the rows it returned (a SELECT, or RETURNING) and how many rows it changed. */
export interface StatementResult<R = Record<string, unknown>> {
  rows: R[];
  changed: number;
}

interface PgClient {
  query(config: { text: string; values: unknown[] }): Promise<{ rows: Record<string, unknown>[]; rowCount: number | null }>;
}

interface MariaDbConnection {
  query(sql: string, values: unknown[]): Promise<Record<string, unknown>[] | { affectedRows: number }>;
}

interface ConnectionManager {
  getConnection(options?: object): Promise<unknown>;
  releaseConnection(connection: unknown): Promise<void> | void;
}

interface SequelizeInternals {
  connectionManager: ConnectionManager;
  dialect: { Query: new (connection: unknown, sequelize: Sequelize, options: object) => { sql: string; formatError(err: unknown, stack?: string): Error } };
}

/** `?` → `$1`, `$2`… for PostgreSQL, once per statement text (the hot paths repeat a few texts). */
const numbered = new Map<string, string>();
const NUMBERED_KEPT = 500;

export function numberedPlaceholders(sql: string): string {
  let text = numbered.get(sql);
  if (text !== undefined) return text;
  let n = 0;
  let quote: string | undefined;
  text = "";
  for (const ch of sql) {
    if (quote) {
      if (ch === quote) quote = undefined;
    } else if (ch === "'" || ch === '"') quote = ch;
    else if (ch === "?") {
      text += `$${++n}`;
      continue;
    }
    text += ch;
  }
  if (numbered.size >= NUMBERED_KEPT) numbered.clear(); // texts built from data (IN lists) must not pile up
  numbered.set(sql, text);
  return text;
}

/** `?, ?, ?`: one placeholder per value, for `IN (…)`. */
export const placeholders = (values: readonly unknown[]): string => values.map(() => "?").join(", ");

/** Runs one statement with `?` parameters, in `transaction` when given. */
export function runStatement<R = Record<string, unknown>>(
  sequelize: Sequelize,
  sql: string,
  params: unknown[] = [],
  transaction?: Transaction | null,
): Promise<StatementResult<R>> {
  const dialect = sequelize.getDialect();
  if (dialect !== "postgres" && dialect !== "mariadb") return throughSequelize(sequelize, sql, params, transaction);
  return inSqlSpan(sequelize, sql, async () => {
    const internals = sequelize as unknown as SequelizeInternals;
    const manager = internals.connectionManager;
    const held = transaction ? (transaction as unknown as { connection: unknown }).connection : undefined;
    const connection = held ?? (await manager.getConnection({}));
    try {
      if (dialect === "postgres") {
        const result = await (connection as PgClient).query({ text: numberedPlaceholders(sql), values: params });
        return { rows: result.rows as R[], changed: result.rowCount ?? 0 };
      }
      const result = await (connection as MariaDbConnection).query(sql, params);
      // The connector's row arrays carry its column metadata as a property: the rows alone go on.
      return Array.isArray(result) ? { rows: result.slice() as R[], changed: result.length } : { rows: [], changed: result.affectedRows };
    } catch (err) {
      const query = new internals.dialect.Query(connection, sequelize, { transaction });
      query.sql = sql;
      Object.assign(err as object, { sql, parameters: params });
      throw query.formatError(err, "");
    } finally {
      if (!held) await manager.releaseConnection(connection);
    }
  });
}

/**
 * SQLite, by Sequelize. The query type matters there: a SELECT reads beside the writer, every other
 * statement waits for the one writer connection (lib/sql.ts). Rows come back from SELECTs only.
 */
async function throughSequelize<R>(sequelize: Sequelize, sql: string, replacements: unknown[], transaction?: Transaction | null): Promise<StatementResult<R>> {
  const verb = /^\s*(\w+)/.exec(sql)?.[1]?.toUpperCase();
  if (verb === "SELECT") {
    const rows = (await sequelize.query(sql, { replacements, transaction, type: QueryTypes.SELECT })) as R[];
    return { rows, changed: rows.length };
  }
  if (verb === "INSERT") {
    const [, changed] = (await sequelize.query(sql, { replacements, transaction, type: QueryTypes.INSERT })) as [unknown, number];
    return { rows: [], changed: Number(changed) };
  }
  if (verb === "UPDATE" || verb === "DELETE") {
    const type = verb === "DELETE" ? QueryTypes.BULKDELETE : QueryTypes.BULKUPDATE;
    return { rows: [], changed: Number(await sequelize.query(sql, { replacements, transaction, type })) };
  }
  throw new Error(`runStatement on ${sequelize.getDialect()}: only SELECT, INSERT, UPDATE and DELETE (got ${verb})`);
}

/**
 * `SELECT "id", "user_id" AS "userId", … FROM "table"`: a model's columns under its attribute names,
 * built once per model and database (a model class may be initialised again on another dialect).
 */
const selectHeads = new WeakMap<ModelStatic<Model>, { sequelize: Sequelize; head: string }>();

function selectHead(model: ModelStatic<Model>): string {
  const sequelize = model.sequelize!;
  const known = selectHeads.get(model);
  if (known?.sequelize === sequelize) return known.head;
  const quote = (name: string) => sequelize.getQueryInterface().quoteIdentifier(name);
  const columns = Object.entries(model.getAttributes()).map(([name, { field }]) => (!field || field === name ? quote(name) : `${quote(field)} AS ${quote(name)}`));
  const head = `SELECT ${columns.join(", ")} FROM ${quote(model.getTableName() as string)}`;
  selectHeads.set(model, { sequelize, head });
  return head;
}

/**
 * A model's rows where a hand-written condition holds (`where`: what follows WHERE, with `?`
 * parameters; an ORDER BY may follow), as `findAll({ raw: true })` returns them: attribute names,
 * the driver's types. For the hot paths. SQLite goes through Sequelize with the model, which types
 * its dates as findAll does.
 */
export async function selectRows<M extends Model>(
  model: ModelStatic<M>,
  where: string,
  params: unknown[],
  transaction?: Transaction | null,
): Promise<M["_attributes"][]> {
  const sequelize = model.sequelize!;
  const sql = `${selectHead(model)} WHERE ${where}`;
  if (sequelize.getDialect() === "sqlite") {
    return (await sequelize.query(sql, { replacements: params, transaction, type: QueryTypes.SELECT, model, mapToModel: true, raw: true })) as M["_attributes"][];
  }
  return (await runStatement<M["_attributes"]>(sequelize, sql, params, transaction)).rows;
}

/**
 * Sets a model's attributes (and its `updatedAt`) where a hand-written condition holds, as
 * `Model.update` does without its machinery; returns how many rows changed. Values must be plain
 * (strings, numbers, booleans, dates, null): no literals, no JSON.
 */
export async function updateRows<M extends Model>(
  model: ModelStatic<M>,
  changes: Partial<M["_attributes"]>,
  where: string,
  params: unknown[],
  transaction?: Transaction | null,
): Promise<number> {
  const attributes = model.getAttributes() as Record<string, { field?: string }>;
  const values: Record<string, unknown> = { ...changes };
  if ("updatedAt" in attributes && !("updatedAt" in values)) values.updatedAt = new Date();
  const quote = (name: string) => model.sequelize!.getQueryInterface().quoteIdentifier(name);
  const assignments = Object.keys(values).map((name) => `${quote(attributes[name]?.field ?? name)} = ?`);
  const sql = `UPDATE ${quote(model.getTableName() as string)} SET ${assignments.join(", ")} WHERE ${where}`;
  return (await runStatement(model.sequelize!, sql, [...Object.values(values), ...params], transaction)).changed;
}
