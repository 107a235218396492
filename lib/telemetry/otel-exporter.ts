/**
 * A Moleculer tracing exporter that hands every finished span to the OpenTelemetry SDK, which
 * batches them and sends them over OTLP/HTTP (protobuf or JSON) with its own exporters. Nothing
 * of OTLP is written here: each Moleculer span becomes an OpenTelemetry span with the same trace
 * id, span id, parent, times, attributes and status, through the SDK's public API (the ids through
 * an IdGenerator that hands out the ones the span already has).
 *
 * The OpenTelemetry packages are loaded in init(), that is only when tracing is on: a node with
 * tracing off does not even read them.
 *
 * Spans are grouped by Moleculer service: each service's spans carry `service.name` = the service
 * (orders, payments...), so a trace viewer shows which context did what even when all of them
 * run in one process; OTEL_SERVICE_NAME, when set, names all of them (the standard meaning).
 */
import { TracerExporters, type Span } from "moleculer";
import type * as OtelApi from "@opentelemetry/api";
import type { BatchSpanProcessor } from "@opentelemetry/sdk-trace";
import type { TracingConfig } from "./otel-config";
import { spanIdOf, traceIdOf } from "./trace-ids";

const BaseExporter = TracerExporters.Base as unknown as new (opts?: object) => {
  init(tracer: any): void;
  logger: any;
  broker: any;
};

/** How often at most the exporter's own troubles (a collector that is down) reach the log. */
const DIAG_LOG_INTERVAL_MS = 60_000;

interface ResourceBase {
  namespace: string;
  nodeId: string;
}

export class OtelTraceExporter extends BaseExporter {
  private api!: typeof OtelApi;
  private processor!: BatchSpanProcessor;
  private readonly tracers = new Map<string, OtelApi.Tracer>();
  private createTracer!: (service: string) => OtelApi.Tracer;
  /** What the IdGenerator hands out next: the ids of the span being converted. */
  private readonly next = { traceId: "", spanId: "" };

  constructor(
    private readonly settings: TracingConfig,
    private readonly base: ResourceBase,
  ) {
    super({});
  }

  override init(tracer: any): void {
    super.init(tracer);
    /* eslint-disable @typescript-eslint/no-require-imports */
    const api: typeof OtelApi = require("@opentelemetry/api");
    const sdk: typeof import("@opentelemetry/sdk-trace") = require("@opentelemetry/sdk-trace");
    const resources: typeof import("@opentelemetry/resources") = require("@opentelemetry/resources");
    const semconv: typeof import("@opentelemetry/semantic-conventions") = require("@opentelemetry/semantic-conventions");
    const { OTLPTraceExporter } =
      this.settings.protocol === "http/json"
        ? (require("@opentelemetry/exporter-trace-otlp-http") as typeof import("@opentelemetry/exporter-trace-otlp-http"))
        : (require("@opentelemetry/exporter-trace-otlp-proto") as typeof import("@opentelemetry/exporter-trace-otlp-proto"));
    /* eslint-enable @typescript-eslint/no-require-imports */
    this.api = api;
    this.installDiagLogger();

    // URL, headers, timeout, compression and certificates come from the OTEL_EXPORTER_OTLP_* variables.
    const exporter = new OTLPTraceExporter({});
    this.processor = new sdk.BatchSpanProcessor({ exporter, ...this.settings.batch });
    const idGenerator = { generateTraceId: () => this.next.traceId, generateSpanId: () => this.next.spanId };
    const fromEnv = resources.detectResources({ detectors: [resources.envDetector] });
    this.createTracer = (service) => {
      const resource = resources
        .defaultResource()
        .merge(
          resources.resourceFromAttributes({
            [semconv.ATTR_SERVICE_NAME]: service,
            "service.namespace": this.base.namespace,
            "service.instance.id": this.base.nodeId,
          }),
        )
        .merge(fromEnv);
      // One processor for all: every span goes out in the same batches, grouped by resource.
      const provider = new sdk.TracerProvider({ resource, idGenerator, sampler: new sdk.AlwaysOnSampler(), spanProcessors: [this.processor] });
      return provider.getTracer("moleculer-shop");
    };
    this.logger.info(`Tracing to ${this.settings.endpoint ?? "http://localhost:4318"} over OTLP ${this.settings.protocol}`);
  }

