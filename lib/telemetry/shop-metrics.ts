/**
 * The shop's own metrics (business and integration), on Moleculer's registry so that /metrics and
 * METRICS_PORT serve them with the rest. Each update goes to a series looked up once per label
 * values (as lib/prometheus.ts does for requests), not hashed on every call. Names are Moleculer's
 * dotted form; the exposition turns them into Prometheus names (`shop.orders.created` →
 * `shop_orders_created_total`: counters get `_total`).
 *
 * Every metric is registered once per broker whoever asks first: several services of one node
 * share it (registering again would replace the metric and lose its series).
 */
import type { ServiceBroker } from "moleculer";
import type { LeanHistogram } from "../prometheus";

interface MetricDef {
  name: string;
  description: string;
  labelNames?: string[];
  unit?: string;
}

type Labels = Record<string, string | number>;

function ensure(broker: ServiceBroker, type: string, def: MetricDef & { buckets?: number[] }): any {
  const metrics = broker.metrics as any;
  if (!metrics?.isEnabled?.()) return null;
  return metrics.getMetric(def.name) ?? metrics.register({ type, ...def });
}

/** A series cache keyed by label values in label-name order. */
function seriesCache<S>(labelNames: string[], create: (labels: Labels) => S): (labels?: Labels) => S {
  const cache = new Map<string, S>();
  return (labels = {}) => {
    const key = labelNames.map((n) => labels[n]).join("\u0000");
    let series = cache.get(key);
    if (series === undefined) {
      series = create(labels);
      cache.set(key, series);
    }
    return series;
  };
}

/** A counter: `add(labels, by = 1)`. A no-op when metrics are off. */
export function counter(broker: ServiceBroker, def: MetricDef): (labels?: Labels, by?: number) => void {
  const metric = ensure(broker, "counter", def);
  if (!metric) return () => undefined;
  const series = seriesCache(def.labelNames ?? [], (labels) => metric.increment(labels, 0));
  return (labels, by = 1) => {
    series(labels).value += by;
    metric.setDirty();
  };
}

/** A gauge: `set(labels, value)`. Not for hot paths (it hashes the labels). */
export function gauge(broker: ServiceBroker, def: MetricDef): (labels: Labels, value: number) => void {
  const metric = ensure(broker, "gauge", def);
  if (!metric) return () => undefined;
  return (labels, value) => void metric.set(value, labels);
}

/** A histogram (LeanHistogram: buckets, sum and count): `observe(labels, value)`. */
export function histogram(broker: ServiceBroker, def: MetricDef & { buckets: number[] }): (labels: Labels, value: number) => void {
  const metric = ensure(broker, "histogram", def) as LeanHistogram | null;
  if (!metric) return () => undefined;
  const series = seriesCache(def.labelNames ?? [], (labels) => metric.series(labels));
  return (labels, value) => metric.record(series(labels), value);
}

/** Seconds, for delays between services: from a few milliseconds to minutes (a consumer that was down). */
export const DELAY_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300];
