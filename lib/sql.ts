/**
 * SQL plumbing shared by the services that own a database: a Sequelize instance from a URL
 * (PostgreSQL, MariaDB, MySQL, SQLite) and schema migrations with umzug.
 */
import fs from "node:fs";
import path from "node:path";
import { Sequelize, type QueryInterface, type Options } from "sequelize";
import { Umzug, SequelizeStorage } from "umzug";

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
    const sequelize = new Sequelize({
      ...common,
      dialect,
      storage,
      // One writer at a time is SQLite's nature; IMMEDIATE takes the write lock at BEGIN so
      // concurrent transactions queue (busy_timeout) instead of failing half-way with SQLITE_BUSY.
      transactionType: "IMMEDIATE" as any,
      pool: { max: 1, min: 0, idle: 60_000 },
    });
    sequelize.addHook("afterConnect", async (connection: any) => {
      await new Promise<void>((resolve, reject) =>
        connection.exec("PRAGMA journal_mode=WAL; PRAGMA busy_timeout=5000; PRAGMA foreign_keys=ON;", (err: Error | null) =>
          err ? reject(err) : resolve(),
        ),
      );
    });
    return sequelize;
  }
  return new Sequelize(url, {
    ...common,
    dialect,
    pool: { max: 10, min: 0, idle: 10_000, acquire: 10_000 },
    ...(dialect === "postgres" ? {} : { dialectOptions: { connectTimeout: 10_000 } }),
  });
}

export interface Migration {
  name: string;
  up(queryInterface: QueryInterface, sequelize: Sequelize): Promise<void>;
  down(queryInterface: QueryInterface, sequelize: Sequelize): Promise<void>;
}

/** Applies the pending migrations, recording them in `<table>` (one table per service). */
export async function migrate(sequelize: Sequelize, migrations: Migration[], table: string): Promise<string[]> {
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
