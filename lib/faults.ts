/**
 * Which failures are the infrastructure's: a dependency that is down, unreachable or too slow. Only
 * these may open a circuit; an error caused by what a client sent (a 4xx, a value the database
 * refuses, a bug it triggers) must not, or one client could make an action unavailable to all.
 * Pure, and by name and code rather than class, so errors rebuilt by another node classify alike.
 *
 * Also here: the broker's Timeout middleware (TimeoutMiddleware, at the end).
 */
import { Stream } from "node:stream";
import { Errors, METRIC, type Middleware, type ServiceBroker } from "moleculer";

/** Moleculer's own: the remote node did not answer in time, dropped the request, or is gone. */
const BROKER_FAULTS = new Set(["RequestTimeoutError", "RequestRejectedError", "BrokerDisconnectedError"]);
const BROKER_FAULT_TYPES = new Set(["REQUEST_TIMEOUT", "REQUEST_REJECTED", "BAD_GATEWAY"]);

const DEPENDENCY_FAULTS = new Set([
  // Sequelize's ConnectionError family, and a query or lock that ran out of time.
  "SequelizeConnectionError",
  "SequelizeConnectionRefusedError",
  "SequelizeConnectionTimedOutError",
  "SequelizeConnectionAcquireTimeoutError",
  "SequelizeHostNotFoundError",
  "SequelizeHostNotReachableError",
  "SequelizeInvalidConnectionError",
  "SequelizeAccessDeniedError",
  "SequelizeTimeoutError",
  // ioredis
  "MaxRetriesPerRequestError",
  "ClusterAllFailedError",
  // kafkajs
  "KafkaJSConnectionError",
  "KafkaJSConnectionClosedError",
  "KafkaJSRequestTimeoutError",
  "KafkaJSBrokerNotFound",
  "KafkaJSNoBrokerAvailableError",
  "KafkaJSTimeout",
  // stripe
  "StripeConnectionError",
]);

const FAULT_CODES = new Set([
  // Node sockets and DNS
  "ECONNREFUSED",
  "ECONNRESET",
  "ECONNABORTED",
  "ETIMEDOUT",
  "ESOCKETTIMEDOUT",
  "EPIPE",
  "EHOSTUNREACH",
  "EHOSTDOWN",
  "ENETUNREACH",
  "ENETDOWN",
  "ENOTFOUND",
  "EAI_AGAIN",
  // PostgreSQL: shutting down, not accepting connections, too many of them
  "57P01",
  "57P02",
  "57P03",
  "53300",
  // MariaDB connector
  "ER_CON_COUNT_ERROR",
  "ER_SOCKET_UNEXPECTED_CLOSE",
  "ER_GET_CONNECTION_TIMEOUT",
  "ER_CONNECTION_TIMEOUT",
  "ER_CONNECTION_ALREADY_CLOSED",
  "ER_CMD_CONNECTION_CLOSED",
  "ER_SERVER_SHUTDOWN",
  "PROTOCOL_CONNECTION_LOST",
  // SQLite: the file cannot be opened, read or grown
  "SQLITE_CANTOPEN",
  "SQLITE_IOERR",
  "SQLITE_FULL",
  // NATS
  "CONNECTION_CLOSED",
  "CONNECTION_DRAINING",
  "CONNECTION_REFUSED",
  "CONNECTION_TIMEOUT",
  "DISCONNECT",
]);

/** ioredis rejects commands with this plain Error once its connection is gone. */
const REDIS_CLOSED = "Connection is closed.";

/** PostgreSQL SQLSTATE class 08: connection exception. */
const isPostgresConnectionState = (code: string): boolean => /^08[0-9A-Z]{3}$/.test(code);

type ErrorLike = { name?: unknown; code?: unknown; type?: unknown; message?: unknown } & Record<string, unknown>;

/** The error and what it wraps (Sequelize's parent/original, kafkajs' originalError, ES cause). */
function* chain(err: unknown): Generator<ErrorLike> {
  let current = err;
  for (let depth = 0; depth < 5 && current && typeof current === "object"; depth++) {
    const e = current as ErrorLike;
    yield e;
    current = e.cause ?? e.parent ?? e.original ?? e.originalError;
  }
}

function isFault(e: ErrorLike): boolean {
  if (typeof e.name === "string" && (BROKER_FAULTS.has(e.name) || DEPENDENCY_FAULTS.has(e.name))) return true;
  if (typeof e.type === "string" && BROKER_FAULT_TYPES.has(e.type)) return true;
  if (typeof e.code === "string" && (FAULT_CODES.has(e.code) || isPostgresConnectionState(e.code))) return true;
  return e.message === REDIS_CLOSED;
}

export function isInfrastructureFault(err: unknown): boolean {
  const code = (err as ErrorLike | undefined)?.code;
  // What the client got wrong is never a fault of ours, whatever it wraps.
  if (typeof code === "number" && code >= 400 && code < 500) return false;
  for (const e of chain(err)) if (isFault(e)) return true;
  return false;
}

/**
 * Moleculer's Timeout middleware with one promise per call where Moleculer's makes five (it races
 * the call against a promise of its own, then chains two handlers on the race): every action call
 * goes through it. The behaviour is Moleculer's: the call's timeout, else the action's, else the
 * broker's requestTimeout; ctx.startHrTime set for the distributed timeout of nested calls; on
 * expiry a warning, a RequestTimeoutError and one more moleculer_request_timeout_total.
 */
export function TimeoutMiddleware(broker: ServiceBroker): Middleware {
  function wrapTimeout(handler: (ctx: any) => any, action: any) {
    const actionTimeout: number | undefined = action.timeout;
    const actionName: string = action.name;
    const service: string | null = action.service ? action.service.fullName : null;

    const timedOut = (ctx: any) => {
      broker.logger.warn(`Request '${actionName}' is timed out.`, { requestID: ctx.requestID, nodeID: ctx.nodeID, timeout: ctx.options.timeout });
      if (ctx.params instanceof Stream) ctx.params.emit("moleculer-timeout-middleware", ctx.options.timeout);
      broker.metrics.increment(METRIC.MOLECULER_REQUEST_TIMEOUT_TOTAL, { service, action: actionName });
      return new Errors.RequestTimeoutError({ action: actionName, nodeID: ctx.nodeID });
    };

    return function timeoutMiddleware(ctx: any) {
      ctx.options.timeout ??= actionTimeout ?? broker.options.requestTimeout;
      const ms = ctx.options.timeout;
      if (!(ms > 0)) return handler(ctx);
      ctx.startHrTime ??= process.hrtime();
      const call = handler(ctx);
      if (typeof call?.then !== "function") return call;
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(timedOut(ctx)), ms);
        call.then(
          (res: unknown) => {
            clearTimeout(timer);
            resolve(res);
          },
          (err: unknown) => {
            clearTimeout(timer);
            reject(err instanceof Errors.TimeoutError ? timedOut(ctx) : err);
          },
        );
      });
    };
  }

  return {
    name: "Timeout",
    created() {
      if (broker.isMetricsEnabled()) {
        broker.metrics.register({
          name: METRIC.MOLECULER_REQUEST_TIMEOUT_TOTAL,
          type: METRIC.TYPE_COUNTER,
          labelNames: ["service", "action"],
          description: "Number of timed out requests",
        });
      }
    },
    localAction: wrapTimeout,
    remoteAction: wrapTimeout,
  } as Middleware;
}
