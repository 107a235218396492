/** What may open a circuit: the infrastructure's faults, never what a client sent. */
import { Errors } from "moleculer";
import {
  ConnectionAcquireTimeoutError,
  ConnectionError,
  ConnectionRefusedError,
  DatabaseError,
  HostNotReachableError,
  TimeoutError,
  UniqueConstraintError,
  ValidationError as SequelizeValidationError,
} from "sequelize";
import { KafkaJSConnectionError, KafkaJSNumberOfRetriesExceeded, KafkaJSRequestTimeoutError } from "kafkajs";
import { MaxRetriesPerRequestError } from "ioredis/built/errors";
import { isInfrastructureFault } from "../../lib/faults";

const systemError = (code: string, message = code) => Object.assign(new Error(message), { code });
/** A driver error as Sequelize wraps it in a DatabaseError (parent = what the driver threw). */
const databaseError = (code: string, message: string) => new DatabaseError(Object.assign(systemError(code, message), { sql: "SELECT 1" }) as any);

describe("isInfrastructureFault", () => {
  it.each<[string, unknown]>([
    ["a Moleculer request timeout", new Errors.RequestTimeoutError({ action: "products.list", nodeID: "n1" })],
    ["a request rejected by a node that left", new Errors.RequestRejectedError({ action: "products.list", nodeID: "n1" })],
    ["a disconnected transporter", new Errors.BrokerDisconnectedError("The broker's transporter has disconnected.")],
    ["a refused database connection", new ConnectionRefusedError(systemError("ECONNREFUSED"))],
    ["an unreachable database host", new HostNotReachableError(systemError("EHOSTUNREACH"))],
    ["an exhausted connection pool", new ConnectionAcquireTimeoutError(new Error("Operation timeout"))],
    ["any Sequelize ConnectionError", new ConnectionError(new Error("Connection terminated unexpectedly"))],
    ["a query that ran out of time", new TimeoutError(systemError("SQLITE_BUSY") as any)],
    ["PostgreSQL shutting down", databaseError("57P01", "terminating connection due to administrator command")],
    ["PostgreSQL's connection-exception class", databaseError("08006", "connection failure")],
    ["a MariaDB connection lost mid-query", databaseError("ER_SOCKET_UNEXPECTED_CLOSE", "socket has unexpectedly been closed")],
    ["a reset socket", systemError("ECONNRESET")],
    ["a timed-out socket", systemError("ETIMEDOUT")],
    ["a broken pipe", systemError("EPIPE")],
    ["an unresolvable host", systemError("ENOTFOUND")],
    ["Redis giving up on a command", new MaxRetriesPerRequestError(2)],
    ["Redis with its connection closed", new Error("Connection is closed.")],
    ["a lost Kafka connection", new KafkaJSConnectionError("Connection error: connect ECONNREFUSED", { broker: "k:9092", code: "ECONNREFUSED" })],
    ["a Kafka request timeout", new KafkaJSRequestTimeoutError("Request produce(key: 0, version: 7) timed out")],
    ["Kafka retries given up on a lost connection", new KafkaJSNumberOfRetriesExceeded(new KafkaJSConnectionError("Connection closed"), { retryCount: 5, retryTime: 100 })],
    ["a Stripe API that cannot be reached", Object.assign(new Error("An error occurred with our connection to Stripe"), { name: "StripeConnectionError" })],
    ["a connection fault rebuilt by another node (by name)", Object.assign(new Errors.MoleculerError("connect ECONNREFUSED", 500), { name: "SequelizeConnectionRefusedError" })],
    ["an error caused by a connection fault", new Error("flush failed", { cause: systemError("ECONNREFUSED") })],
  ])("counts %s", (_what, err) => {
    expect(isInfrastructureFault(err)).toBe(true);
  });

  it.each<[string, unknown]>([
    ["a parameter validation error", new Errors.ValidationError("Parameters validation error!", "VALIDATION_ERROR", [])],
    ["a domain 404 or 409", new Errors.MoleculerClientError("Product not found", 404, "PRODUCT_NOT_FOUND")],
    ["a full bulkhead queue (429)", new Errors.QueueIsFullError({ action: "products.list", nodeID: "n1" })],
    ["a service that is not available (404)", new Errors.ServiceNotAvailableError({ action: "products.list", nodeID: "n1" })],
    ["an unreadable body (400)", new Errors.MoleculerClientError("Malformed JSON body", 400, "INVALID_JSON")],
    ["a value PostgreSQL refuses (NUL byte)", databaseError("22021", 'invalid byte sequence for encoding "UTF8": 0x00')],
    ["a value SQLite refuses", databaseError("SQLITE_MISMATCH", "SQLITE_MISMATCH: datatype mismatch")],
    ["an out-of-range number", databaseError("22003", "bigint out of range")],
    ["a NOT NULL violation", new SequelizeValidationError("notNull Violation: product.name cannot be null", [])],
    ["a unique constraint", new UniqueConstraintError({ message: "Validation error" })],
    ["a plain Error with no code (a bug)", new Error("Cannot read properties of undefined (reading 'id')")],
    ["a TypeError", new TypeError("x is not a function")],
    ["a generic Moleculer 500", new Errors.MoleculerServerError("Something failed", 500, "INTERNAL")],
    ["nothing at all", undefined],
    ["a thrown string", "ECONNREFUSED"],
  ])("does not count %s", (_what, err) => {
    expect(isInfrastructureFault(err)).toBe(false);
  });

  it("lets a 4xx win over what it wraps", () => {
    const wrapped = Object.assign(new Errors.MoleculerClientError("bad body", 400, "INVALID_JSON"), { cause: systemError("ECONNRESET") });
    expect(isInfrastructureFault(wrapped)).toBe(false);
  });

  it("stops following causes after a few links (a cycle cannot hang it)", () => {
    const a: any = new Error("a");
    const b: any = new Error("b");
    a.cause = b;
    b.cause = a;
    expect(isInfrastructureFault(a)).toBe(false);
  });
});
