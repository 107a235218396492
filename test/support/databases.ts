/** A fresh, empty database per test file on the real servers (or a temp SQLite file), dropped after. */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { Client } from "pg";
import mariadb from "mariadb";
import type { Sequelize } from "sequelize";
import { createSequelize, migrate, type Migration } from "../../lib/sql";
import { stack, uniqueName } from "./stack";

export type SqlKind = "postgres" | "mariadb" | "sqlite";

export interface TestDatabase {
  url: string;
  drop(): Promise<void>;
}

function withDatabase(url: string, name: string): string {
  const u = new URL(url);
  u.pathname = `/${name}`;
  return u.toString();
}

export async function freshDatabase(kind: SqlKind): Promise<TestDatabase> {
  const name = uniqueName("t").toLowerCase();
  if (kind === "sqlite") {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "shop-sqlite-"));
    return { url: `sqlite:${path.join(dir, "test.sqlite")}`, drop: async () => fs.rmSync(dir, { recursive: true, force: true }) };
  }
  if (kind === "postgres") {
    const admin = new Client({ connectionString: stack.postgresUrl() });
    await admin.connect();
    await admin.query(`CREATE DATABASE ${name}`);
    await admin.end();
    return {
      url: withDatabase(stack.postgresUrl(), name),
      async drop() {
        const c = new Client({ connectionString: stack.postgresUrl() });
        await c.connect();
        await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
        await c.end();
      },
    };
  }
  const u = new URL(stack.mariadbUrl());
  const connect = () =>
    mariadb.createConnection({ host: u.hostname, port: Number(u.port), user: decodeURIComponent(u.username), password: decodeURIComponent(u.password) });
  const admin = await connect();
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  return {
    url: withDatabase(stack.mariadbUrl(), name),
    async drop() {
      const c = await connect();
      await c.query(`DROP DATABASE IF EXISTS ${name}`);
      await c.end();
    },
  };
}

/** A fresh database of `kind` with Sequelize on it and `migrations` applied; `drop()` closes it and drops the database. */
export async function migratedDatabase(kind: SqlKind, migrations: Migration[], table: string): Promise<{ sequelize: Sequelize; drop(): Promise<void> }> {
  const db = await freshDatabase(kind);
  const sequelize = createSequelize(db.url);
  await migrate(sequelize, migrations, table);
  return {
    sequelize,
    async drop() {
      await sequelize.close();
      await db.drop();
    },
  };
}

/** One service's database: which service, on which server, where. */
export interface ServiceDatabase {
  service: string;
  kind: "postgres" | "mariadb";
  url: string;
}

/** A fresh database for each service that owns one, as in docker-compose (payments on MariaDB, the others on PostgreSQL). */
export interface ServiceDatabases {
  dbs: ServiceDatabase[];
  /** USERS_DB_URL … NOTIFICATIONS_DB_URL, for a node's environment. */
  env: Record<string, string>;
  drop(): Promise<void>;
}

export async function freshServiceDatabases(): Promise<ServiceDatabases> {
  const services = [["users", "postgres"], ["products", "postgres"], ["orders", "postgres"], ["payments", "mariadb"], ["notifications", "postgres"]] as const;
  const created = await Promise.all(services.map(([, kind]) => freshDatabase(kind)));
  const dbs = services.map(([service, kind], i) => ({ service, kind, url: created[i].url }));
  return {
    dbs,
    env: Object.fromEntries(dbs.map((d) => [`${d.service.toUpperCase()}_DB_URL`, d.url])),
    drop: async () => void (await Promise.all(created.map((d) => d.drop()))),
  };
}
