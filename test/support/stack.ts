/**
 * Where the real servers are, from the TEST_* variables of `scripts/stack.sh env --test`.
 * A missing variable fails the test that needs it: integration tests never pass by skipping.
 */
function required(name: string): string {
  const value = process.env[name];
  if (!value) {
    throw new Error(`${name} is not set: start the real stack (scripts/stack.sh up) and eval "$(scripts/stack.sh env --test)", or run scripts/test.sh`);
  }
  return value;
}

export const stack = {
  postgresUrl: () => required("TEST_POSTGRES_URL"),
  mariadbUrl: () => required("TEST_MARIADB_URL"),
  redisUrl: () => required("TEST_REDIS_URL"),
  natsUrl: () => required("TEST_NATS_URL"),
  kafkaBrokers: () => required("TEST_KAFKA_BROKERS").split(","),
  stripeApiBase: () => required("TEST_STRIPE_API_BASE"),
};

/** The SQL databases every SQL adapter is tested against: the real servers, plus SQLite. */
export const SQL_TARGETS: [string, () => string][] = [
  ["postgres", stack.postgresUrl],
  ["mariadb", stack.mariadbUrl],
  ["sqlite", () => "sqlite::memory:"],
];

/** A name unique to this test run, for namespaces, topics, tables and keys. */
export function uniqueName(prefix: string): string {
  return `${prefix}_${process.pid}_${Date.now().toString(36)}_${Math.floor(Math.random() * 1e6).toString(36)}`;
}
