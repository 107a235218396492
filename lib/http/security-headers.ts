/**
 * Security headers from helmet, computed once. With a fixed configuration helmet sets the same
 * headers on every response (no per-request nonce), so the gateway runs it once at start and
 * applies the resulting list to each response, which is much cheaper than helmet's middleware
 * chain per request.
 */
import helmet from "helmet";
import type { IncomingMessage, ServerResponse } from "node:http";

export function securityHeaders(options?: Parameters<typeof helmet>[0]): [string, string][] {
  const headers = new Map<string, string>();
  const res = {
    setHeader: (name: string, value: string | number | readonly string[]) => void headers.set(name, String(value)),
    removeHeader: (name: string) => void headers.delete(name),
    getHeader: (name: string) => headers.get(name),
  } as unknown as ServerResponse;
  let finished = false;
  helmet(options)({ headers: {} } as IncomingMessage, res, () => (finished = true));
  if (!finished) throw new Error("helmet did not finish synchronously");
  return [...headers];
}

/**
 * For JSON responses (OWASP REST Security Cheat Sheet): nothing may load or frame an API response.
 * Browser-page headers (XSS auditor, download options, DNS prefetch...) mean nothing to a JSON client.
 */
export const API_SECURITY_HEADERS = securityHeaders({
  contentSecurityPolicy: { useDefaults: false, directives: { defaultSrc: ["'none'"], frameAncestors: ["'none'"] } },
  frameguard: { action: "deny" },
  originAgentCluster: false,
  xDnsPrefetchControl: false,
  xDownloadOptions: false,
  xPermittedCrossDomainPolicies: false,
  xXssProtection: false,
});

/** For the Swagger UI page: helmet's defaults, whose CSP lets the page load its own scripts and styles. */
export const PAGE_SECURITY_HEADERS = securityHeaders();
