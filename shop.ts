/**
 * Starts one node of the shop: the services named in SERVICES (default: all of them, embedded),
 * on TRANSPORTER (default: in-process). `--repl` opens the broker REPL on the node; joined to a
 * cluster (TRANSPORTER set) without SERVICES, the REPL node runs no service of its own.
 */
import { ServiceBroker } from "moleculer";
import { ConfigError, config } from "./lib/config";
import { serviceLoaders } from "./services";
import { serveHealthOnMetricsPort } from "./lib/health-port";

async function main(): Promise<void> {
  const withRepl = process.argv.includes("--repl");
  let cfg;
  try {
    cfg = config();
  } catch (err) {
    if (err instanceof ConfigError) {
      console.error(`Configuration error: ${err.message}`);
      process.exit(2);
    }
    throw err;
  }
  const { default: brokerConfig } = await import("./moleculer.config");
  const names = withRepl && !cfg.embedded && !process.env.SERVICES ? [] : cfg.services;

  const broker = new ServiceBroker(brokerConfig);
  // Nodes without a gateway answer /health/live and /health/ready on METRICS_PORT (Kubernetes probes).
  serveHealthOnMetricsPort(broker);
  for (const name of names) {
    const { default: schema } = await serviceLoaders[name]();
    broker.createService(schema);
  }
  await broker.start();
  broker.logger.info(`Node ${broker.nodeID} runs: ${names.join(", ") || "no service"}${cfg.embedded ? " (embedded)" : ""}`);
  if (withRepl) await broker.repl();
}

main().catch((err) => {
  console.error("Start-up failed:", err);
  process.exit(1);
});
