/**
 * SQL work between two points, from the servers' own counters:
 * - PostgreSQL: transactions from pg_stat_database (xact_commit + xact_rollback, single statements
 *   included) and statements from pg_stat_statements (calls, BEGIN and COMMIT included), both
 *   summed over the benchmark's databases. pg_stat_statements must be preloaded (scripts/stack.sh
 *   does); without it statements are n/a.
 * - MariaDB: SHOW GLOBAL STATUS (Questions; Com_commit + Com_rollback). Server-wide: anything else
 *   using the server in the meantime counts too.
 */
import { Client } from "pg";
import mariadb from "mariadb";

export interface SqlWork {
  pgTransactions: number;
  /** undefined: pg_stat_statements is not loaded (see `pgStatementsMissing`). */
  pgStatements?: number;
  pgStatementsMissing?: string;
  /** The PostgreSQL statements run most often, by database (pg_stat_statements' normalised text). */
  pgTop: { database: string; calls: number; query: string }[];
  mariadbStatements: number;
  mariadbCommits: number;
}

interface MariadbStatus {
  questions: number;
  commits: number;
}

/** The superuser on the stack's PostgreSQL (trust authentication on loopback): reads every database's statistics. */
function pgSuperuserUrl(stackUrl: string): string {
  const u = new URL(stackUrl);
  u.username = "postgres";
  u.password = "";
  u.pathname = "/postgres";
  return u.toString();
}

async function mariadbStatus(conn: mariadb.Connection): Promise<MariadbStatus> {
  const rows: { Variable_name: string; Value: string }[] = await conn.query(
    "SHOW GLOBAL STATUS WHERE Variable_name IN ('Questions', 'Com_commit', 'Com_rollback')",
  );
  const value = (name: string) => Number(rows.find((r) => r.Variable_name === name)?.Value ?? 0);
  return { questions: value("Questions"), commits: value("Com_commit") + value("Com_rollback") };
}

export interface SqlCounter {
  stop(): Promise<SqlWork>;
}

/** Starts counting now, for the PostgreSQL databases named. */
export async function startSqlCounter(pgStackUrl: string, mariadbStackUrl: string, pgDatabases: string[]): Promise<SqlCounter> {
  const pg = new Client({ connectionString: pgSuperuserUrl(pgStackUrl) });
  await pg.connect();
  const m = new URL(mariadbStackUrl);
  const maria = await mariadb.createConnection({ host: m.hostname, port: Number(m.port), user: decodeURIComponent(m.username), password: decodeURIComponent(m.password) });

  const pgTransactions = async () =>
    Number((await pg.query("SELECT coalesce(sum(xact_commit + xact_rollback), 0) AS n FROM pg_stat_database WHERE datname = ANY($1)", [pgDatabases])).rows[0].n);
  const pgStatements = async () =>
    Number(
      (await pg.query("SELECT coalesce(sum(s.calls), 0) AS n FROM pg_stat_statements s JOIN pg_database d ON d.oid = s.dbid WHERE d.datname = ANY($1)", [pgDatabases]))
        .rows[0].n,
    );

  const pgTop = async () =>
    (
      await pg.query(
        `SELECT d.datname AS database, s.calls::int AS calls, regexp_replace(s.query, '\\s+', ' ', 'g') AS query
           FROM pg_stat_statements s JOIN pg_database d ON d.oid = s.dbid WHERE d.datname = ANY($1) ORDER BY s.calls DESC LIMIT 25`,
        [pgDatabases],
      )
    ).rows as SqlWork["pgTop"];

  let pgStatementsMissing: string | undefined;
  try {
    await pg.query("CREATE EXTENSION IF NOT EXISTS pg_stat_statements");
    // From zero: the counters of statements run before the window are gone.
    await pg.query("SELECT pg_stat_statements_reset()");
  } catch (err) {
    pgStatementsMissing = (err as Error).message;
  }
  const before = { pgTransactions: await pgTransactions(), maria: await mariadbStatus(maria) };

  return {
    async stop() {
      try {
        const maria2 = await mariadbStatus(maria);
        return {
          pgTransactions: (await pgTransactions()) - before.pgTransactions,
          pgStatements: pgStatementsMissing ? undefined : await pgStatements(),
          pgStatementsMissing,
          pgTop: pgStatementsMissing ? [] : await pgTop(),
          mariadbStatements: maria2.questions - before.maria.questions,
          mariadbCommits: maria2.commits - before.maria.commits,
        };
      } finally {
        await pg.end();
        await maria.end();
      }
    },
  };
}

/**
 * A PostgreSQL backend publishes its transaction counts to pg_stat_database at most once a second,
 * and an idle one may keep them to itself indefinitely: they appear when it next works or exits.
 * The shop's pools close connections idle for 10 s (lib/sql.ts), and the ones left open are the
 * outbox relays', which query every second and so publish as they go. Waiting this long after the
 * set-up therefore puts the set-up's counts before the start of the window, not inside it.
 */
export const PG_STATS_SETTLE_MS = 12_000;

/** Waits until no backend is connected to these databases any more (their counts are published then). */
export async function waitForNoBackends(pgStackUrl: string, databases: string[], timeoutMs = 10_000): Promise<void> {
  const pg = new Client({ connectionString: pgSuperuserUrl(pgStackUrl) });
  await pg.connect();
  try {
    const deadline = Date.now() + timeoutMs;
    while (Number((await pg.query("SELECT count(*) AS n FROM pg_stat_activity WHERE datname = ANY($1)", [databases])).rows[0].n) > 0) {
      if (Date.now() > deadline) throw new Error(`connections to ${databases.join(", ")} still open after ${timeoutMs} ms`);
      await new Promise((r) => setTimeout(r, 50));
    }
  } finally {
    await pg.end();
  }
}
