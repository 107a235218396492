/**
 * Parameter rules (fastest-validator) shared by the actions, written so that what the validator
 * enforces is exactly what the OpenAPI document says (lib/http/openapi.ts reads these rules):
 *
 * - Query and path values arrive as strings. `convert: true` would read "" and " " as 0, "0x10" as
 *   16 and "0.5" as a date; the rules here accept a decimal number literal, `true`/`false`, or an
 *   RFC 3339 date-time, and nothing else.
 * - Text refuses C0/C1 control characters other than tab, LF and CR (the ClientInput middleware
 *   refuses them everywhere; the pattern says so in the document), and names must not be blank.
 * - Every number that reaches SQL has a bound, so no client value (offset=1e21) can reach the
 *   database as something it cannot parse.
 */
export const MAX_PAGE_SIZE = 100;
export const MAX_OFFSET = 1_000_000;
/** INTEGER columns: a larger id names nothing and is refused before SQL. */
export const MAX_ID = 2_147_483_647;

type Problem = { type: string; message: string; expected?: unknown; actual?: unknown };
type Check = (value: unknown, errors: Problem[], schema: unknown, field: string) => unknown;

/** A rule the validator runs as `check` and the document shows as `jsonSchema`. */
export interface CustomRule {
  type: "custom";
  check: Check;
  jsonSchema: Record<string, unknown>;
  optional?: boolean;
  default?: unknown;
}

/** Characters no text field takes (lib/http/client-input.ts refuses them in every parameter). */
export const CONTROL_CHARACTERS = "\\u0000-\\u0008\\u000B\\u000C\\u000E-\\u001F\\u007F-\\u009F";
/** Whitespace as JavaScript's trim() sees it, less the control characters above. */
const BLANK = "\\t\\n\\r \\u00A0\\u1680\\u2000-\\u200A\\u2028\\u2029\\u202F\\u205F\\u3000\\uFEFF";
/** Whitespace in any engine's sense (JavaScript's and Python's `\\s` differ): spelled out, so they agree. */
const WHITESPACE = "\\t-\\r \\u001C-\\u001F\\u0085\\u00A0\\u1680\\u2000-\\u200A\\u2028\\u2029\\u202F\\u205F\\u3000\\uFEFF";

/*
 * The validator's patterns leave control characters to the ClientInput middleware (which names them,
 * `stringControlCharacter`); the document's patterns (`docPattern`) say what the two enforce together.
 */
/** Any text without control characters. */
export const PLAIN_TEXT = new RegExp(`^[^${CONTROL_CHARACTERS}]*$`);
/** Text with at least one visible character (trimmed by the service before it is stored). */
const NOT_BLANK = new RegExp(`[^${BLANK}]`);
export const NON_BLANK_TEXT = new RegExp(`^[${BLANK}]*[^${BLANK}${CONTROL_CHARACTERS}][^${CONTROL_CHARACTERS}]*$`);
/**
 * An email address as the shop takes it: something@domain.tld without whitespace (Unicode letters
 * are fine: normalizeEmail folds case and form).
 */
const EMAIL_SHAPE = new RegExp(`^[^@${WHITESPACE}]+@[^@${WHITESPACE}]+\\.[^@${WHITESPACE}]+$`);
export const EMAIL = new RegExp(`^[^@${WHITESPACE}${CONTROL_CHARACTERS}]+@[^@${WHITESPACE}${CONTROL_CHARACTERS}]+\\.[^@${WHITESPACE}${CONTROL_CHARACTERS}]+$`);
/** An http(s) URL without whitespace or control characters. */
export const HTTP_URL = new RegExp(`^https?://[^${WHITESPACE}${CONTROL_CHARACTERS}]+$`);
const HTTP_URL_SHAPE = new RegExp(`^https?://[^${WHITESPACE}]+$`);

/**
 * Lengths in characters (Unicode code points), as JSON Schema's minLength/maxLength and the
 * databases' VARCHAR(n) count them; fastest-validator's min/max would count UTF-16 units, which
 * makes an emoji two. Checked by `custom` (after the type check); documented from `chars`.
 */
function lengthCheck(min: number, max: number) {
  return (value: unknown, errors: Problem[], _schema: unknown, field: string) => {
    if (typeof value !== "string") return value;
    let n = 0;
    // eslint-disable-next-line @typescript-eslint/no-unused-vars
    for (const _ of value) n++;
    if (n < min) errors.push({ type: "stringMin", expected: min, actual: n, message: `The '${field}' field length must be greater than or equal to ${min} characters long.` });
    if (n > max) errors.push({ type: "stringMax", expected: max, actual: n, message: `The '${field}' field length must be less than or equal to ${max} characters long.` });
    return value;
  };
}
const chars = (min: number, max: number) => ({ chars: { min, max }, custom: lengthCheck(min, max) });

/** Free text up to `max` characters. */
export const text = (max: number, opts: { min?: number; optional?: boolean; nullable?: boolean } = {}) =>
  ({ type: "string", ...chars(opts.min ?? 0, max), docPattern: PLAIN_TEXT, ...(opts.optional && { optional: true }), ...(opts.nullable && { nullable: true }) }) as const;

