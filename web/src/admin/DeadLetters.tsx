/**
 * Dead letters: integration events a service could not apply after its retries, per service,
 * with replay (one or all) once the cause is fixed. The same as the REPL's `dlq` and `dlq-replay`.
 */
import { useState } from "preact/hooks";
import { api, query } from "../api";
import { when } from "../format";
import { ErrorMessage, Loading, PageTitle, Status, useLoad } from "../ui";

/** The services that consume integration events (the Kafka bridge's). */
const SERVICES = ["products", "orders", "payments", "baskets", "notifications"];

interface DeadLetter {
  id: string;
  topic: string;
  eventId: string | null;
  payload: string;
  error: string;
  attempts: number;
  createdAt: string;
  replayedAt: string | null;
}

interface ReplayResult {
  id: string;
  status: "applied" | "failed";
  error?: string;
}

function eventType(payload: string): string {
  try {
    return String(JSON.parse(payload).type ?? "?");
  } catch {
    return "not a CloudEvent";
  }
}

function ServiceLetters({ service, all }: { service: string; all: boolean }) {
  const list = useLoad(() => api<DeadLetter[]>(`/admin/dead-letters/${service}${query({ all: all || undefined })}`), [service, all]);
  const [busy, setBusy] = useState(false);
  const [outcome, setOutcome] = useState("");
  const [error, setError] = useState<unknown>(null);
  const replay = async (id?: string) => {
    setBusy(true);
    setError(null);
    setOutcome("");
    try {
      const results = await api<ReplayResult[]>(`/admin/dead-letters/${service}/replay`, { method: "POST", body: id ? { id } : {} });
      const applied = results.filter((r) => r.status === "applied").length;
      const failed = results.filter((r) => r.status === "failed");
      setOutcome(
        results.length === 0
          ? "Nothing to replay."
          : `${applied} applied${failed.length ? `, ${failed.length} failed again: ${failed.map((f) => `#${f.id} ${f.error ?? ""}`).join("; ")}` : ""}.`,
      );
      await list.reload();
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };
  const letters = list.data ?? [];
  const pending = letters.filter((l) => !l.replayedAt);
  return (
    <section aria-labelledby={`dlq-${service}`} class="card">
      <h2 id={`dlq-${service}`}>{service}</h2>
      <ErrorMessage error={list.error ?? error} />
      {!list.data ? (
        !list.error && <Loading />
      ) : letters.length === 0 ? (
        <p>No dead letters.</p>
      ) : (
        <>
          <table class="lines">
            <thead>
              <tr>
                <th scope="col">#</th>
                <th scope="col">Event</th>
                <th scope="col">Topic</th>
                <th scope="col">Attempts</th>
                <th scope="col">Error</th>
                <th scope="col">Since</th>
                <th scope="col">
                  <span class="visually-hidden">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {letters.map((l) => (
                <tr key={l.id}>
                  <td>{l.id}</td>
                  <td>{eventType(l.payload)}</td>
                  <td>{l.topic}</td>
                  <td>{l.attempts}</td>
                  <td class="error-text">{l.error}</td>
                  <td>{when(l.createdAt)}</td>
                  <td>
                    {l.replayedAt ? (
                      `Replayed ${when(l.replayedAt)}`
                    ) : (
                      <button type="button" disabled={busy} onClick={() => replay(l.id)}>
                        Replay<span class="visually-hidden"> dead letter {l.id} of {service}</span>
                      </button>
                    )}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
          {pending.length > 1 && (
            <button type="button" disabled={busy} onClick={() => replay()}>
              Replay all {pending.length} of {service}
            </button>
          )}
        </>
      )}
      {outcome && <Status>{outcome}</Status>}
    </section>
  );
}

export function DeadLettersPage() {
  const [all, setAll] = useState(false);
  return (
    <>
      <PageTitle>Dead letters</PageTitle>
      <p>
        Events a service could not apply after its retries. Fix the cause, then replay them: each is applied once (consumers skip events they have
        seen).
      </p>
      <div class="checkbox">
        <input id="dlq-all" type="checkbox" checked={all} onChange={(e) => setAll(e.currentTarget.checked)} />
        <label for="dlq-all">Show replayed ones too</label>
      </div>
      {SERVICES.map((s) => (
        <ServiceLetters service={s} all={all} key={s} />
      ))}
    </>
  );
}
