/**
 * Probes for nodes without a gateway. Such a node has no HTTP server of its own, only the
 * Prometheus reporter's on METRICS_PORT, which serves /metrics and answers 404 to anything else.
 * This adds /health/live and /health/ready to that same server, so an orchestrator probes every
 * node the same way (the gateway answers both on PORT, through moleculer-web):
 * - /health/live: 200 {"status":"up"} while the process answers;
 * - /health/ready: 200 once the broker has started (services started, transporter connected)
 *   and every dependency check of this node (lib/health.ts: its databases, Kafka, Redis, the
 *   transporter) passes; 503 {"status":"down","down":[names]} otherwise, and from the moment
 *   the broker begins to stop (SIGTERM).
 * Anything else goes to the reporter's own handler, unchanged.
 */
import type http from "node:http";
import type { ServiceBroker } from "moleculer";
import { runHealthChecks } from "./health";

type RequestListener = (req: http.IncomingMessage, res: http.ServerResponse) => void;

function send(res: http.ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { "Content-Type": "application/json; charset=utf-8", "Cache-Control": "no-store" });
  res.end(JSON.stringify(body));
}

async function readiness(broker: ServiceBroker): Promise<{ status: "up" | "down"; down?: string[] }> {
  if (!(broker as any).started || (broker as any).stopping) return { status: "down", down: ["broker"] };
  const down = (await runHealthChecks()).filter((c) => c.status === "down").map((c) => c.name);
  return down.length === 0 ? { status: "up" } : { status: "down", down };
}

/** Adds the probes to the metrics server of `broker`, if it has one (METRICS_PORT set). */
export function serveHealthOnMetricsPort(broker: ServiceBroker): void {
  const reporters: any[] = (broker as any).metrics?.reporter ?? [];
  const server: http.Server | undefined = reporters.map((r) => r.server).find(Boolean);
  if (!server) return;
  const original = server.listeners("request") as RequestListener[];
  server.removeAllListeners("request");
  server.on("request", (req: http.IncomingMessage, res: http.ServerResponse) => {
    const path = (req.url ?? "").split("?")[0];
    if (req.method === "GET" && path === "/health/live") return send(res, 200, { status: "up" });
    if (req.method === "GET" && path === "/health/ready") {
      readiness(broker).then(
        (report) => send(res, report.status === "up" ? 200 : 503, report),
        () => send(res, 503, { status: "down" }),
      );
      return;
    }
    for (const listener of original) listener.call(server, req, res);
  });
}
