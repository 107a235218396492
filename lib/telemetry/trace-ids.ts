/**
 * Trace and span ids as OpenTelemetry and W3C Trace Context want them (32 and 16 lowercase hex
 * characters), from the ids Moleculer uses, and the `traceparent` header. Pure: no I/O.
 *
 * Moleculer names a span after its context (a UUID by default) and carries the parent's id and the
 * request id from node to node over the transporter. Mapping those ids the same way on every node
 * keeps parent links right without sending anything more: a 16-hex id stays as it is (a client's
 * span, or one of ours), a UUID gives the last 16 hex digits of its 122 random bits, anything else
 * a hash.
 */
import { createHash, randomUUID } from "node:crypto";

const HEX16 = /^[0-9a-f]{16}$/;
const HEX32 = /^[0-9a-f]{32}$/;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const ZERO16 = "0".repeat(16);
const ZERO32 = "0".repeat(32);

const digest = (id: string) => createHash("sha256").update(id).digest("hex");

/** A valid span id (16 hex, not all zero) for any id Moleculer gives a span (a UUID: its last 16 hex digits). */
export function spanIdOf(id: string): string {
  let hex: string;
  if (id.length === 16 && HEX16.test(id)) hex = id;
  else if (id.length === 36 && UUID.test(id)) hex = (id.slice(19, 23) + id.slice(24)).toLowerCase();
  else hex = digest(id).slice(0, 16);
  return hex === ZERO16 ? digest(id).slice(0, 16) : hex;
}

/** A valid trace id (32 hex, not all zero) for a trace id or request id (a UUID: its hex digits). */
export function traceIdOf(id: string): string {
  let hex: string;
  if (id.length === 32 && HEX32.test(id)) hex = id;
  else if (id.length === 36 && UUID.test(id)) hex = (id.slice(0, 8) + id.slice(9, 13) + id.slice(14, 18) + id.slice(19, 23) + id.slice(24)).toLowerCase();
  else hex = digest(id).slice(0, 32);
  return hex === ZERO32 ? digest(id).slice(0, 32) : hex;
}

/** 64 bits, 62 of them random (a version 4 UUID's last 16 hex digits), from Node's pooled generator. */
export const randomSpanId = (): string => spanIdOf(randomUUID());
/** 122 random bits (a version 4 UUID's, from Node's pooled generator); the rightmost 7 bytes all random, as W3C asks. */
export const randomTraceId = (): string => traceIdOf(randomUUID());

export interface TraceParent {
  traceId: string;
  spanId: string;
  sampled: boolean;
}

const TRACEPARENT = /^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(-.*)?$/;

/**
 * A W3C `traceparent` value, or undefined when it is absent or malformed (then the request starts
 * a trace of its own, as the specification says). Version ff is invalid; a later version may add
 * fields after the fourth, which are ignored.
 */
export function parseTraceparent(value: unknown): TraceParent | undefined {
  if (typeof value !== "string" || value.length > 512) return undefined;
  const m = TRACEPARENT.exec(value.trim());
  if (!m) return undefined;
  const [, version, traceId, spanId, flags, rest] = m;
  if (version === "ff" || (version === "00" && rest !== undefined)) return undefined;
  if (traceId === ZERO32 || spanId === ZERO16) return undefined;
  return { traceId, spanId, sampled: (parseInt(flags, 16) & 1) === 1 };
}

export function formatTraceparent(traceId: string, spanId: string, sampled: boolean): string {
  return `00-${traceId}-${spanId}-${sampled ? "01" : "00"}`;
}

/**
 * OpenTelemetry's TraceIdRatioBased decision: the same for every span of a trace, on every node.
 * Reads the rightmost 56 bits of the trace id, which W3C Trace Context level 2 makes random.
 */
export function traceIdRatioSampled(traceId: string, ratio: number): boolean {
  if (ratio >= 1) return true;
  if (ratio <= 0) return false;
  return parseInt(traceId.slice(-14), 16) < ratio * 2 ** 56;
}
