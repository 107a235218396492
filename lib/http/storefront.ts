/**
 * The storefront (web/, a single-page app built by Vite into web/dist) served by the gateway at `/`:
 * hashed assets under /assets/ (cached for good, gzip variants when the client takes them), and
 * index.html for the app's own client routes so that a reload or a shared link opens the page.
 * Any other path falls through to the gateway's JSON 404, so /api/* and unknown paths stay the API's.
 */
import fs from "node:fs";
import path from "node:path";
import type { IncomingMessage, ServerResponse } from "node:http";
import serveStatic from "serve-static";
import type { ApiRouteSchema } from "moleculer-web";
import { securityHeaders } from "./security-headers";

/**
 * The first path segments the app routes on the client (web/src/router.ts). Only these get
 * index.html: `/nowhere` is a 404 like any unknown API path.
 */
export const CLIENT_ROUTES = /^\/(?:|(?:products|basket|checkout|orders|notifications|signin|register|admin)(?:\/[^.]*)?)$/;
/** Files at the root of web/dist besides index.html (web/public). */
const ROOT_FILES = new Set(["/favicon.svg", "/robots.txt"]);

/**
 * A strict policy the page is built for: scripts, styles, fonts and API calls from this origin
 * only; no inline script or style, no eval, no plugin, no framing, no <base>, and DOM sinks such
 * as innerHTML refused (Trusted Types: the app never writes HTML as a string).
 */
export const STOREFRONT_SECURITY_HEADERS = securityHeaders({
  contentSecurityPolicy: {
    useDefaults: false,
    directives: {
      defaultSrc: ["'self'"],
      scriptSrc: ["'self'"],
      styleSrc: ["'self'"],
      imgSrc: ["'self'", "data:"],
      fontSrc: ["'self'"],
      connectSrc: ["'self'"],
      objectSrc: ["'none'"],
      baseUri: ["'none'"],
      formAction: ["'self'"],
      frameAncestors: ["'none'"],
      requireTrustedTypesFor: ["'script'"],
      trustedTypes: ["'none'"],
    },
  },
  frameguard: { action: "deny" },
  referrerPolicy: { policy: "same-origin" },
});

/** web/dist of the project: the nearest folder up from here with a package.json (the root, from source or from dist/). */
export function storefrontDir(from = __dirname): string {
  let dir = from;
  while (!fs.existsSync(path.join(dir, "package.json")) && path.dirname(dir) !== dir) dir = path.dirname(dir);
  return path.join(dir, "web", "dist");
}

type Next = (err?: unknown) => void;

/** Middleware of the gateway's storefront route; `next()` for anything that is not the app's. */
export function storefront(dir = storefrontDir()) {
  const serve = serveStatic(dir, {
    index: false,
    fallthrough: true,
    setHeaders(res: ServerResponse, file: string) {
      // Vite names assets by content hash: a new build is a new name.
      res.setHeader("Cache-Control", file.includes(`${path.sep}assets${path.sep}`) ? "public, max-age=31536000, immutable" : "no-cache");
      if (file.endsWith(".gz")) {
        res.setHeader("Content-Encoding", "gzip");
        res.setHeader("Content-Type", file.endsWith(".js.gz") ? "text/javascript; charset=utf-8" : "text/css; charset=utf-8");
      }
    },
  });
  return function storefrontMiddleware(req: IncomingMessage, res: ServerResponse, next: Next) {
    if (req.method !== "GET" && req.method !== "HEAD") return next();
    const urlPath = (req.url ?? "/").split("?")[0];
    const asset = urlPath.startsWith("/assets/") || ROOT_FILES.has(urlPath);
    if (!asset && !CLIENT_ROUTES.test(urlPath)) return next();
    if (!fs.existsSync(path.join(dir, "index.html"))) return next(); // not built: scripts/web.sh build
    for (const [name, value] of STOREFRONT_SECURITY_HEADERS) res.setHeader(name, value);
    if (!asset) req.url = "/index.html";
    else if (/\.(js|css)$/.test(urlPath) && /\bgzip\b/.test(String(req.headers["accept-encoding"] ?? "")) && fs.existsSync(path.join(dir, `${urlPath}.gz`))) {
      res.setHeader("Vary", "Accept-Encoding");
      req.url = `${urlPath}.gz`;
    }
    serve(req as any, res as any, next);
  };
}

/** The gateway route that serves it (first in the route list: it shares the path `/` with the system route). */
export function storefrontRoute(dir?: string): ApiRouteSchema {
  return { name: "storefront", path: "/", mappingPolicy: "restrict", bodyParsers: false, use: [storefront(dir)] };
}
