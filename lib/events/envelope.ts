/**
 * Integration events travel as CloudEvents 1.0 (JSON), with a schema version extension.
 * Topics are `<aggregate>-events`, named after the first word of the type: payment.completed →
 * payment-events. The Kafka message key is the aggregate id (the `subject`), which keeps the
 * events of one aggregate in order. The types and payloads are listed in contracts.ts.
 */
import { randomUUID } from "node:crypto";
import { SCHEMA_VERSIONS, type EventType, type IntegrationEvent, type IntegrationEvents } from "./contracts";
import { currentTraceparent } from "../telemetry/tracing";

export interface Envelope<T = Record<string, unknown>> {
  specversion: "1.0";
  id: string;
  source: string;
  type: string;
  subject: string;
  time: string;
  datacontenttype: "application/json";
  /** Version of `data`'s shape for this `type`; consumers refuse versions they do not know. */
  schemaversion: string;
  /**
   * CloudEvents' distributed-tracing extension: the W3C traceparent of the span that wrote the
   * event (with tracing on), so its relay and its consumers join that trace.
   */
  traceparent?: string;
  data: T;
}

export function envelope<T extends EventType>(source: string, type: T, subject: string, data: IntegrationEvents[T]): IntegrationEvent<T> {
  const traceparent = currentTraceparent();
  return {
    specversion: "1.0",
    id: randomUUID(),
    source: `/shop/${source}`,
    type,
    subject,
    time: new Date().toISOString(),
    datacontenttype: "application/json",
    schemaversion: SCHEMA_VERSIONS[type],
    ...(traceparent && { traceparent }),
    data,
  };
}

/** The traceparent an envelope's JSON carries, without parsing all of it (the relay reads only this). */
export function traceparentInJson(json: string): string | undefined {
  return /"traceparent":"([0-9a-f-]{55})"/.exec(json)?.[1];
}

export function topicOf(type: string): string {
  return `${type.split(".")[0]}-events`;
}

export const dlqTopicOf = (topic: string) => `${topic}.dlq`;

/** Parses and checks a message body; a body that is not a CloudEvent of ours is a poison message. */
export function parseEnvelope(body: string): Envelope {
  const e = JSON.parse(body) as Partial<Envelope>;
  for (const field of ["id", "source", "type", "subject", "time", "schemaversion"] as const) {
    if (typeof e[field] !== "string" || e[field] === "") throw new Error(`not a CloudEvent: missing ${field}`);
  }
  if (e.specversion !== "1.0") throw new Error(`unsupported specversion ${String(e.specversion)}`);
  if (typeof e.data !== "object" || e.data === null) throw new Error("not a CloudEvent: missing data");
  return e as Envelope;
}

/** The integration topics of the payment flow. */
export const TOPICS = ["payment-events", "order-events", "stock-events", "basket-events"] as const;
