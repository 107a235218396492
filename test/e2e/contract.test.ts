/**
 * The committed contract is the one the shop serves: docs/openapi.json and the typed client's
 * types (lib/http/api-types.ts) are regenerated from the running shop and must not differ
 * (`npm run openapi` regenerates both).
 */
import fs from "node:fs";
import { spawnSync } from "node:child_process";
import path from "node:path";
import { startShop, type RunningShop } from "../support/shop";

let shop: RunningShop;
beforeAll(async () => {
  shop = await startShop();
});
afterAll(() => shop.stop());

const ROOT = path.resolve(__dirname, "../..");

it("serves the document committed in docs/openapi.json", async () => {
  const served = await (await fetch(`${shop.url}/api/v1/openapi.json`)).json();
  const committed = JSON.parse(fs.readFileSync(path.join(ROOT, "docs/openapi.json"), "utf8"));
  // toEqual names the first difference; regenerate with `npm run openapi`.
  expect(served).toEqual(committed);
});

it("has typed-client types generated from that document", () => {
  // openapi-typescript is ESM inside, which Jest cannot load: the generator checks in its own process.
  const check = spawnSync(process.execPath, ["--import", "tsx", "scripts/openapi.ts", "--check"], { cwd: ROOT, encoding: "utf8", timeout: 60_000 });
  expect({ status: check.status, stderr: check.stderr.replace(/^npm warn.*\n/gm, "") }).toEqual({ status: 0, stderr: "" });
});
