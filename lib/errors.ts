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

export const DomainErrorMiddleware: Middleware = {
  name: "DomainErrors",
  localAction(next: any) {
    return async (ctx: any) => {
      try {
        return await next(ctx);
      } catch (err) {
        if (err instanceof DomainError) throw new Errors.MoleculerClientError(err.message, err.code, err.type, err.data);
        throw err;
      }
    };
  },
} as Middleware;
