/**
 * A stand-in for an OpenTelemetry collector: an HTTP server that accepts OTLP/HTTP trace exports
 * (POST /v1/traces), in JSON or protobuf, and keeps the spans. The protobuf reader knows just the
 * fields of ExportTraceServiceRequest the tests look at (opentelemetry-proto's trace.proto).
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

// ----------------------------------------------------------------------------- protobuf, minimal

type Field = { no: number; wire: number; value: bigint | Buffer };

/** The fields of one protobuf message (varints, 64-bit, length-delimited, 32-bit). */
function fields(buf: Buffer): Field[] {
  const out: Field[] = [];
  let i = 0;
  const varint = (): bigint => {
    let result = 0n;
    let shift = 0n;
    for (;;) {
      const b = buf[i++];
      result |= BigInt(b & 0x7f) << shift;
      if ((b & 0x80) === 0) return result;
      shift += 7n;
    }
  };
  while (i < buf.length) {
    const key = Number(varint());
    const no = key >>> 3;
    const wire = key & 7;
    if (wire === 0) out.push({ no, wire, value: varint() });
    else if (wire === 1) {
      out.push({ no, wire, value: buf.readBigUInt64LE(i) });
      i += 8;
    } else if (wire === 2) {
      const len = Number(varint());
      out.push({ no, wire, value: buf.subarray(i, i + len) });
      i += len;
    } else if (wire === 5) {
      out.push({ no, wire, value: BigInt(buf.readUInt32LE(i)) });
      i += 4;
    } else throw new Error(`unsupported protobuf wire type ${wire}`);
  }
  return out;
}
const sub = (f: Field[], no: number) => f.filter((x) => x.no === no).map((x) => x.value as Buffer);
const one = (f: Field[], no: number) => f.find((x) => x.no === no)?.value;

/** AnyValue: string, bool, int, double. */
function pbAnyValue(buf: Buffer): unknown {
  const f = fields(buf)[0];
  if (!f) return undefined;
  if (f.no === 1) return (f.value as Buffer).toString("utf8");
  if (f.no === 2) return f.value === 1n;
  if (f.no === 3) return Number(BigInt.asIntN(64, f.value as bigint));
  if (f.no === 4) return new Float64Array(new BigUint64Array([f.value as bigint]).buffer)[0];
  return undefined;
}
const pbAttributes = (list: Buffer[]) =>
  Object.fromEntries(list.map((kv) => fields(kv)).map((kv) => [(one(kv, 1) as Buffer).toString("utf8"), one(kv, 2) ? pbAnyValue(one(kv, 2) as Buffer) : undefined]));

/** ExportTraceServiceRequest → spans. */
function protobufSpans(body: Buffer): ReceivedSpan[] {
  const spans: ReceivedSpan[] = [];
  for (const rs of sub(fields(body), 1).map(fields)) {
    const resource = pbAttributes(sub(fields((one(rs, 1) as Buffer) ?? Buffer.alloc(0)), 1));
    for (const ss of sub(rs, 2).map(fields)) {
      for (const sp of sub(ss, 2).map(fields)) {
        const status = one(sp, 15) ? fields(one(sp, 15) as Buffer) : [];
        spans.push({
          traceId: (one(sp, 1) as Buffer).toString("hex"),
          spanId: (one(sp, 2) as Buffer).toString("hex"),
          parentSpanId: ((one(sp, 4) as Buffer | undefined) ?? Buffer.alloc(0)).toString("hex"),
          name: ((one(sp, 5) as Buffer | undefined) ?? Buffer.alloc(0)).toString("utf8"),
          kind: Number(one(sp, 6) ?? 0n),
          service: String(resource["service.name"]),
          attributes: pbAttributes(sub(sp, 9)),
          resource,
          status: { code: Number(one(status, 3) ?? 0n), message: ((one(status, 2) as Buffer | undefined) ?? Buffer.alloc(0)).toString("utf8") || undefined },
          start: (one(sp, 7) as bigint) ?? 0n,
          end: (one(sp, 8) as bigint) ?? 0n,
        });
      }
    }
  }
  return spans;
}

export async function startOtlpReceiver(): Promise<OtlpReceiver> {
  const spans: ReceivedSpan[] = [];
  const contentTypes: string[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c) => chunks.push(c));
    req.on("end", () => {
      const type = String(req.headers["content-type"] ?? "");
      contentTypes.push(type);
      if (req.url === "/v1/traces" && type.includes("protobuf")) spans.push(...protobufSpans(Buffer.concat(chunks)));
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
