/**
 * The access log: one JSON object per HTTP request (ACCESS_LOG=true), written through the broker's
 * logger under the module name `access`, so it goes where every other line goes. With
 * LOG_FORMAT=json it is one Pino line carrying these fields; with LOG_FORMAT=text the line's
 * message is the same JSON object.
 */
export interface AccessRecord {
  method: string;
  /** The route pattern (`/api/v1/products/:id`), never the raw URL: low cardinality, no personal data in ids. */
  route: string;
  /** The path as requested (no query string: it may carry search terms). */
  path: string;
  status: number;
  durationMs: number;
  requestId: string;
  userId: string | null;
  traceId: string | null;
  /** "HIT" when the gateway's micro-cache answered. */
  cache?: "HIT";
}

interface Logger {
  info(...args: unknown[]): void;
}

export class AccessLog {
  constructor(
    private readonly logger: Logger,
    private readonly format: "json" | "text",
  ) {}

  write(record: AccessRecord): void {
    if (this.format === "json") this.logger.info(record, "request");
    else this.logger.info(JSON.stringify(record));
  }
}

/** The path of a request URL without its query string. */
export function pathOf(url: string | undefined): string {
  if (!url) return "/";
  const q = url.indexOf("?");
  return q === -1 ? url : url.slice(0, q);
}
