/**
 * A stand-in for an OpenTelemetry collector: an HTTP server that accepts OTLP/HTTP trace exports
 * (POST /v1/traces) and keeps the spans. OTLP/JSON bodies are decoded; protobuf bodies are counted
 * (with their content type) but not decoded.
 */
import http from "node:http";
import type { AddressInfo } from "node:net";

export interface ReceivedSpan {
  traceId: string;
  spanId: string;
  parentSpanId: string;
  name: string;
  kind: number;
  service: string;
  attributes: Record<string, unknown>;
  resource: Record<string, unknown>;
  status: { code?: number; message?: string };
  start: bigint;
  end: bigint;
}

export interface OtlpReceiver {
  url: string;
  spans: ReceivedSpan[];
  /** Content types of every export received, protobuf ones included. */
  contentTypes: string[];
  close(): Promise<void>;
}

/** OTLP/JSON ids are hex; some encoders send base64 (the protobuf JSON mapping): both read as hex. */
function hexId(id: unknown): string {
  if (typeof id !== "string" || id === "") return "";
  return /^[0-9a-f]+$/i.test(id) && (id.length === 32 || id.length === 16) ? id.toLowerCase() : Buffer.from(id, "base64").toString("hex");
}

function anyValue(v: any): unknown {
  if (!v) return undefined;
  if ("stringValue" in v) return v.stringValue;
  if ("intValue" in v) return Number(v.intValue);
  if ("doubleValue" in v) return v.doubleValue;
  if ("boolValue" in v) return v.boolValue;
  return JSON.stringify(v);
}

const attributesOf = (list: any[] | undefined) => Object.fromEntries((list ?? []).map((a) => [a.key, anyValue(a.value)]));

export async function startOtlpReceiver(): Promise<OtlpReceiver> {
  const spans: ReceivedSpan[] = [];
  const contentTypes: string[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c) => chunks.push(c));
    req.on("end", () => {
      const type = String(req.headers["content-type"] ?? "");
      contentTypes.push(type);
      if (req.url === "/v1/traces" && type.includes("json")) {
        const body = JSON.parse(Buffer.concat(chunks).toString("utf8"));
        for (const rs of body.resourceSpans ?? []) {
          const resource = attributesOf(rs.resource?.attributes);
          for (const ss of rs.scopeSpans ?? []) {
            for (const s of ss.spans ?? []) {
              spans.push({
                traceId: hexId(s.traceId),
                spanId: hexId(s.spanId),
                parentSpanId: hexId(s.parentSpanId),
                name: s.name,
                kind: s.kind,
                service: String(resource["service.name"]),
                attributes: attributesOf(s.attributes),
                resource,
                status: s.status ?? {},
                start: BigInt(s.startTimeUnixNano),
                end: BigInt(s.endTimeUnixNano),
              });
            }
          }
        }
      }
      res.writeHead(200, { "content-type": type.includes("json") ? "application/json" : "application/x-protobuf" });
      res.end(type.includes("json") ? "{}" : "");
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    spans,
    contentTypes,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

/** Span ids of a trace whose parent is neither in the trace nor one of `roots`: not one tree if any. */
export function orphans(spans: ReceivedSpan[], roots: string[]): ReceivedSpan[] {
  const ids = new Set(spans.map((s) => s.spanId));
  return spans.filter((s) => !ids.has(s.parentSpanId) && !roots.includes(s.parentSpanId));
}

/** Whether `descendant` is under `ancestor` in the trace. */
export function isUnder(spans: ReceivedSpan[], descendant: ReceivedSpan, ancestor: ReceivedSpan): boolean {
  const byId = new Map(spans.map((s) => [s.spanId, s]));
  let current: ReceivedSpan | undefined = descendant;
  for (let hops = 0; current && hops < 1000; hops++) {
    if (current.parentSpanId === ancestor.spanId) return true;
    current = byId.get(current.parentSpanId);
  }
  return false;
}
