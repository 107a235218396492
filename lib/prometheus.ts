/**
 * The node's metrics, in Prometheus text, at a cost the request path can carry.
 *
 * Moleculer records every action call in five metrics through its generic registry API, which
 * hashes the label set twice per update and allocates on every call (about 1 µs per update, a dozen
 * updates per gateway request). On top of that its histograms keep every sample of the last minute
 * for quantiles (an array push per call, about a million numbers at 10k req/s, sorted on every
 * scrape) and counters keep a one-minute rate on a timer. Prometheus computes both itself, from
 * buckets (histogram_quantile) and from counters (rate), so here:
 * - histograms are LeanHistogram: the same buckets, sum and count, no quantile window, no rate;
 * - no metric Moleculer registers keeps a rate;
 * - RequestMetricsMiddleware takes the place of Moleculer's Metrics middleware: the same
 *   moleculer_request_{total,active,error_total,time} series, each looked up once per action and
 *   caller and then updated in place (they are Moleculer's own series objects, which its snapshots
 *   and reporters read) instead of hashed on every call. It leaves out moleculer_request_levels
 *   (calls by nesting depth: nothing reads it, and it was one more update per call);
 * - the /metrics text is standard: histograms as _bucket, _sum and _count.
 * test/unit/broker-middlewares.test.ts checks all of it through the text /metrics serves.
 *
 * The exposition also follows Prometheus' naming conventions (`promtool check metrics` is clean):
 * counters end in _total and nothing else does, labels are snake_case, sizes are _bytes and
 * durations _seconds (Moleculer's millisecond histograms are served in seconds: `le`, `_sum`), and
 * a metric with no series yet still shows its HELP and TYPE (an alert or dashboard can name it
 * before the first circuit opens). What describes the host rather than the shop is not served:
 * host name, OS user, process arguments and ids, network interfaces, CPU model, OS release.
 */
import http from "node:http";
import * as Moleculer from "moleculer";
import { METRIC, MetricReporters, MetricTypes, type Middleware, type ServiceBroker } from "moleculer";

/** Moleculer's built-in middlewares by name (exported, but not in its type declarations). */
const BuiltinMiddlewares = (Moleculer as any).Middlewares;

const HistogramBase = MetricTypes.Histogram as any;

/** A histogram series as Moleculer keeps it, with one plain counter per bucket added. */
interface HistogramSeries {
  labels: Record<string, unknown>;
  timestamp: number;
  sum: number;
  count: number;
  lastValue: number | null;
  /** Cumulative per bucket bound, as Moleculer's snapshots and reporters read them (filled in at snapshot time). */
  bucketValues?: Record<number, number>;
  /** Observations per bucket, not cumulative: what record() counts. */
  perBucket?: Float64Array;
}

/**
 * Moleculer's histogram without quantiles or rate, whatever it is registered with. An observation
 * adds to one plain counter (Moleculer adds to every bucket above it, in an object keyed by bound,
 * which V8 keeps as a dictionary); the cumulative bucket values are computed when a snapshot is
 * taken, so reporters see the same snapshot as before.
 */
export class LeanHistogram extends HistogramBase {
  declare buckets?: number[];
  declare values: Map<string, HistogramSeries>;

  constructor(opts: Record<string, unknown>, registry: unknown) {
    super({ ...opts, quantiles: false, rate: false }, registry);
  }

  resetItem(item: HistogramSeries, timestamp?: number | null): HistogramSeries {
    super.resetItem(item, timestamp);
    if (this.buckets) item.perBucket = new Float64Array(this.buckets.length);
    return item;
  }

  /** The series of `labels`, created on first use: record() into it without hashing labels again. */
  series(labels?: Record<string, unknown> | null): HistogramSeries {
    const hash: string = this.hashingLabels(labels);
    let item = this.values.get(hash);
    if (!item) {
      const picked: Record<string, unknown> = {};
      for (const name of this.labelNames as string[]) if (labels && name in labels) picked[name] = labels[name];
      item = this.resetItem({ labels: picked } as HistogramSeries, null);
      this.values.set(hash, item);
    }
    return item;
  }

  record(item: HistogramSeries, value: number): void {
    item.sum += value;
    item.count++;
    item.lastValue = value;
    const bounds = this.buckets;
    if (bounds && item.perBucket) {
      for (let i = 0; i < bounds.length; i++) {
        if (value <= bounds[i]) {
          item.perBucket[i]++;
          break;
        }
      }
    }
    this.setDirty();
  }

  observe(value: number, labels?: Record<string, unknown> | null, timestamp?: number | null): HistogramSeries {
    const item = this.series(labels);
    item.timestamp = timestamp ?? Date.now();
    this.record(item, value);
    this.changed(value, labels, timestamp);
    return item;
  }

  generateItemSnapshot(item: HistogramSeries, key: string): unknown {
    const bounds = this.buckets;
    if (bounds && item.perBucket && item.bucketValues) {
      let cumulative = 0;
      for (let i = 0; i < bounds.length; i++) item.bucketValues[bounds[i]] = cumulative += item.perBucket[i];
    }
    return super.generateItemSnapshot(item, key);
  }
}

