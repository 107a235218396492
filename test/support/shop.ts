/**
 * Starts the shop in this test process (embedded: every service, local transporter) on a free
 * port with its own data directory, and stops it. Each jest test file has its own module
 * registry, so the configuration is read afresh from the environment set here.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import type { AddressInfo } from "node:net";
import type { ServiceBroker, ServiceSchema } from "moleculer";
import { assertKeepsContract } from "./contract";
import { shopClient, type ShopClient } from "../../lib/http/client";

export interface RunningShop {
  broker: ServiceBroker;
  url: string;
  dataDir: string;
  stop(): Promise<void>;
}

export async function startShop(env: Record<string, string> = {}, extraServices: ServiceSchema[] = []): Promise<RunningShop> {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "shop-test-"));
  Object.assign(process.env, {
    PORT: "0",
    DATA_DIR: dataDir,
    LOG_LEVEL: "warn",
    LOG_FORMAT: "text",
    JWT_SECRET: "test-secret-".padEnd(40, "x"),
    // Tests send many requests from one address; the rate-limit test turns limits back on.
    API_RATE_LIMIT: "0",
    AUTH_RATE_LIMIT: "0",
    ...env,
  });
  const { ServiceBroker } = await import("moleculer");
  const { default: brokerConfig } = await import("../../moleculer.config");
  const { serviceLoaders } = await import("../../services");
  const { config } = await import("../../lib/config");

  const broker = new ServiceBroker({ ...brokerConfig, nodeID: `test-${process.pid}` });
  for (const name of config().services) broker.createService((await serviceLoaders[name]()).default);
  for (const schema of extraServices) broker.createService(schema);
  await broker.start();

  const api: any = broker.getLocalService("api");
  const { port } = api.server.address() as AddressInfo;
  const url = `http://127.0.0.1:${port}`;
  // Ready means every declared route is in the table.
  const deadline = Date.now() + 10_000;
  while ((await fetch(`${url}/health/ready`)).status !== 200) {
    if (Date.now() > deadline) throw new Error("shop not ready within 10 s");
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    broker,
    url,
    dataDir,
    async stop() {
      await broker.stop();
      fs.rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/**
 * A JSON request against the shop; returns status, headers and parsed body. The response is
 * checked against the shop's OpenAPI document (test/support/contract.ts): an undeclared status,
 * header or field fails the test.
 */
export async function http(
  url: string,
  init: { method?: string; body?: unknown; rawBody?: string; token?: string; headers?: Record<string, string> } = {},
): Promise<{ status: number; headers: Headers; body: any }> {
  const headers: Record<string, string> = { ...(init.headers ?? {}) };
  if (init.token) headers.authorization = `Bearer ${init.token}`;
  let body: string | undefined = init.rawBody;
  if (init.body !== undefined) {
    body = JSON.stringify(init.body);
    headers["content-type"] = "application/json";
  } else if (init.rawBody !== undefined) headers["content-type"] ??= "application/json";
  const method = init.method ?? "GET";
  const res = await fetch(url, { method, headers, body });
  const text = await res.text();
  await assertKeepsContract({ method, url, status: res.status, headers: res.headers, text: text || undefined });
  let parsed: unknown = text;
  try {
    parsed = text ? JSON.parse(text) : undefined;
  } catch {
    /* not JSON: keep the text */
  }
  return { status: res.status, headers: res.headers, body: parsed };
}

/**
 * The typed client (lib/http/client.ts, generated from the document) on a running shop, as the
 * holder of `token` if given; every response it gets is checked against the document like http()'s.
 */
export function client(shop: RunningShop | string, token?: string): ShopClient {
  return shopClient(typeof shop === "string" ? shop : shop.url, {
    token,
    async onResponse(request, response) {
      const text = await response.clone().text();
      await assertKeepsContract({ method: request.method, url: request.url, status: response.status, headers: response.headers, text: text || undefined });
    },
  });
}

/**
 * A typed client's answer as status, headers and body, the body being the success's or the
 * error's (typed as both, for tests that read either).
 */
export async function answer<D, E>(call: Promise<{ data?: D; error?: E; response: Response }>): Promise<{ status: number; headers: Headers; body: NonNullable<D> & NonNullable<E> }> {
  const { data, error, response } = await call;
  return { status: response.status, headers: response.headers, body: (data ?? error) as NonNullable<D> & NonNullable<E> };
}

/**
 * A real account on the running shop, signed in: its id and an access token (the gateway checks
 * every token against the account as it is now, so a token for an account that does not exist is
 * refused). Admins are made the way operators make them (users.ensureAdmin).
 */
export async function signedIn(shop: RunningShop, email: string, role: "user" | "admin" = "user"): Promise<{ id: string; token: string }> {
  const password = "test password 1";
  if (role === "admin") await shop.broker.call("users.ensureAdmin", { email, password });
  else await shop.broker.call("users.register", { email, password, firstName: "Test", lastName: "User" });
  const session = await shop.broker.call<{ user: { id: string }; accessToken: string }, { email: string; password: string }>("users.login", { email, password });
  return { id: session.user.id, token: session.accessToken };
}

/**
 * The shop on the real stack: a fresh database per service (PostgreSQL; payments on MariaDB, as in
 * docker-compose), Redis, Kafka at `kafkaBrokers`, and its own namespace and topics (`${namespace}.`
 * unless `env` names a KAFKA_TOPIC_PREFIX). `drop()` removes the databases, the topics and the
 * consumer groups (from the stack's Kafka: `kafkaBrokers` may be a proxy a test has stopped).
 */
export async function startShopOnRealStack(kafkaBrokers: string, env: Record<string, string> = {}): Promise<RunningShop & { drop(): Promise<void> }> {
  const { freshServiceDatabases } = await import("./databases");
  const { removeKafkaRun } = await import("./kafka");
  const { stack, uniqueName } = await import("./stack");
  const databases = await freshServiceDatabases();
  const namespace = env.NAMESPACE ?? uniqueName("shop");
  const topicPrefix = env.KAFKA_TOPIC_PREFIX ?? `${namespace}.`;
  const shop = await startShop({ NAMESPACE: namespace, KAFKA_BROKERS: kafkaBrokers, KAFKA_TOPIC_PREFIX: topicPrefix, REDIS_URL: stack.redisUrl(), ...databases.env, ...env });
  const drop = async () => {
    await Promise.all([databases.drop(), removeKafkaRun(stack.kafkaBrokers(), { topicPrefix, groupPrefix: `${namespace}-` })]);
  };
  return { ...shop, drop };
}
