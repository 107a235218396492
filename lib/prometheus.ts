/**
 * Moleculer's Prometheus reporter always opens a port of its own. The gateway serves /metrics
 * itself, so this variant listens only when a port is given (for nodes without a gateway).
 */
import http from "node:http";
import { MetricReporters, type ServiceBroker } from "moleculer";

const PrometheusBase = MetricReporters.Prometheus as any;

export class ShopPrometheusReporter extends PrometheusBase {
  constructor(opts: { port: number | null }) {
    super(opts);
  }

  init(registry: any): void {
    if (this.opts.port !== undefined && this.opts.port !== null) {
      super.init(registry);
      return;
    }
    // BaseReporter.init without the HTTP server.
    MetricReporters.Base.prototype.init.call(this, registry);
    this.defaultLabels =
      typeof this.opts.defaultLabels === "function" ? this.opts.defaultLabels.call(this, registry) : this.opts.defaultLabels;
  }

  stop(): Promise<void> {
    const server: http.Server | undefined = this.server;
    return server ? new Promise((resolve) => server.close(() => resolve())) : Promise.resolve();
  }
}

/** The Prometheus text of this node's metrics, or undefined when metrics are off. */
export function prometheusText(broker: ServiceBroker): string | undefined {
  const reporters: any[] = (broker as any).metrics?.reporter ?? [];
  const reporter = reporters.find((r) => r instanceof ShopPrometheusReporter);
  return reporter?.generatePrometheusResponse();
}
