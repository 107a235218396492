/**
 * Errors of the domain, free of Moleculer: a status (4xx), a stable type and data for the client.
 * DomainErrorMiddleware turns them into MoleculerClientErrors at the action boundary, so they
 * cross the transporter and reach the HTTP client as {name, message, code, type, data}.
 */
import { Errors, type Middleware } from "moleculer";

export class DomainError extends Error {
  constructor(
    readonly code: 400 | 401 | 403 | 404 | 409 | 422 | 429,
    readonly type: string,
    message: string,
    readonly data: unknown = null,
  ) {
    super(message);
    this.name = "DomainError";
  }
}

export const notFound = (what: string, data: unknown = null) =>
  new DomainError(404, `${what.toUpperCase().replace(/\s+/g, "_")}_NOT_FOUND`, `${what[0].toUpperCase()}${what.slice(1)} not found`, data);

const toClientError = (err: unknown) => {
  throw err instanceof DomainError ? new Errors.MoleculerClientError(err.message, err.code, err.type, err.data) : err;
};

/** Broker middleware: a DomainError leaving a local action becomes a MoleculerClientError (one catch on the promise). */
export const DomainErrorMiddleware: Middleware = {
  name: "DomainErrors",
  localAction(next: any) {
    // Moleculer wraps every handler so that it returns a promise, even when it throws.
    return (ctx: any) => next(ctx).catch(toClientError);
  },
} as Middleware;