/** A name: 1..max characters, not blank. */
export const name = (max: number, opts: { optional?: boolean } = {}) =>
  ({ type: "string", ...chars(1, max), pattern: NOT_BLANK, docPattern: NON_BLANK_TEXT, ...(opts.optional && { optional: true }) }) as const;

/** An email address (no `format: email` in the document, whose meaning differs between validators: the pattern is the rule). */
export const email = () => ({ type: "string", ...chars(0, 254), pattern: EMAIL_SHAPE, docPattern: EMAIL }) as const;

/** An http(s) URL. */
export const httpUrl = (max: number, opts: { optional?: boolean; nullable?: boolean } = {}) =>
  ({ type: "string", ...chars(0, max), pattern: HTTP_URL_SHAPE, docPattern: HTTP_URL, ...(opts.optional && { optional: true }), ...(opts.nullable && { nullable: true }) }) as const;

/** Trims the named fields of `params` (names are validated as "not blank" and stored trimmed). */
export function trimmed<T extends Record<string, unknown>>(params: T, fields: readonly string[]): T {
  const out: Record<string, unknown> = { ...params };
  for (const field of fields) if (typeof out[field] === "string") out[field] = (out[field] as string).trim();
  return out as T;
}

const DECIMAL = /^-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?$/;

/**
 * An integer from the query or the path ("42"), or a number from an internal call. Refuses "", " ",
 * "0x10", "Infinity" and the like, which Number() would read as numbers.
 */
export function queryInt(opts: { min: number; max: number; optional?: boolean; default?: number }): CustomRule {
  const { min, max } = opts;
  return {
    type: "custom",
    ...(opts.optional && { optional: true }),
    ...(opts.default !== undefined && { default: opts.default }),
    jsonSchema: { type: "integer", minimum: min, maximum: max },
    check(value, errors, _schema, field) {
      const n = typeof value === "number" ? value : typeof value === "string" && DECIMAL.test(value) ? Number(value) : NaN;
      if (!Number.isFinite(n)) {
        errors.push({ type: "number", actual: value, message: `The '${field}' field must be a number.` });
        return value;
      }
      if (!Number.isInteger(n)) errors.push({ type: "numberInteger", actual: value, message: `The '${field}' field must be an integer.` });
      else if (n < min) errors.push({ type: "numberMin", expected: min, actual: n, message: `The '${field}' field must be greater than or equal to ${min}.` });
      else if (n > max) errors.push({ type: "numberMax", expected: max, actual: n, message: `The '${field}' field must be less than or equal to ${max}.` });
      return n;
    },
  };
}

/** `true` or `false` from the query (not "1", "on" or "yes"), or a boolean from an internal call. */
export function queryBool(opts: { optional?: boolean } = {}): CustomRule {
  return {
    type: "custom",
    ...(opts.optional && { optional: true }),
    jsonSchema: { type: "boolean" },
    check(value, errors, _schema, field) {
      if (typeof value === "boolean") return value;
      if (value === "true" || value === "false") return value === "true";
      errors.push({ type: "boolean", actual: value, message: `The '${field}' field must be true or false.` });
      return value;
    },
  };
}

/** RFC 3339 date-time (what JSON Schema's `date-time` format means), without leap seconds. */
const DATE_TIME = /^(\d{4})-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])[Tt]([01]\d|2[0-3]):([0-5]\d):([0-5]\d)(\.\d{1,9})?([Zz]|[+-]([01]\d|2[0-3]):[0-5]\d)$/;

/** The Date a date-time string names, or undefined when it names none (February 30th). */
export function parseDateTime(value: string): Date | undefined {
  const m = DATE_TIME.exec(value);
  if (!m) return undefined;
  const [year, month, day] = [Number(m[1]), Number(m[2]), Number(m[3])];
  const calendar = new Date(Date.UTC(year, month - 1, day));
  // Date.UTC maps years 0-99 to 1900-1999: set the full year explicitly.
  calendar.setUTCFullYear(year);
  if (calendar.getUTCMonth() !== month - 1 || calendar.getUTCDate() !== day) return undefined;
  const date = new Date(value.toUpperCase());
  return Number.isNaN(date.getTime()) ? undefined : date;
}

/** A date-time from the query ("2026-11-22T08:00:00Z"): a Date in the handler. "0.5" is no date. */
export function queryDateTime(opts: { optional?: boolean } = {}): CustomRule {
  return {
    type: "custom",
    ...(opts.optional && { optional: true }),
    jsonSchema: { type: "string", format: "date-time", pattern: DATE_TIME.source },
    check(value, errors, _schema, field) {
      if (value instanceof Date && !Number.isNaN(value.getTime())) return value;
      const date = typeof value === "string" ? parseDateTime(value) : undefined;
      if (!date) errors.push({ type: "date", actual: value, message: `The '${field}' field must be an RFC 3339 date-time (2026-01-31T12:00:00Z).` });
      return date ?? value;
    },
  };
}

export const pageParams = {
  limit: queryInt({ min: 1, max: MAX_PAGE_SIZE, optional: true }),
  offset: queryInt({ min: 0, max: MAX_OFFSET, optional: true }),
} as const;

/** A numeric id in the path. */
export const idInPath = () => queryInt({ min: 1, max: MAX_ID });