/**
 * Every histogram registered from now on, in this process, is a LeanHistogram (Moleculer resolves
 * metric types by name when a metric is registered: its own, its cacher's, the shop's). Called
 * before the broker is created. Moleculer's own Prometheus reporter writes a histogram's _sum and
 * _count only next to quantiles: ShopPrometheusReporter writes them always.
 */
export function useLeanHistograms(): void {
  (MetricTypes as any).register("Histogram", LeanHistogram);
}

/** A counter or gauge series as Moleculer keeps it. */
interface ValueSeries {
  value: number;
}

/**
 * Adds one to the series of `counter` (a metric from registry.register) for `labels`, the series
 * looked up once rather than on every call; a no-op when metrics are off (register gave null).
 */
export function counterIncrement(counter: unknown, labels?: Record<string, unknown>): () => void {
  const metric = counter as { increment(labels: unknown, value: number): ValueSeries; setDirty(): void } | null;
  if (!metric) return () => undefined;
  const series = metric.increment(labels, 0);
  return () => {
    series.value++;
    metric.setDirty();
  };
}

/** The request metrics of one action called by one caller, looked up once. */
interface RequestSeries {
  labels: { service: string | null; action: string; caller: string | null; type: string };
  total: ValueSeries;
  active: ValueSeries;
  time: HistogramSeries;
}

/**
 * Moleculer's Metrics middleware with the action hooks replaced (events, emits, transit and
 * transporter stay Moleculer's: they are not on the request path). Same metrics, labels and values
 * as Moleculer's for every action call; errors are counted through the registry as before.
 */
export function RequestMetricsMiddleware(broker: ServiceBroker): Middleware {
  const builtin = BuiltinMiddlewares.Metrics(broker);
  if (!broker.isMetricsEnabled()) return builtin;
  const metrics = broker.metrics as any;

  function instrument(type: "local" | "remote", action: any, next: (ctx: any) => Promise<unknown>) {
    const total = metrics.getMetric(METRIC.MOLECULER_REQUEST_TOTAL);
    const active = metrics.getMetric(METRIC.MOLECULER_REQUEST_ACTIVE);
    const time = metrics.getMetric(METRIC.MOLECULER_REQUEST_TIME) as LeanHistogram;
    const service: string | null = action.service ? action.service.fullName : null;
    const bySeries = new Map<string | null, RequestSeries>();

    // A caller is a service name: a handful per action.
    const seriesOf = (caller: string | null): RequestSeries => {
      let series = bySeries.get(caller);
      if (!series) {
        const labels = { service, action: action.name as string, caller, type };
        series = { labels, total: total.increment(labels, 0), active: active.increment(labels, 0), time: time.series(labels) };
        bySeries.set(caller, series);
      }
      return series;
    };
    const done = (series: RequestSeries, start: number) => {
      time.record(series.time, performance.now() - start);
      series.active.value--;
      active.setDirty();
    };

    return function requestMetrics(ctx: any) {
      const series = seriesOf(ctx.caller ?? null);
      series.total.value++;
      total.setDirty();
      series.active.value++;
      active.setDirty();
      const start = performance.now();
      return next(ctx).then(
        (res) => {
          done(series, start);
          return res;
        },
        (err) => {
          done(series, start);
          metrics.increment(METRIC.MOLECULER_REQUEST_ERROR_TOTAL, {
            ...series.labels,
            errorName: err ? err.name : null,
            errorCode: err ? err.code : null,
            errorType: err ? err.type : null,
          });
          throw err;
        },
      );
    };
  }

  return {
    ...builtin,
    created(this: ServiceBroker, ...args: unknown[]) {
      builtin.created.apply(this, args);
      // Everything Moleculer registered by now (its own, cacher, transit, bulkhead...): no rates.
      for (const metric of metrics.store.values()) metric.rate = undefined;
    },
    localAction: (next: any, action: any) => instrument("local", action, next),
    remoteAction: (next: any, action: any) => instrument("remote", action, next),
  } as Middleware;
}

const PrometheusBase = MetricReporters.Prometheus as any;

/** HELP text escapes backslash and newline; label values also escape the double quote. */
const escapeHelp = (text: string) => text.replace(/\\/g, "\\\\").replace(/\n/g, "\\n");

/**
 * Moleculer's metrics that are not served: who runs the process and on what (an anonymous caller
 * of /metrics learnt the host name, the OS user and the command line), and per-call clock values.
 */
const PRIVATE_METRICS = /^(process\.(arguments|pid|ppid)|os\.(hostname|type|release|arch|platform|uptime|user\..*|network\..*|cpu\.info\..*|datetime\..*))$/;
/** Names the general rules below would make unclear. */
const RENAMED: Record<string, string> = { "os.cpu.total": "os_cpus" };

