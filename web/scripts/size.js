/* global console, process */
// After `vite build`: writes a gzip copy of each script and stylesheet (the gateway serves it to
// clients that accept gzip) and prints what the first load costs: the JavaScript index.html loads
// (its entry and the chunks it preloads), gzipped. The admin console is a chunk loaded on demand.
import fs from "node:fs";
import path from "node:path";
import zlib from "node:zlib";

const dist = path.resolve(import.meta.dirname, "..", "dist");
const LIMIT = 200 * 1024;
const gz = (file) => zlib.gzipSync(fs.readFileSync(file), { level: 9 });

let total = 0;
for (const name of fs.readdirSync(path.join(dist, "assets"))) {
  if (!/\.(js|css)$/.test(name)) continue;
  const file = path.join(dist, "assets", name);
  const zipped = gz(file);
  fs.writeFileSync(`${file}.gz`, zipped);
  total += zipped.length;
}

const html = fs.readFileSync(path.join(dist, "index.html"), "utf8");
const firstLoad = [...html.matchAll(/(?:src|href)="(\/assets\/[^"]+\.js)"/g)].map((m) => m[1]);
const bytes = firstLoad.reduce((sum, src) => sum + gz(path.join(dist, src)).length, 0);
const kb = (n) => `${(n / 1024).toFixed(1)} KB`;
console.log(`[web] first-load JavaScript: ${kb(bytes)} gzip (${firstLoad.length} file${firstLoad.length === 1 ? "" : "s"}; budget ${kb(LIMIT)}); all assets ${kb(total)} gzip`);
if (/<script(?![^>]*\bsrc=)[^>]*>/.test(html)) {
  console.error("[web] index.html has an inline script: the CSP (script-src 'self') would block it");
  process.exit(1);
}
if (bytes > LIMIT) {
  console.error(`[web] first-load JavaScript over budget: ${kb(bytes)} > ${kb(LIMIT)}`);
  process.exit(1);
}