  private installDiagLogger(): void {
    let lastAt = 0;
    const warn = (message: string, ...args: unknown[]) => {
      if (Date.now() - lastAt < DIAG_LOG_INTERVAL_MS) return;
      lastAt = Date.now();
      this.logger.warn(`OpenTelemetry: ${message}`, ...args.map((a) => (a instanceof Error ? a.message : a)));
    };
    const quiet = () => undefined;
    this.api.diag.setLogger({ error: warn, warn, info: quiet, debug: quiet, verbose: quiet }, { logLevel: this.api.DiagLogLevel.WARN, suppressOverrideMessage: true });
  }

  private tracerFor(service: string): OtelApi.Tracer {
    let tracer = this.tracers.get(service);
    if (!tracer) {
      tracer = this.createTracer(service);
      this.tracers.set(service, tracer);
    }
    return tracer;
  }

  spanFinished(span: Span & { opts: any; logs: any[]; startTime: number; finishTime: number }): void {
    const api = this.api;
    const ctx = span.opts.ctx;
    const traceId: string = ctx?.meta?.traceId ?? traceIdOf(String(span.traceID));
    const service = span.service?.name ?? "shop";
    const parent = span.parentID
      ? api.trace.setSpanContext(api.ROOT_CONTEXT, { traceId, spanId: spanIdOf(String(span.parentID)), traceFlags: api.TraceFlags.SAMPLED, isRemote: true })
      : api.ROOT_CONTEXT;
    const { name, kind, attributes } = this.describe(span);

    this.next.traceId = traceId;
    this.next.spanId = spanIdOf(String(span.id));
    const otel = this.tracerFor(service).startSpan(name, { kind, startTime: span.startTime, attributes }, parent);
    for (const log of span.logs) otel.addEvent(log.name, flat(log.fields), log.time);
    const error = span.error as any;
    if (error) {
      const code = typeof error.code === "number" ? error.code : undefined;
      otel.setAttribute("error.type", String(error.type ?? error.name ?? "Error"));
      otel.addEvent("exception", { "exception.type": String(error.name ?? "Error"), "exception.message": String(error.message ?? error) });
      // A client's mistake (a 4xx) is an answer, not a failure of the service.
      if (code === undefined || code >= 500) otel.setStatus({ code: api.SpanStatusCode.ERROR, message: String(error.message ?? error) });
    }
    otel.end(span.finishTime);
  }

  /** Name, kind and attributes of an action's, an event's or one of the shop's own spans. */
  private describe(span: Span & { opts: any }): { name: string; kind: OtelApi.SpanKind; attributes: OtelApi.Attributes } {
    const { SpanKind } = this.api;
    const tags = span.tags as Record<string, any>;
    if (span.type === "action" || span.type === "event") {
      const attributes: OtelApi.Attributes = {
        "rpc.system": "moleculer",
        "moleculer.node_id": tags.nodeID,
        "moleculer.caller_node_id": tags.callerNodeID,
        "moleculer.remote_call": !!tags.remoteCall,
        "moleculer.calling_level": tags.callingLevel,
        "shop.request_id": tags.requestID,
      };
      if (span.type === "action") {
        attributes["rpc.method"] = tags.action?.name;
        attributes["moleculer.from_cache"] = !!tags.fromCache;
        return { name: String(tags.action?.name ?? span.name), kind: tags.remoteCall ? SpanKind.SERVER : SpanKind.INTERNAL, attributes };
      }
      attributes["moleculer.event"] = tags.eventName;
      attributes["moleculer.event_type"] = tags.eventType;
      return { name: `event ${tags.eventName}`, kind: SpanKind.CONSUMER, attributes };
    }
    const { "span.kind": kindName, ...rest } = tags;
    const kinds: Record<string, OtelApi.SpanKind> = { server: SpanKind.SERVER, client: SpanKind.CLIENT, producer: SpanKind.PRODUCER, consumer: SpanKind.CONSUMER };
    return { name: span.name, kind: kinds[kindName] ?? SpanKind.INTERNAL, attributes: flat(rest) };
  }

  async stop(): Promise<void> {
    if (!this.processor) return;
    await this.processor.forceFlush().catch(() => undefined);
    await this.processor.shutdown().catch(() => undefined);
  }
}

/** Attribute values OpenTelemetry takes: strings, numbers and booleans (undefined dropped). */
function flat(fields: Record<string, unknown> | undefined): OtelApi.Attributes {
  const out: OtelApi.Attributes = {};
  for (const [key, value] of Object.entries(fields ?? {})) {
    if (typeof value === "string" || typeof value === "number" || typeof value === "boolean") out[key] = value;
    else if (value !== undefined && value !== null) out[key] = JSON.stringify(value);
  }
  return out;
}
