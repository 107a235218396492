/**
 * Tracing is configured by OpenTelemetry's standard variables and is off unless an OTLP endpoint
 * is given (or OTEL_TRACES_EXPORTER=otlp asks for the default one). Pure: reads the environment
 * it is given. The OTLP exporters read their own variables too (OTEL_EXPORTER_OTLP_HEADERS,
 * _TIMEOUT, _COMPRESSION, certificates...); what is read here decides whether tracing is on and
 * how spans are sampled, batched and named.
 */
export type Env = Record<string, string | undefined>;

export class OtelConfigError extends Error {}

export type SamplerName =
  | "always_on"
  | "always_off"
  | "traceidratio"
  | "parentbased_always_on"
  | "parentbased_always_off"
  | "parentbased_traceidratio";

const SAMPLERS: readonly SamplerName[] = ["always_on", "always_off", "traceidratio", "parentbased_always_on", "parentbased_always_off", "parentbased_traceidratio"];

export interface TracingConfig {
  protocol: "http/protobuf" | "http/json";
  /** Where spans go (for the log line at start); undefined: the exporter's default, http://localhost:4318/v1/traces. */
  endpoint?: string;
  /** OTEL_SERVICE_NAME: every span's service.name; absent, each Moleculer service names its own spans. */
  serviceName?: string;
  sampler: {
    /** Whether a sampled (or not) parent decides: the traceparent a client or a message brings. */
    parentBased: boolean;
    /** The share of new traces kept (1: all, 0: none). */
    ratio: number;
  };
  batch: { scheduledDelayMillis: number; maxQueueSize: number; maxExportBatchSize: number; exportTimeoutMillis: number };
}

const value = (env: Env, name: string) => {
  const v = env[name];
  return v === undefined || v.trim() === "" ? undefined : v.trim();
};

function positiveInt(env: Env, name: string, fallback: number): number {
  const raw = value(env, name);
  if (raw === undefined) return fallback;
  if (!/^\d+$/.test(raw) || Number(raw) < 1) throw new OtelConfigError(`${name} must be a whole number above 0, got "${raw}"`);
  return Number(raw);
}

/** The tracing configuration, or undefined when tracing is off. */
export function tracingConfig(env: Env): TracingConfig | undefined {
  if (value(env, "OTEL_SDK_DISABLED")?.toLowerCase() === "true") return undefined;
  const exporters = (value(env, "OTEL_TRACES_EXPORTER") ?? "").toLowerCase().split(",").map((s) => s.trim()).filter(Boolean);
  if (exporters.includes("none")) return undefined;
  const unsupported = exporters.filter((e) => e !== "otlp");
  if (unsupported.length) throw new OtelConfigError(`OTEL_TRACES_EXPORTER must be otlp or none, got "${unsupported.join(",")}"`);
  const endpoint = value(env, "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") ?? value(env, "OTEL_EXPORTER_OTLP_ENDPOINT");
  if (endpoint === undefined && !exporters.includes("otlp")) return undefined;
  if (endpoint !== undefined && !/^https?:\/\/[^\s]+$/.test(endpoint)) {
    throw new OtelConfigError(`OTEL_EXPORTER_OTLP_ENDPOINT must be an http:// or https:// URL, got "${endpoint}"`);
  }

  const protocol = value(env, "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL") ?? value(env, "OTEL_EXPORTER_OTLP_PROTOCOL") ?? "http/protobuf";
  if (protocol !== "http/protobuf" && protocol !== "http/json") {
    throw new OtelConfigError(`OTEL_EXPORTER_OTLP_PROTOCOL must be http/protobuf or http/json (gRPC is not supported: use the collector's HTTP port, 4318), got "${protocol}"`);
  }

  const samplerName = (value(env, "OTEL_TRACES_SAMPLER") ?? "parentbased_always_on").toLowerCase() as SamplerName;
  if (!SAMPLERS.includes(samplerName)) throw new OtelConfigError(`OTEL_TRACES_SAMPLER must be one of ${SAMPLERS.join(", ")}, got "${samplerName}"`);
  let ratio = samplerName.endsWith("always_off") ? 0 : 1;
  if (samplerName.endsWith("traceidratio")) {
    const arg = value(env, "OTEL_TRACES_SAMPLER_ARG") ?? "1";
    ratio = Number(arg);
    if (!/^\d*\.?\d+$/.test(arg) || ratio > 1) throw new OtelConfigError(`OTEL_TRACES_SAMPLER_ARG must be a number from 0 to 1, got "${arg}"`);
  }

  const batch = {
    scheduledDelayMillis: positiveInt(env, "OTEL_BSP_SCHEDULE_DELAY", 5000),
    maxQueueSize: positiveInt(env, "OTEL_BSP_MAX_QUEUE_SIZE", 2048),
    maxExportBatchSize: positiveInt(env, "OTEL_BSP_MAX_EXPORT_BATCH_SIZE", 512),
    exportTimeoutMillis: positiveInt(env, "OTEL_BSP_EXPORT_TIMEOUT", 30_000),
  };
  if (batch.maxExportBatchSize > batch.maxQueueSize) throw new OtelConfigError("OTEL_BSP_MAX_EXPORT_BATCH_SIZE must not exceed OTEL_BSP_MAX_QUEUE_SIZE");

  return {
    protocol,
    endpoint,
    serviceName: value(env, "OTEL_SERVICE_NAME"),
    sampler: { parentBased: samplerName.startsWith("parentbased_"), ratio },
    batch,
  };
}
