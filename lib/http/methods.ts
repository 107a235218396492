/**
 * Requests for a path the gateway knows with a method it does not answer there: 405 with `Allow`
 * (RFC 9110), not the 404 of an unknown path. OPTIONS (other than a CORS preflight) answers 204
 * with the same `Allow`.
 */
import { Errors } from "moleculer";

export class MethodNotAllowedError extends Errors.MoleculerClientError {
  constructor(readonly allow: string[]) {
    super("Method not allowed", 405, "METHOD_NOT_ALLOWED", { allow });
    this.name = "MethodNotAllowedError";
  }
}

/** The `Allow` header's value: the methods found, and OPTIONS, which every known path answers. */
export const allowHeader = (methods: string[]): string => [...new Set([...methods, "OPTIONS"])].join(", ");

/** The path of a request URL, without its query. */
export const pathOf = (url: string | undefined): string => {
  const path = (url ?? "/").split("?")[0];
  return path.length > 1 && path.endsWith("/") ? path.slice(0, -1) : path;
};
