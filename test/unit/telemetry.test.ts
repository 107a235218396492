/**
 * The pure parts of observability: OpenTelemetry ids from Moleculer's, W3C traceparent, the OTEL_*
 * configuration, the sampler's decision, SQL span names, access-log paths.
 */
import { formatTraceparent, parseTraceparent, spanIdOf, traceIdOf, traceIdRatioSampled } from "../../lib/telemetry/trace-ids";
import { tracingConfig } from "../../lib/telemetry/otel-config";
import { summarizeSql } from "../../lib/telemetry/sql-spans";
import { pathOf } from "../../lib/http/access-log";
import { ConfigError, loadConfig } from "../../lib/config";

describe("ids", () => {
  it("maps Moleculer's ids to valid OpenTelemetry ids, the same way every time", () => {
    const uuid = "8c07f2da-3657-4ff0-b85b-87e491d94039";
    expect(traceIdOf(uuid)).toBe("8c07f2da36574ff0b85b87e491d94039");
    expect(spanIdOf(uuid)).toBe("b85b87e491d94039");
    expect(traceIdOf("4bf92f3577b34da6a3ce929d0e0e4736")).toBe("4bf92f3577b34da6a3ce929d0e0e4736");
    expect(spanIdOf("00f067aa0ba902b7")).toBe("00f067aa0ba902b7");
    // A client's X-Request-ID of any form gives a valid, stable id.
    for (const id of ["req-1", "A:B.C", "x".repeat(128)]) {
      expect(traceIdOf(id)).toMatch(/^[0-9a-f]{32}$/);
      expect(traceIdOf(id)).toBe(traceIdOf(id));
      expect(spanIdOf(id)).toMatch(/^[0-9a-f]{16}$/);
    }
    // All-zero ids are invalid in W3C and OpenTelemetry: never produced.
    expect(spanIdOf("0".repeat(16))).not.toBe("0".repeat(16));
    expect(traceIdOf("00000000-0000-0000-0000-000000000000")).not.toBe("0".repeat(32));
  });

  it("reads and writes W3C traceparent, refusing what the specification refuses", () => {
    expect(parseTraceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")).toEqual({ traceId: "4bf92f3577b34da6a3ce929d0e0e4736", spanId: "00f067aa0ba902b7", sampled: true });
    expect(parseTraceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00")?.sampled).toBe(false);
    // A later version may append fields; version 00 may not.
    expect(parseTraceparent("01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra")?.traceId).toBe("4bf92f3577b34da6a3ce929d0e0e4736");
    for (const bad of [
      undefined,
      "",
      "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra",
      "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
      "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
      "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
      "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
      "00-4bf92f3577b34da6a3ce929d0e0e473-00f067aa0ba902b7-01",
      ["00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"],
    ]) {
      expect(parseTraceparent(bad)).toBeUndefined();
    }
    expect(formatTraceparent("4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7", false)).toBe("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00");
  });

  it("samples a share of traces by trace id: the same decision on every node", () => {
    const ids = Array.from({ length: 2000 }, (_, i) => traceIdOf(`request-${i}`));
    const kept = ids.filter((id) => traceIdRatioSampled(id, 0.25)).length;
    expect(kept).toBeGreaterThan(400);
    expect(kept).toBeLessThan(600);
    expect(ids.every((id) => traceIdRatioSampled(id, 1))).toBe(true);
    expect(ids.some((id) => traceIdRatioSampled(id, 0))).toBe(false);
  });
});

describe("OTEL_* configuration", () => {
  it("is off without an endpoint, when disabled, or with the exporter none", () => {
    expect(tracingConfig({})).toBeUndefined();
    expect(tracingConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: "http://c:4318", OTEL_SDK_DISABLED: "true" })).toBeUndefined();
    expect(tracingConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: "http://c:4318", OTEL_TRACES_EXPORTER: "none" })).toBeUndefined();
  });

  it("is on with an endpoint (either variable), or with OTEL_TRACES_EXPORTER=otlp alone; protobuf and parent-based always-on by default", () => {
    expect(tracingConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: "http://jaeger:4318" })).toMatchObject({
      protocol: "http/protobuf",
      endpoint: "http://jaeger:4318",
      sampler: { parentBased: true, ratio: 1 },
      batch: { scheduledDelayMillis: 5000, maxQueueSize: 2048, maxExportBatchSize: 512, exportTimeoutMillis: 30000 },
    });
    expect(tracingConfig({ OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: "https://c/v1/traces" })?.endpoint).toBe("https://c/v1/traces");
    expect(tracingConfig({ OTEL_TRACES_EXPORTER: "otlp" })).toMatchObject({ endpoint: undefined });
  });

  it("reads the protocol, service name, sampler and batch settings", () => {
    const on = { OTEL_EXPORTER_OTLP_ENDPOINT: "http://c:4318" };
    expect(tracingConfig({ ...on, OTEL_EXPORTER_OTLP_PROTOCOL: "http/json" })?.protocol).toBe("http/json");
    expect(tracingConfig({ ...on, OTEL_EXPORTER_OTLP_PROTOCOL: "http/json", OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: "http/protobuf" })?.protocol).toBe("http/protobuf");
    expect(tracingConfig({ ...on, OTEL_SERVICE_NAME: "shop" })?.serviceName).toBe("shop");
    expect(tracingConfig({ ...on, OTEL_TRACES_SAMPLER: "traceidratio", OTEL_TRACES_SAMPLER_ARG: "0.1" })?.sampler).toEqual({ parentBased: false, ratio: 0.1 });
    expect(tracingConfig({ ...on, OTEL_TRACES_SAMPLER: "parentbased_traceidratio", OTEL_TRACES_SAMPLER_ARG: "0.5" })?.sampler).toEqual({ parentBased: true, ratio: 0.5 });
    expect(tracingConfig({ ...on, OTEL_TRACES_SAMPLER: "always_off" })?.sampler).toEqual({ parentBased: false, ratio: 0 });
    expect(tracingConfig({ ...on, OTEL_BSP_SCHEDULE_DELAY: "100" })?.batch.scheduledDelayMillis).toBe(100);
  });

  it("stops the node on a malformed value, naming the variable", () => {
    const on = { OTEL_EXPORTER_OTLP_ENDPOINT: "http://c:4318" };
    expect(() => loadConfig({ ...on, OTEL_EXPORTER_OTLP_PROTOCOL: "grpc" })).toThrow(ConfigError);
    expect(() => loadConfig({ ...on, OTEL_EXPORTER_OTLP_PROTOCOL: "grpc" })).toThrow(/gRPC is not supported/);
    expect(() => loadConfig({ ...on, OTEL_TRACES_SAMPLER: "sometimes" })).toThrow(/OTEL_TRACES_SAMPLER must be one of/);
    expect(() => loadConfig({ ...on, OTEL_TRACES_SAMPLER: "traceidratio", OTEL_TRACES_SAMPLER_ARG: "2" })).toThrow(/OTEL_TRACES_SAMPLER_ARG/);
    expect(() => loadConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: "jaeger:4318" })).toThrow(/OTEL_EXPORTER_OTLP_ENDPOINT must be an http/);
    expect(() => loadConfig({ ...on, OTEL_TRACES_EXPORTER: "zipkin" })).toThrow(/OTEL_TRACES_EXPORTER/);
    expect(() => loadConfig({ ...on, OTEL_BSP_SCHEDULE_DELAY: "soon" })).toThrow(/OTEL_BSP_SCHEDULE_DELAY/);
  });

  it("has the access log off, /metrics public and tracing off by default", () => {
    expect(loadConfig({})).toMatchObject({ accessLog: false, metricsPublic: true, tracing: undefined });
    expect(loadConfig({ ACCESS_LOG: "true", METRICS_PUBLIC: "false", METRICS_PORT: "9090" })).toMatchObject({ accessLog: true, metricsPublic: false, metricsPort: 9090 });
    expect(() => loadConfig({ ACCESS_LOG: "yes" })).toThrow(/ACCESS_LOG must be one of true, false/);
    expect(() => loadConfig({ METRICS_PUBLIC: "0" })).toThrow(/METRICS_PUBLIC/);
  });
});

