/**
 * The REST API under /api/v1, same origin. Adds the bearer token, and when the gateway refuses
 * an access token (expired, revoked) spends the refresh token once for a new pair and retries.
 * Refresh tokens are single use and a reused one ends the whole session family, so concurrent
 * requests share one refresh.
 */
import { session, setSession, type Session } from "./session";

export const API = "/api/v1";

/** An answer of the API that is not a success, or no answer at all (status 0). */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly type: string | null,
    message: string,
    readonly data: any = null,
    readonly requestId: string | null = null,
  ) {
    super(message);
    this.name = "ApiError";
  }
}

export interface RequestOptions {
  method?: string;
  /** JSON body; a function is read at send time (after a refresh, for instance). */
  body?: unknown;
  /** Sent as the Idempotency-Key header. */
  idempotencyKey?: string;
  /** Without a token even when signed in (sign-in, register). */
  anonymous?: boolean;
}

let refreshing: Promise<boolean> | null = null;

/** Spends the refresh token for a new pair; false (and signed out) when the session is over. */
function refresh(): Promise<boolean> {
  refreshing ??= (async () => {
    const now = session();
    if (!now) return false;
    try {
      const pair = await send<{ accessToken: string; refreshToken: string; user?: Session["user"] }>("/users/refresh-token", {
        method: "POST",
        body: { refreshToken: now.refreshToken },
        anonymous: true,
      });
      // Signed out meanwhile: do not bring the session back.
      if (session()?.refreshToken !== now.refreshToken) return false;
      setSession({ accessToken: pair.accessToken, refreshToken: pair.refreshToken, user: pair.user ?? now.user });
      return true;
    } catch (err) {
      if (err instanceof ApiError && err.status > 0 && err.status < 500) setSession(null);
      return false;
    }
  })().finally(() => (refreshing = null));
  return refreshing;
}

async function send<T>(path: string, options: RequestOptions): Promise<T> {
  const headers: Record<string, string> = { accept: "application/json" };
  const token = options.anonymous ? undefined : session()?.accessToken;
  if (token) headers.authorization = `Bearer ${token}`;
  if (options.idempotencyKey) headers["idempotency-key"] = options.idempotencyKey;
  let body: string | undefined;
  const value = typeof options.body === "function" ? options.body() : options.body;
  if (value !== undefined) {
    headers["content-type"] = "application/json";
    body = JSON.stringify(value);
  }
  let res: Response;
  try {
    res = await fetch(`${API}${path}`, { method: options.method ?? "GET", headers, body, credentials: "omit" });
  } catch {
    throw new ApiError(0, "NETWORK", "The shop cannot be reached. Check your connection and try again.");
  }
  if (res.status === 204) return undefined as T;
  const text = await res.text();
  let parsed: any;
  try {
    parsed = text ? JSON.parse(text) : undefined;
  } catch {
    parsed = undefined;
  }
  if (res.ok) return parsed as T;
  const requestId = res.headers.get("x-request-id");
  throw new ApiError(res.status, parsed?.type ?? null, parsed?.message ?? res.statusText, parsed?.data ?? null, requestId);
}

/** Whether an access token expires within the next few seconds (its `exp` claim; the server still decides). */
function expiresSoon(token: string): boolean {
  try {
    const claims = JSON.parse(atob(token.split(".")[1].replace(/-/g, "+").replace(/_/g, "/")));
    return typeof claims.exp === "number" && claims.exp * 1000 - Date.now() < 5_000;
  } catch {
    return false;
  }
}

/** A call to the API as the signed-in person (if any); JSON in, JSON out, ApiError on failure. */
export async function api<T = any>(path: string, options: RequestOptions = {}): Promise<T> {
  // Renew an access token about to expire before using it rather than after a 401.
  if (!options.anonymous && session() && expiresSoon(session()!.accessToken)) await refresh();
  const before = session();
  try {
    return await send<T>(path, options);
  } catch (err) {
    const expired = err instanceof ApiError && err.status === 401 && err.type === "ERR_INVALID_TOKEN";
    if (!expired || options.anonymous || !before) throw err;
    // Another request may have refreshed already: retry with its token, else refresh now.
    if (session()?.accessToken === before.accessToken && !(await refresh())) {
      throw new ApiError(401, "SESSION_ENDED", "Your session has ended. Please sign in again.");
    }
    return send<T>(path, options);
  }
}

/** A new Idempotency-Key: one per attempt of a request that creates or charges. */
export function newKey(prefix: string): string {
  return `${prefix}-${crypto.randomUUID()}`;
}

/** Query string of the defined, non-empty values. */
export function query(params: Record<string, string | number | boolean | undefined | null>): string {
  const search = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null && v !== "") search.set(k, String(v));
  const s = search.toString();
  return s ? `?${s}` : "";
}

export async function signIn(email: string, password: string): Promise<Session> {
  const res = await api<Session & { user: Session["user"] }>("/users/login", { method: "POST", body: { email, password }, anonymous: true });
  const next = { accessToken: res.accessToken, refreshToken: res.refreshToken, user: res.user };
  setSession(next);
  return next;
}

/** Ends the session on the server (its refresh token as it is then), and here whatever the answer. */
export async function signOut(): Promise<void> {
  if (!session()) return;
  await api("/users/logout", { method: "POST", body: () => ({ refreshToken: session()?.refreshToken }) }).catch(() => undefined);
  setSession(null);
}