/** camelCase label names (nodeID, errorName) in Prometheus' snake_case (node_id, error_name). */
const snakeCase = (name: string) => name.replace(/([a-z0-9])([A-Z])/g, "$1_$2").toLowerCase();

/**
 * The exposed name of a metric, and the factor its values are multiplied by: counters end in
 * _total and nothing else does; bytes are _bytes, seconds _seconds; millisecond histograms are
 * served in seconds.
 */
export function prometheusNameOf(metric: { name: string; type: string; unit?: string }): { name: string; scale: number } {
  let name = RENAMED[metric.name] ?? metric.name.replace(/[.-]/g, "_");
  let scale = 1;
  const counter = metric.type === METRIC.TYPE_COUNTER;
  if (!counter && name.endsWith("_total") && metric.unit !== "byte") name = name.slice(0, -"_total".length);
  if (metric.unit === "byte" && !/_bytes(_total)?$/.test(name)) name = name.replace(/_total$/, "") + (name.endsWith("_total") ? "_total_bytes" : "_bytes");
  if ((metric.unit === "second" || metric.unit === "seconds") && !name.endsWith("_seconds")) name += "_seconds";
  if (metric.type === METRIC.TYPE_HISTOGRAM && (metric.unit === "millisecond" || metric.unit === "msec")) {
    name += "_seconds";
    scale = 1 / 1000;
  }
  if (counter && !name.endsWith("_total")) name += "_total";
  return { name, scale };
}
const escapeLabel = (value: unknown) => String(value).replace(/\\/g, "\\\\").replace(/\n/g, "\\n").replace(/"/g, '\\"');
const sample = (value: unknown) => (value === null || value === undefined ? "NaN" : String(value));

/**
 * Moleculer's Prometheus reporter always opens a port of its own. The gateway serves /metrics
 * itself, so this variant listens only when a port is given (for nodes without a gateway). Its text
 * is Prometheus' exposition format: Moleculer's would drop _sum and _count from histograms without
 * quantiles, and leaves newlines in label values unescaped.
 */
export class ShopPrometheusReporter extends PrometheusBase {
  constructor(opts: { port: number | null }) {
    // The namespace only: a node id (by default the host name and pid) says nothing Prometheus' own
    // instance label does not, and would name the host to anyone who reads /metrics.
    super({ ...opts, defaultLabels: (registry: any) => ({ namespace: registry.broker.namespace }) });
  }

  formatLabelName(name: string): string {
    return snakeCase(name);
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

  labelsToStr(labels: Record<string, unknown> | null, extra?: Record<string, unknown>): string {
    const all = { ...this.defaultLabels, ...labels, ...extra };
    const keys = Object.keys(all);
    return keys.length ? `{${keys.map((key) => `${this.formatLabelName(key)}="${escapeLabel(all[key])}"`).join(",")}}` : "";
  }

  generatePrometheusResponse(): string {
    const lines: string[] = [];
    for (const metric of this.registry.store.values()) {
      // Moleculer's own filter, and nothing that describes the host or changes on every call.
      if (!this.matchMetricName(metric.name) || PRIVATE_METRICS.test(metric.name)) continue;
      const snapshot: any[] = metric.snapshot();
      const { name, scale } = prometheusNameOf(metric);
      const help = metric.description || metric.name + (metric.unit ? ` (${metric.unit})` : "");
      const type = metric.type === METRIC.TYPE_INFO ? "gauge" : metric.type;
      lines.push(`# HELP ${name} ${escapeHelp(help)}`, `# TYPE ${name} ${type}`);
      for (const item of snapshot) {
        if (metric.type === METRIC.TYPE_INFO) {
          lines.push(`${name}${this.labelsToStr(item.labels, { value: item.value })} 1`);
        } else if (metric.type === METRIC.TYPE_HISTOGRAM) {
          for (const le of Object.keys(item.buckets ?? {}).sort((a, b) => Number(a) - Number(b))) lines.push(`${name}_bucket${this.labelsToStr(item.labels, { le: scale === 1 ? le : String(Number((Number(le) * scale).toPrecision(12))) })} ${sample(item.buckets[le])}`);
          lines.push(`${name}_bucket${this.labelsToStr(item.labels, { le: "+Inf" })} ${sample(item.count)}`);
          lines.push(`${name}_sum${this.labelsToStr(item.labels)} ${sample(item.sum === null || item.sum === undefined ? item.sum : item.sum * scale)}`, `${name}_count${this.labelsToStr(item.labels)} ${sample(item.count)}`);
        } else {
          lines.push(`${name}${this.labelsToStr(item.labels)} ${sample(item.value)}`);
        }
      }
    }
    return lines.join("\n") + "\n";
  }
}

/** The Prometheus text of this node's metrics, or undefined when metrics are off. */
export function prometheusText(broker: ServiceBroker): string | undefined {
  const reporters: any[] = (broker as any).metrics?.reporter ?? [];
  const reporter = reporters.find((r) => r instanceof ShopPrometheusReporter);
  return reporter?.generatePrometheusResponse();
}
