/** Small shared pieces: loading data, messages, page titles, money, paging. */
import type { ComponentChildren } from "preact";
import { useCallback, useEffect, useLayoutEffect, useRef, useState } from "preact/hooks";
import { describeError, money } from "./format";

export interface Loaded<T> {
  data: T | undefined;
  error: unknown;
  loading: boolean;
  reload: () => Promise<void>;
}

/** Runs `load` when `deps` change; the latest answer wins. */
export function useLoad<T>(load: () => Promise<T>, deps: unknown[]): Loaded<T> {
  const [state, setState] = useState<{ data?: T; error?: unknown; loading: boolean }>({ loading: true });
  const generation = useRef(0);
  const run = useCallback(async () => {
    const mine = ++generation.current;
    setState((s) => ({ ...s, loading: true }));
    try {
      const data = await load();
      if (mine === generation.current) setState({ data, loading: false });
    } catch (error) {
      if (mine === generation.current) setState((s) => ({ data: s.data, error, loading: false }));
    }
  }, deps);
  useEffect(() => {
    void run();
  }, [run]);
  return { data: state.data, error: state.error, loading: state.loading, reload: run };
}

/** The page's heading, which names the tab (the app moves the focus to it after a navigation). */
export function PageTitle({ children, title }: { children: ComponentChildren; title?: string }) {
  const text = title ?? (typeof children === "string" ? children : "");
  useLayoutEffect(() => {
    document.title = text ? `${text} · Moleculer Shop` : "Moleculer Shop";
  }, [text]);
  return <h1 tabIndex={-1}>{children}</h1>;
}

/** An error said in words, announced to screen readers. */
export function ErrorMessage({ error }: { error: unknown }) {
  if (!error) return null;
  return (
    <p class="message error" role="alert">
      {describeError(error)}
    </p>
  );
}

/** A polite status line (saved, added, ...). */
export function Status({ children }: { children?: ComponentChildren }) {
  return (
    <p class="message status" role="status">
      {children}
    </p>
  );
}

export function Loading({ what = "Loading" }: { what?: string }) {
  return (
    <p class="loading" role="status">
      {what}…
    </p>
  );
}

export function Money({ amount, currency }: { amount: number; currency: string | null | undefined }) {
  return <span class="money">{money(amount, currency)}</span>;
}

/** Previous / next over `total` items, `limit` a page. */
export function Pager({ total, limit, offset, go }: { total: number; limit: number; offset: number; go: (offset: number) => void }) {
  if (total <= limit) return null;
  const page = Math.floor(offset / limit) + 1;
  const pages = Math.ceil(total / limit);
  return (
    <nav class="pager" aria-label="Pagination">
      <button type="button" disabled={page <= 1} onClick={() => go(Math.max(0, offset - limit))}>
        Previous page
      </button>
      <span aria-live="polite">
        Page {page} of {pages}
      </span>
      <button type="button" disabled={page >= pages} onClick={() => go(offset + limit)}>
        Next page
      </button>
    </nav>
  );
}

/** A labelled form field. */
export function Field({ label, children, hint, id }: { label: string; children: ComponentChildren; hint?: string; id: string }) {
  return (
    <div class="field">
      <label for={id}>{label}</label>
      {children}
      {hint && (
        <small id={`${id}-hint`} class="hint">
          {hint}
        </small>
      )}
    </div>
  );
}

/** Runs an action of a button or form: busy while it runs, its error kept for display. */
export function useAction<A extends unknown[]>(action: (...args: A) => Promise<unknown>) {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const run = async (...args: A) => {
    setBusy(true);
    setError(null);
    try {
      await action(...args);
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };
  return { busy, error, run, setError };
}
