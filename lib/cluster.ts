/**
 * The cluster as the operator sees it (GET /api/v1/admin/cluster, REPL `cluster`): the nodes with
 * their services and health, every action's endpoints with the calls each node served and their
 * mean latency, each endpoint's circuit as this node's broker sees it, and the balancing strategy.
 *
 * The registry gives nodes, endpoints and circuits; each node's own request metrics (the calls it
 * served, through `$node.metrics`) give counts and latency, so the figures are per endpoint and
 * do not depend on which node asks.
 */
import type { ServiceBroker } from "moleculer";

export interface EndpointView {
  nodeID: string;
  available: boolean;
  /** "open": this broker stopped sending to it after too many infrastructure faults. */
  circuit: "closed" | "open";
  calls: number | null;
  errors: number | null;
  meanMs: number | null;
}

export interface ClusterView {
  balancer: string;
  nodes: {
    id: string;
    local: boolean;
    available: boolean;
    hostname: string | null;
    cpu: number | null;
    lastHeartbeat: string | null;
    services: string[];
  }[];
  actions: { name: string; endpoints: EndpointView[] }[];
}

interface MetricSnapshot {
  name: string;
  values: { labels: Record<string, unknown>; value?: number; count?: number; sum?: number }[];
}

/** Per action, what one node served: its local calls, errors and time. */
type Served = Map<string, { calls: number; errors: number; count: number; sum: number }>;

const REQUEST_METRICS = ["moleculer.request.total", "moleculer.request.error.total", "moleculer.request.time"];

/** Sums one node's request metrics of local calls (the calls it served) per action. */
export function servedPerAction(metrics: MetricSnapshot[]): Served {
  const served: Served = new Map();
  for (const metric of metrics) {
    for (const value of metric.values) {
      if (value.labels.type !== "local") continue;
      const action = String(value.labels.action);
      const entry = served.get(action) ?? { calls: 0, errors: 0, count: 0, sum: 0 };
      if (metric.name === "moleculer.request.total") entry.calls += value.value ?? 0;
      else if (metric.name === "moleculer.request.error.total") entry.errors += value.value ?? 0;
      else if (metric.name === "moleculer.request.time") {
        entry.count += value.count ?? 0;
        entry.sum += value.sum ?? 0;
      }
      served.set(action, entry);
    }
  }
  return served;
}

/** The balancing in effect: without a transporter every call stays in this process. */
export function balancerInEffect(transporter: string | undefined, balancer: string): string {
  return transporter === undefined ? "in-process (no transporter)" : balancer;
}

export async function clusterView(broker: ServiceBroker, balancer: string): Promise<ClusterView> {
  const nodes = broker.registry.getNodeList({ onlyAvailable: false, withServices: true }) as any[];
  const servedByNode = new Map<string, Served>();
  await Promise.all(
    nodes
      .filter((node) => node.available)
      .map(async (node) => {
        try {
          const metrics: MetricSnapshot[] = await broker.call("$node.metrics", { includes: REQUEST_METRICS }, { nodeID: node.id, timeout: 2_000, retries: 0 });
          servedByNode.set(node.id, servedPerAction(metrics));
        } catch {
          // A node that does not answer shows without figures.
        }
      }),
  );

  const actions = (broker.registry.getActionList({ skipInternal: true, withEndpoints: true }) as any[])
    .map((action) => ({
      name: action.name as string,
      endpoints: ((action.endpoints ?? []) as { nodeID: string; state: boolean; available: boolean }[]).map((ep): EndpointView => {
        const served = servedByNode.get(ep.nodeID)?.get(action.name);
        return {
          nodeID: ep.nodeID,
          available: ep.available,
          circuit: ep.state === false ? "open" : "closed",
          calls: served ? served.calls : null,
          errors: served ? served.errors : null,
          meanMs: served && served.count > 0 ? Math.round((served.sum / served.count) * 100) / 100 : null,
        };
      }),
    }))
    .sort((a, b) => a.name.localeCompare(b.name));

  return {
    balancer,
    nodes: nodes
      .map((node) => ({
        id: node.id as string,
        local: !!node.local,
        available: !!node.available,
        hostname: node.hostname ?? null,
        cpu: typeof node.cpu === "number" ? node.cpu : null,
        lastHeartbeat: !node.local && node.lastHeartbeatTime ? new Date(node.lastHeartbeatTime).toISOString() : null,
        services: ((node.services ?? []) as { name: string }[]).map((s) => s.name).filter((name) => !name.startsWith("$")).sort(),
      }))
      .sort((a, b) => a.id.localeCompare(b.id)),
    actions,
  };
}
