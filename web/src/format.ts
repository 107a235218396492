/** Money, dates, statuses and API errors, in words for people. */
import { ApiError } from "./api";

const moneyFormats = new Map<string, Intl.NumberFormat>();
function moneyFormat(currency: string): Intl.NumberFormat {
  let format = moneyFormats.get(currency);
  if (!format) {
    format = new Intl.NumberFormat(undefined, { style: "currency", currency });
    moneyFormats.set(currency, format);
  }
  return format;
}

/** Digits after the decimal point of a currency (2 for USD, 0 for JPY, 3 for KWD). */
export function minorDigits(currency: string): number {
  return moneyFormat(currency).resolvedOptions().maximumFractionDigits ?? 2;
}

/** An amount in minor units (integer cents) as the currency is written: 1250 USD is "$12.50". */
export function money(minor: number, currency: string | null | undefined): string {
  if (!currency) return String(minor);
  return moneyFormat(currency).format(minor / 10 ** minorDigits(currency));
}

/**
 * "12.50" typed by a person, in minor units (1250), without floating point; null when it is no
 * amount of that currency.
 */
export function toMinor(text: string, currency: string): number | null {
  const digits = minorDigits(currency);
  const match = /^\s*(\d+)(?:[.,](\d*))?\s*$/.exec(text);
  if (!match || (match[2] ?? "").length > digits) return null;
  const value = Number(match[1]) * 10 ** digits + Number((match[2] ?? "").padEnd(digits, "0") || 0);
  return Number.isSafeInteger(value) ? value : null;
}

/** Minor units as a plain decimal for an input field ("12.50"). */
export function fromMinor(minor: number, currency: string): string {
  const digits = minorDigits(currency);
  if (digits === 0) return String(minor);
  const s = String(minor).padStart(digits + 1, "0");
  return `${s.slice(0, -digits)}.${s.slice(-digits)}`;
}

const dateTime = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "short" });
export function when(iso: string | null | undefined): string {
  return iso ? dateTime.format(new Date(iso)) : "";
}

export const ORDER_STATUS: Record<string, string> = {
  pending_payment: "Awaiting payment",
  paid: "Paid",
  fulfilled: "Fulfilled",
  cancelled: "Cancelled",
  expired: "Expired (not paid in time)",
  payment_failed: "Payment failed",
  partially_refunded: "Partly refunded",
  refunded: "Refunded",
};

export const PAYMENT_STATUS: Record<string, string> = {
  pending: "Pending",
  processing: "Processing",
  completed: "Completed",
  failed: "Failed",
  cancelled: "Cancelled",
  partially_refunded: "Partly refunded",
  refunded: "Refunded",
};

/** Why a card was refused, as the provider says it. */
const FAILURE_REASONS: Record<string, string> = {
  card_declined: "Your card was declined.",
  insufficient_funds: "Your card has insufficient funds.",
  expired_card: "Your card has expired.",
  incorrect_cvc: "The card's security code is incorrect.",
  processing_error: "The card could not be processed.",
  authentication_required: "Your bank needs you to confirm this payment.",
  unknown_payment_method: "This payment method is not known to the payment provider.",
  cancelled: "The payment was cancelled.",
};

export function failureReason(reason: string | null | undefined): string {
  if (!reason) return "The payment did not go through.";
  return FAILURE_REASONS[reason] ?? `The payment did not go through (${reason.replace(/_/g, " ")}).`;
}

const FIELD_NAMES: Record<string, string> = {
  email: "Email",
  password: "Password",
  newPassword: "New password",
  firstName: "First name",
  lastName: "Last name",
  quantity: "Quantity",
  price: "Price",
  sku: "SKU",
  name: "Name",
  category: "Category",
  stock: "Stock",
  amount: "Amount",
  reason: "Reason",
  currency: "Currency",
  description: "Description",
};

/** What went wrong, for the person who asked: the API's error in words. */
export function describeError(err: unknown): string {
  if (!(err instanceof ApiError)) return `Something went wrong: ${err instanceof Error ? err.message : String(err)}`;
  const data = err.data;
  switch (err.type) {
    case "VALIDATION_ERROR":
      // Only the id of the address was refused: a mistyped or made-up link.
      if (Array.isArray(data) && data.length && data.every((d: any) => d.field === "id")) return "There is nothing at this address.";
      if (Array.isArray(data) && data.length) {
        return `Please check the form. ${data
          .map((d: any) => String(d.message ?? "").replace(/^The '([^']+)' field/, (_: string, f: string) => FIELD_NAMES[f] ?? f))
          .join(" ")}`;
      }
      break;
    case "INSUFFICIENT_STOCK":
      if (Array.isArray(data?.shortages)) {
        return `Not enough stock: ${data.shortages
          .map((s: any) => `${s.name ?? `product ${s.productId}`}: you asked for ${s.requested}, ${s.available} available`)
          .join("; ")}.`;
      }
      break;
    case "TOO_MANY_REQUESTS":
      return `Too many requests. Please wait ${data?.retryAfter ?? "a few"} seconds and try again.`;
    case "ERR_NO_TOKEN":
      return "Please sign in first.";
    case "ERR_FORBIDDEN":
      return "Your account may not do this.";
  }
  if (err.status === 409 && typeof data?.requested === "number" && typeof data?.available === "number") {
    return `Only ${data.available} available; you asked for ${data.requested}.`;
  }
  if (err.status === 0) return err.message;
  if (err.status >= 500) {
    return `The shop could not do this just now. Please try again in a moment.${err.requestId ? ` (Reference ${err.requestId})` : ""}`;
  }
  if (err.status === 404 && err.message === "Not found") return "This could not be found. It may have been removed.";
  const message = err.message.endsWith(".") ? err.message : `${err.message}.`;
  return message;
}

/** The first eight characters of an id, as people read order numbers. */
export const short = (id: string) => id.slice(0, 8);
