/** A fresh, empty database per test file on the real servers (or a temp SQLite file), dropped after. */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { Client } from "pg";
import mariadb from "mariadb";
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

/** A fresh database for each service that owns one, as in docker-compose (payments on MariaDB, the others on PostgreSQL). */
export interface ServiceDatabases {
  /** USERS_DB_URL … NOTIFICATIONS_DB_URL, for a node's environment. */
  env: Record<string, string>;
  drop(): Promise<void>;
}

export async function freshServiceDatabases(): Promise<ServiceDatabases> {
  const services = [["USERS", "postgres"], ["PRODUCTS", "postgres"], ["ORDERS", "postgres"], ["PAYMENTS", "mariadb"], ["NOTIFICATIONS", "postgres"]] as const;
  const dbs = await Promise.all(services.map(([, kind]) => freshDatabase(kind)));
  return {
    env: Object.fromEntries(services.map(([name], i) => [`${name}_DB_URL`, dbs[i].url])),
    drop: async () => void (await Promise.all(dbs.map((d) => d.drop()))),
  };
}
