/**
 * Readiness as metrics, for alerts (deploy/prometheus/alerts.yml): every 15 s each node runs its
 * dependency checks (lib/health.ts) and sets shop_health_check_up{check} and shop_ready. On a
 * gateway node shop_ready is what /health/ready answers (every dependency up, every service of the
 * shop discovered and routed); elsewhere, whether this node's own dependencies answer. Until the
 * node is first ready (a gateway waits for the other nodes' services) it looks every second.
 */
import type { ServiceBroker } from "moleculer";
import { runHealthChecks, type CheckResult } from "../health";
import { outsideAnyRequest } from "../request-context";
import { gauge } from "./shop-metrics";

const INTERVAL_MS = 15_000;
const STARTING_INTERVAL_MS = 1_000;

/** Starts the periodic report; returns what stops it. */
export function startHealthMetrics(broker: ServiceBroker): () => void {
  const setCheck = gauge(broker, { name: "shop.health.check_up", labelNames: ["check"], description: "1 when a dependency of this node answers its health check (database, Redis, transporter, Kafka), 0 when not" });
  const setReady = gauge(broker, { name: "shop.ready", description: "1 when this node is ready (a gateway node: as /health/ready answers), 0 when not" });
  let running = false;
  let everReady = false;
  let timer: NodeJS.Timeout | undefined;
  const report = async () => {
    if (running) return;
    running = true;
    try {
      const api = broker.getLocalService("api") as unknown as { healthReport?: () => Promise<{ status: string; checks: CheckResult[] }> } | undefined;
      const { ready, checks } = api?.healthReport
        ? await api.healthReport().then((r) => ({ ready: r.status === "up", checks: r.checks }))
        : await runHealthChecks().then((c) => ({ ready: c.every((x) => x.status === "up"), checks: c }));
      for (const check of checks) setCheck({ check: check.name }, check.status === "up" ? 1 : 0);
      setReady({}, ready ? 1 : 0);
      if (ready && !everReady) {
        everReady = true;
        clearInterval(timer);
        timer = outsideAnyRequest(() => setInterval(() => void report(), INTERVAL_MS).unref());
      }
    } catch (err) {
      setReady({}, 0);
      broker.logger.warn("Readiness report failed:", (err as Error)?.message ?? err);
    } finally {
      running = false;
    }
  };
  timer = outsideAnyRequest(() => setInterval(() => void report(), STARTING_INTERVAL_MS).unref());
  void report();
  return () => clearInterval(timer);
}