describe("span names and log fields", () => {
  it("names SQL by operation and table, never by its text", () => {
    expect(summarizeSql("UPDATE products SET reserved = reserved + ? WHERE id = ?")).toEqual({ operation: "UPDATE", table: "products", summary: "UPDATE products" });
    expect(summarizeSql('SELECT "id", "email" FROM "users" AS "User" WHERE "User"."email" = \'a@b.c\';').summary).toBe("SELECT users");
    expect(summarizeSql("INSERT INTO outbox (event_id) VALUES (?)").summary).toBe("INSERT outbox");
    expect(summarizeSql("DELETE FROM processed_events WHERE processed_at < ?").summary).toBe("DELETE processed_events");
    expect(summarizeSql("INSERT INTO `payments` (`id`) VALUES (?)").summary).toBe("INSERT payments");
    expect(summarizeSql("START TRANSACTION;").summary).toBe("BEGIN");
    expect(summarizeSql("COMMIT;").summary).toBe("COMMIT");
    expect(summarizeSql("SELECT 1").summary).toBe("SELECT");
  });

  it("logs the path without its query string", () => {
    expect(pathOf("/api/v1/products?q=secret&limit=5")).toBe("/api/v1/products");
    expect(pathOf("/api/v1/orders/1")).toBe("/api/v1/orders/1");
    expect(pathOf(undefined)).toBe("/");
  });
});
