/**
 * npm run bench [catalog|checkout|scaling]: catalog and checkout when none is named.
 *
 *   catalog    embedded shop, no external server: cached and uncached reads against references (bench/catalog.ts)
 *   checkout   the real stack: checkouts/s, latency, CPU, SQL and event lag per checkout (bench/checkout.ts)
 *   checkout-embedded   the same checkout on the embedded default (SQLite, in-process bus)
 *   scaling    checkout on one node, then on two over NATS, and the ratio
 *   failover   reads while a products node is SIGKILLed: failed reads, slowest read, failover time
 *   storefront the storefront's first load: JavaScript (gzip) and time until a product can be clicked
 *   tracing    catalog reads and the checkout with tracing off and on, and the ratio (bench/tracing.ts)
 *
 * Each figure is printed next to its goal; a markdown summary for the README's tables ends the run.
 */
import { catalogScenario } from "./catalog";
import { checkoutScenario, embeddedCheckoutScenario, scalingScenario } from "./checkout";
import { failoverScenario } from "./failover";
import { storefrontScenario } from "./storefront";
import { tracingScenario } from "./tracing";
import { stopAllOnInterrupt } from "./support/processes";
import { printSummary, type Table } from "./support/report";

const SCENARIOS: Record<string, (tables: Table[]) => Promise<unknown>> = {
  catalog: catalogScenario,
  checkout: (tables) => checkoutScenario(tables),
  "checkout-embedded": embeddedCheckoutScenario,
  scaling: scalingScenario,
  failover: failoverScenario,
  storefront: storefrontScenario,
  tracing: tracingScenario,
};

async function main(): Promise<void> {
  const wanted = process.argv[2];
  if (wanted && !(wanted in SCENARIOS)) throw new Error(`unknown scenario "${wanted}": use ${Object.keys(SCENARIOS).join(", ")}`);
  stopAllOnInterrupt();
  const tables: Table[] = [];
  for (const name of wanted ? [wanted] : ["catalog", "checkout"]) await SCENARIOS[name](tables);
  printSummary(tables);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
