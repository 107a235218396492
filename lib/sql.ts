/**
 * SQL plumbing shared by the services that own a database: a Sequelize instance from a URL
 * (PostgreSQL, MariaDB, MySQL, SQLite) and schema migrations with umzug.
 */
import { AsyncLocalStorage } from "node:async_hooks";
import fs from "node:fs";
import path from "node:path";
import { Op, QueryTypes, Sequelize, type QueryInterface, type Options, type Transaction, type WhereOperators, type ModelStatic, type Model, type WhereOptions } from "sequelize";
import { Umzug, SequelizeStorage } from "umzug";
import { runStatement } from "./sql-statements";

export type Dialect = "postgres" | "mariadb" | "mysql" | "sqlite";

export function dialectOf(url: string): Dialect {
  const scheme = url.slice(0, url.indexOf(":"));
  if (scheme === "postgres" || scheme === "postgresql") return "postgres";
  if (scheme === "mariadb" || scheme === "mysql" || scheme === "sqlite") return scheme;
  throw new Error(`unsupported database URL scheme "${scheme}"`);
}

/** `sqlite:` URLs name a file (`sqlite:./data/users.sqlite`) or `sqlite::memory:`. */
function sqliteStorage(url: string): string {
  const rest = url.slice("sqlite:".length).replace(/^\/\//, "");
  return rest === "" || rest === ":memory:" ? ":memory:" : rest;
}

export function createSequelize(url: string, extra: Options = {}): Sequelize {
  const dialect = dialectOf(url);
  const common: Options = { logging: false, benchmark: false, ...extra };
  if (dialect === "sqlite") {
    const storage = sqliteStorage(url);
    if (storage !== ":memory:") fs.mkdirSync(path.dirname(path.resolve(storage)), { recursive: true });
    // IMMEDIATE takes the write lock at BEGIN, so a transaction never fails half-way for want of it.
    const sequelize = new Sequelize({ ...common, dialect, storage, transactionType: "IMMEDIATE" as any });
    // The SQLite dialect runs no connect hooks: its connection manager hands each connection out here.
    const manager = (sequelize as any).connectionManager;
    keepTransactionConnection(manager);
    const getConnection = manager.getConnection.bind(manager);
    manager.getConnection = async (options: unknown) => withCachedColumnTypes(await getConnection(options));
    writesThroughOneConnection(sequelize);
    withoutStackCaptures(sequelize);
    return sequelize;
  }
  const sequelize = new Sequelize(url, {
    ...common,
    dialect,
    pool: { max: 10, min: 0, idle: 10_000, acquire: 10_000 },
    ...(dialect === "postgres" ? {} : { dialectOptions: { connectTimeout: 10_000 } }),
  });
  withoutStackCaptures(sequelize);
  return sequelize;
}

interface QueryClass {
  prototype: { run(...args: unknown[]): Promise<unknown>; [STACKLESS]?: true };
}

const STACKLESS = Symbol("stackless queries");

/**
 * Every Sequelize dialect's query makes an Error before it runs, whose stack a failing query's error
 * would carry: V8 captures it on every query, failing or not (≈ 2% of the shop's CPU under checkout
 * load), and the SQLite dialect also reads it, through source maps under tsx (8% of the embedded
 * shop's). Here the query starts with no frames to capture: a failed statement's error still names
 * the driver's error, the SQL and its parameters, not a JavaScript stack.
 */
function withoutStackCaptures(sequelize: Sequelize): void {
  const proto = (sequelize as unknown as { dialect: { Query: QueryClass } }).dialect.Query.prototype;
  if (proto[STACKLESS]) return;
  proto[STACKLESS] = true;
  const run = proto.run;
  proto.run = function (this: unknown, ...args: unknown[]) {
    const limit = Error.stackTraceLimit;
    Error.stackTraceLimit = 0;
    try {
      // The Error is made before run's first await (on SQLite, in the serialize() callback, which
      // runs at once): only that synchronous start goes frameless.
      return run.apply(this, args);
    } finally {
      Error.stackTraceLimit = limit;
    }
  };
}

type SqliteCallback = (err: Error | null, rows?: unknown[]) => void;
type SqliteMethod = (sql: string, ...args: unknown[]) => unknown;

/** What keepTransactionConnection needs of Sequelize's SQLite connection manager. */
interface SqliteConnectionManager {
  connections: Record<string, SqliteConnection>;
  getConnection(options?: { uuid?: string }): Promise<SqliteConnection>;
  releaseConnection(connection: SqliteConnection, force?: boolean): unknown;
  destroyConnection(connection: SqliteConnection): Promise<unknown>;
}

/** The key of the writer's connection among the manager's connections (closed with them). */
const TRANSACTIONS = "transactions";

/**
 * Sequelize opens a new SQLite connection for every transaction and closes it afterwards: the file
 * opened, its schema read and parsed again, for each one. Our transactions on one database already
 * run one at a time (inTransaction), so one connection, kept open, serves them all, and the writes
 * made outside transactions too (writesThroughOneConnection). A transaction whose COMMIT or ROLLBACK
 * failed leaves it in an unknown state: Sequelize destroys it then, and the next one opens a new one.
 */
function keepTransactionConnection(manager: SqliteConnectionManager): void {
  let kept: SqliteConnection | undefined;
  const getConnection = manager.getConnection.bind(manager);
  const releaseConnection = manager.releaseConnection.bind(manager);
  const destroyConnection = manager.destroyConnection.bind(manager);
  manager.getConnection = async (options = {}) => {
    if ((options.uuid ?? "default") === "default") return getConnection(options);
    kept ??= await getConnection({ ...options, uuid: TRANSACTIONS });
    return kept;
  };
  manager.releaseConnection = (connection, force) => (connection === kept ? undefined : releaseConnection(connection, force));
  manager.destroyConnection = async (connection) => {
    if (connection !== kept) return destroyConnection(connection);
    kept = undefined;
    delete manager.connections[TRANSACTIONS];
    await new Promise<void>((resolve) => connection.close(() => resolve()));
  };
}

interface SqliteConnection {
  close(done: (err: Error | null) => void): void;
  all: SqliteMethod;
  run: SqliteMethod;
  exec: SqliteMethod;
  [COLUMN_TYPES]?: Map<string, unknown[]>;
}

const COLUMN_TYPES = Symbol("cached column types");
/** What Sequelize's SQLite dialect asks before every SELECT from a table (to parse its dates and booleans). */
const TABLE_INFO = /^PRAGMA table_info\(`([^`]+)`\)$/;
const SCHEMA_CHANGE = /^\s*(CREATE|ALTER|DROP)\b/i;

/**
 * Sequelize's SQLite dialect reads a table's column types (PRAGMA table_info) before every SELECT
 * from it, and forgets them after the query: a second round trip to SQLite's thread for each read.
 * Here each connection keeps them until a statement changes the schema (the migrations).
 */
function withCachedColumnTypes(connection: SqliteConnection): SqliteConnection {
  if (connection[COLUMN_TYPES]) return connection;
  const columns = new Map<string, unknown[]>();
  connection[COLUMN_TYPES] = columns;
  const all = connection.all.bind(connection);
  connection.all = (sql, ...args) => {
    const table = TABLE_INFO.exec(sql)?.[1];
    if (table === undefined) {
      if (SCHEMA_CHANGE.test(sql)) columns.clear();
      return all(sql, ...args);
    }
    const done = args.pop() as SqliteCallback;
    const cached = columns.get(table);
    if (cached) return done(null, cached);
    return all(sql, ...args, (err: Error | null, rows?: unknown[]) => {
      if (!err && rows) columns.set(table, rows);
      done(err, rows);
    });
  };
  for (const method of ["run", "exec"] as const) {
    const original = connection[method].bind(connection);
    connection[method] = (sql, ...args) => {
      if (SCHEMA_CHANGE.test(sql)) columns.clear();
      return original(sql, ...args);
    };
  }
  return connection;
}


export interface Migration {
  name: string;
  up(queryInterface: QueryInterface, sequelize: Sequelize): Promise<void>;
  down(queryInterface: QueryInterface, sequelize: Sequelize): Promise<void>;
}

/** Connects, and on SQLite turns on write-ahead logging (it persists in the file): readers never wait for the writer. */
export async function openDatabase(sequelize: Sequelize): Promise<void> {
  await sequelize.authenticate();
  if (sequelize.getDialect() === "sqlite") await sequelize.query("PRAGMA journal_mode=WAL");
}

/**
 * Applies the pending migrations, recording them in `<table>` (one table per service). Several nodes
 * of one service may start at once: a database lock, held by a transaction for the whole run, lets
 * one of them migrate while the others wait and then find nothing left to apply.
 */
export async function migrate(sequelize: Sequelize, migrations: Migration[], table: string): Promise<string[]> {
  const dialect = sequelize.getDialect();
  if (dialect === "sqlite") return runMigrations(sequelize, migrations, table); // one process owns the file
  return sequelize.transaction(async (transaction) => {
    const lock = `migrations:${table}`;
    if (dialect === "postgres") {
      await sequelize.query("SELECT pg_advisory_xact_lock(hashtext(?))", { replacements: [lock], transaction });
      return runMigrations(sequelize, migrations, table); // released when the transaction ends
    }
    await sequelize.query("SELECT GET_LOCK(?, 120)", { replacements: [lock], transaction });
    try {
      return await runMigrations(sequelize, migrations, table);
    } finally {
      await sequelize.query("SELECT RELEASE_LOCK(?)", { replacements: [lock], transaction });
    }
  });
}

async function runMigrations(sequelize: Sequelize, migrations: Migration[], table: string): Promise<string[]> {
  const umzug = new Umzug({
    migrations: migrations.map((m) => ({
      name: m.name,
      up: () => m.up(sequelize.getQueryInterface(), sequelize),
      down: () => m.down(sequelize.getQueryInterface(), sequelize),
    })),
    storage: new SequelizeStorage({ sequelize, tableName: table }),
    logger: undefined,
  });
  const applied = await umzug.up();
  return applied.map((m) => m.name);
}

/** A model's values as its table's columns (attribute → field), for the plain INSERTs of insertAtOnce. */
export function columnsOf(model: ModelStatic<Model>, values: Record<string, unknown>): Record<string, unknown> {
  const attributes = model.getAttributes() as Record<string, { field?: string }>;
  return Object.fromEntries(Object.entries(values).map(([name, value]) => [attributes[name]?.field ?? name, value]));
}

/** Rows for one table (column → value; every row with the same columns). */
export interface TableRows {
  table: string;
  rows: Record<string, unknown>[];
}

/** `INSERT INTO "table" ("a", "b")` for a row's columns, quoted for the dialect, and the `?, ?` of one row's values. */
export function insertInto(sequelize: Sequelize, table: string, row: Record<string, unknown>): { head: string; columns: string[]; marks: string } {
  const quote = (name: string) => sequelize.getQueryInterface().quoteIdentifier(name);
  const columns = Object.keys(row);
  return { head: `INSERT INTO ${quote(table)} (${columns.map(quote).join(", ")})`, columns, marks: columns.map(() => "?").join(", ") };
}

/**
 * Inserts rows into several tables as one atomic unit. On PostgreSQL that is one statement (each
 * INSERT but the last in a data-modifying CTE): one round trip instead of BEGIN, an INSERT per table
 * and COMMIT. Elsewhere the INSERTs run one after the other in a transaction. Inside `transaction`
 * they join it. Table and column names come from code, never from input.
 */
export async function insertAtOnce(sequelize: Sequelize, inserts: TableRows[], transaction?: Transaction): Promise<void> {
  const statements = inserts
    .filter(({ rows }) => rows.length > 0)
    .map(({ table, rows }) => {
      const { head, columns, marks } = insertInto(sequelize, table, rows[0]);
      return { sql: `${head} VALUES ${rows.map(() => `(${marks})`).join(", ")}`, values: rows.flatMap((row) => columns.map((column) => row[column])) };
    });
  if (statements.length === 0) return;
  if (sequelize.getDialect() === "postgres") {
    const last = statements[statements.length - 1];
    const ctes = statements.slice(0, -1).map((s, i) => `i${i} AS (${s.sql})`);
    const sql = ctes.length ? `WITH ${ctes.join(", ")} ${last.sql}` : last.sql;
    await runStatement(sequelize, sql, statements.flatMap((s) => s.values), transaction);
    return;
  }
  const insertAll = async (t: Transaction) => {
    for (const { sql, values } of statements) await runStatement(sequelize, sql, values, t);
  };
  await (transaction ? insertAll(transaction) : inTransaction(sequelize, insertAll));
}

/**
 * Runs an UPDATE or DELETE written in SQL and returns how many rows it changed (the same on every
 * dialect). For the hot paths, where a model method's machinery costs more than the statement.
 */
export async function changedRows(sequelize: Sequelize, sql: string, params: unknown[], transaction?: Transaction): Promise<number> {
  return (await runStatement(sequelize, sql, params, transaction)).changed;
}

/** Thrown inside a transaction when a conditional update lost a race: the transaction is retried. */
export class ConcurrentChangeError extends Error {}

/** Deadlocks, serialization failures and lock time-outs: safe to retry the whole transaction. */
function isTransient(err: any): boolean {
  if (err instanceof ConcurrentChangeError) return true;
  const code = err?.parent?.code ?? err?.original?.code ?? err?.code;
  const errno = err?.parent?.errno ?? err?.original?.errno;
  return (
    code === "40P01" || // PostgreSQL deadlock_detected
    code === "40001" || // serialization_failure
    errno === 1213 || // MariaDB/MySQL ER_LOCK_DEADLOCK
    errno === 1205 || // ER_LOCK_WAIT_TIMEOUT
    code === "SQLITE_BUSY"
  );
}

/**
 * SQLite has one writer at a time: in this process its transactions, and its writes outside them,
 * wait their turn here and run on one connection (the writer's). Two connections writing the same
 * file took the write lock from each other, and SQLite's busy handler sleeps between tries: seconds
 * of tail latency on the embedded default.
 */
const sqliteQueues = new WeakMap<Sequelize, Promise<unknown>>();
/** The database whose writer the current async flow holds (a transaction's callback, a queued write). */
const holdingWriter = new AsyncLocalStorage<Sequelize>();

function oneAtATime<T>(sequelize: Sequelize, work: () => Promise<T>): Promise<T> {
  if (sequelize.getDialect() !== "sqlite") return work();
  const previous = sqliteQueues.get(sequelize) ?? Promise.resolve();
  const turn = () => holdingWriter.run(sequelize, work);
  const run = previous.then(turn, turn);
  sqliteQueues.set(sequelize, run.catch(() => undefined));
  return run;
}

type QueryOptions = { transaction?: unknown; type?: string; uuid?: string } | undefined;

/**
 * On SQLite, a statement outside any transaction that is not a SELECT waits its turn (oneAtATime)
 * and runs on the writer's connection; SELECTs keep the default connection, which reads committed
 * data beside the writer (write-ahead log). A statement made while this flow holds the writer runs
 * at once, as before (waiting would wait for itself).
 */
function writesThroughOneConnection(sequelize: Sequelize): void {
  const query = sequelize.query.bind(sequelize) as (sql: unknown, options?: QueryOptions) => Promise<unknown>;
  (sequelize as unknown as { query: typeof query }).query = (sql, options) => {
    if (options?.transaction || options?.type === QueryTypes.SELECT || holdingWriter.getStore() === sequelize) return query(sql, options);
    return oneAtATime(sequelize, () => query(sql, { ...options, uuid: TRANSACTIONS }));
  };
  // A transaction begun with sequelize.transaction(callback) rather than inTransaction waits its turn
  // too: on the writer's connection, other writes must not run while it is open.
  const transaction = sequelize.transaction.bind(sequelize) as (...args: unknown[]) => Promise<unknown>;
  (sequelize as unknown as { transaction: typeof transaction }).transaction = (...args) => {
    const managed = typeof args[args.length - 1] === "function";
    if (!managed || holdingWriter.getStore() === sequelize) return transaction(...args);
    return oneAtATime(sequelize, () => transaction(...args));
  };
}

/** Runs `work` in a transaction, retrying it (with jittered back-off) when it failed transiently. */
export async function inTransaction<T>(sequelize: Sequelize, work: (t: Transaction) => Promise<T>, attempts = 12): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await oneAtATime(sequelize, () => sequelize.transaction((t) => work(t)));
    } catch (err) {
      if (attempt >= attempts || !isTransient(err)) throw err;
      await new Promise((r) => setTimeout(r, Math.random() * Math.min(500, 25 * attempt)));
    }
  }
}

/** A `createdAt` condition for listings filtered by date: from (inclusive) to (exclusive). */
export function createdBetween(from?: Date, to?: Date): WhereOperators {
  return { ...(from && { [Op.gte]: from }), ...(to && { [Op.lt]: to }) };
}

/**
 * A LIKE pattern matching `text` anywhere, case-insensitively (the column is lowered), with `%` and
 * `_` in the input matched literally. The escape character is `!`, which means the same in a string
 * literal on PostgreSQL, MariaDB and SQLite (a backslash does not).
 */
export function containsPattern(text: string): string {
  return `%${text.toLowerCase().replace(/[!%_]/g, (c) => `!${c}`)}%`;
}

/** `column` contains `text`, whatever the case, on every dialect. */
export function containsIgnoringCase(sequelize: Sequelize, column: string, text: string): WhereOptions {
  return Sequelize.where(Sequelize.fn("LOWER", Sequelize.col(column)), Op.like, Sequelize.literal(`${sequelize.escape(containsPattern(text))} ESCAPE '!'`));
}

/** One page of rows, newest first (ties by id), as `{items, total, limit, offset}`. */
export async function newestFirst<R, V>(
  model: ModelStatic<Model>,
  where: WhereOptions,
  page: { limit?: number; offset?: number },
  view: (row: R) => V,
): Promise<{ items: V[]; total: number; limit: number; offset: number }> {
  const limit = page.limit ?? 20;
  const offset = page.offset ?? 0;
  const { rows, count } = await model.findAndCountAll({ where, order: [["createdAt", "DESC"], ["id", "ASC"]], limit, offset, raw: true });
  return { items: (rows as unknown as R[]).map(view), total: count, limit, offset };
}
