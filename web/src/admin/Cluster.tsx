/**
 * The cluster (GET /api/v1/admin/cluster, the REPL's `cluster`): the balancing strategy, the nodes
 * with their services and health, and every action's endpoints with the calls each node served,
 * their errors and mean latency, and each endpoint's circuit as the answering node's broker sees it.
 * Refreshed on demand, or every 5 seconds while the tab is visible.
 */
import { useEffect, useState } from "preact/hooks";
import { api } from "../api";
import { ErrorMessage, Loading, PageTitle, useLoad } from "../ui";

const AUTO_REFRESH_MS = 5_000;

interface EndpointView {
  nodeID: string;
  available: boolean;
  circuit: "closed" | "open";
  calls: number | null;
  errors: number | null;
  meanMs: number | null;
}

interface NodeView {
  id: string;
  local: boolean;
  available: boolean;
  hostname: string | null;
  cpu: number | null;
  lastHeartbeat: string | null;
  services: string[];
}

interface ClusterView {
  balancer: string;
  nodes: NodeView[];
  actions: { name: string; endpoints: EndpointView[] }[];
}

const clock = new Intl.DateTimeFormat(undefined, { timeStyle: "medium" });
const dayAndClock = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "medium" });
const count = new Intl.NumberFormat();
const ms = new Intl.NumberFormat(undefined, { minimumFractionDigits: 2, maximumFractionDigits: 2 });

/** A time with seconds; the date too when it is not today. */
function at(iso: string): string {
  const date = new Date(iso);
  return date.toDateString() === new Date().toDateString() ? clock.format(date) : dayAndClock.format(date);
}

const figure = (n: number | null, format: Intl.NumberFormat = count) => (n === null ? "—" : format.format(n));

/** "products.get": products; a versioned "v2.products.get": v2.products. */
const serviceOf = (action: string) => (action.includes(".") ? action.slice(0, action.lastIndexOf(".")) : action);

function State({ ok, children }: { ok: boolean; children: string }) {
  return <span class={`badge ${ok ? "state-ok" : "state-bad"}`}>{children}</span>;
}

function Nodes({ nodes }: { nodes: NodeView[] }) {
  return (
    <section aria-labelledby="cluster-nodes">
      <h2 id="cluster-nodes">Nodes</h2>
      <table class="lines" aria-labelledby="cluster-nodes">
        <thead>
          <tr>
            <th scope="col">Node</th>
            <th scope="col">State</th>
            <th scope="col">Services</th>
            <th scope="col" class="num">
              CPU
            </th>
            <th scope="col">Last heartbeat</th>
          </tr>
        </thead>
        <tbody>
          {nodes.map((node) => (
            <tr key={node.id}>
              <th scope="row">
                {node.id}
                {node.hostname && node.hostname !== node.id && <span class="hint"> on {node.hostname}</span>}
                {node.local && <span class="hint"> (the node that answered)</span>}
              </th>
              <td>
                <State ok={node.available}>{node.available ? "Available" : "Unavailable"}</State>
              </td>
              <td>{node.services.length ? node.services.join(", ") : "None"}</td>
              <td class="num">{node.cpu === null ? "—" : `${Math.round(node.cpu)}%`}</td>
              <td>{node.lastHeartbeat ? <time dateTime={node.lastHeartbeat}>{at(node.lastHeartbeat)}</time> : node.local ? "This node" : "—"}</td>
            </tr>
          ))}
        </tbody>
      </table>
      {nodes.length === 0 && <p>No nodes.</p>}
    </section>
  );
}

function ServiceActions({ service, actions }: { service: string; actions: ClusterView["actions"] }) {
  return (
    <table class="lines endpoints">
      <caption>{service}</caption>
      <thead>
        <tr>
          <th scope="col">Action</th>
          <th scope="col">Node</th>
          <th scope="col">State</th>
          <th scope="col">Circuit</th>
          <th scope="col" class="num">
            Calls served
          </th>
          <th scope="col" class="num">
            Errors
          </th>
          <th scope="col" class="num">
            Mean latency (ms)
          </th>
        </tr>
      </thead>
      {/* One row group per action: its name heads the rows of its endpoints. */}
      {actions.map((action) => (
        <tbody key={action.name}>
          {action.endpoints.length === 0 ? (
            <tr>
              <th scope="row">{action.name}</th>
              <td colSpan={6}>No endpoint</td>
            </tr>
          ) : (
            action.endpoints.map((ep, i) => (
              <tr key={ep.nodeID}>
                {i === 0 && (
                  <th scope="rowgroup" rowSpan={action.endpoints.length}>
                    {action.name}
                  </th>
                )}
                <td>{ep.nodeID}</td>
                <td>
                  <State ok={ep.available}>{ep.available ? "Available" : "Unavailable"}</State>
                </td>
                <td>
                  <State ok={ep.circuit === "closed"}>{ep.circuit === "closed" ? "Closed" : "Open"}</State>
                </td>
                <td class="num">{figure(ep.calls)}</td>
                <td class={ep.errors ? "num error-text" : "num"}>{figure(ep.errors)}</td>
                <td class="num">{figure(ep.meanMs, ms)}</td>
              </tr>
            ))
          )}
        </tbody>
      ))}
    </table>
  );
}

function Actions({ actions }: { actions: ClusterView["actions"] }) {
  const [term, setTerm] = useState("");
  const wanted = term.trim().toLowerCase();
  const shown = wanted ? actions.filter((a) => a.name.toLowerCase().includes(wanted)) : actions;
  const services = new Map<string, ClusterView["actions"]>();
  for (const action of shown) {
    const service = serviceOf(action.name);
    services.set(service, [...(services.get(service) ?? []), action]);
  }
  return (
    <section aria-labelledby="cluster-actions">
      <h2 id="cluster-actions">Actions</h2>
      <p class="hint">
        Calls served, errors and mean latency are each node's own figures since it started (— when it has none, or did not answer). An open circuit:
        the answering node stopped sending calls to that endpoint after too many failures, until it recovers.
      </p>
      <form class="filters" onSubmit={(e) => e.preventDefault()}>
        <div class="field">
          <label for="cluster-action-q">Find an action</label>
          <input id="cluster-action-q" type="search" value={term} onInput={(e) => setTerm(e.currentTarget.value)} />
        </div>
      </form>
      {[...services].map(([service, list]) => (
        <ServiceActions service={service} actions={list} key={service} />
      ))}
      {shown.length === 0 && <p>{wanted ? "No action matches." : "No actions."}</p>}
    </section>
  );
}

export function ClusterPage() {
  const [auto, setAuto] = useState(false);
  const view = useLoad(async () => ({ cluster: await api<ClusterView>("/admin/cluster"), at: new Date() }), []);
  const { reload } = view;
  useEffect(() => {
    if (!auto) return;
    const timer = setInterval(() => {
      if (document.visibilityState === "visible") void reload();
    }, AUTO_REFRESH_MS);
    return () => clearInterval(timer);
  }, [auto, reload]);

  const cluster = view.data?.cluster;
  const endpoints = cluster?.actions.flatMap((a) => a.endpoints) ?? [];
  const unavailable = endpoints.filter((ep) => !ep.available).length;
  const open = endpoints.filter((ep) => ep.circuit === "open").length;
  return (
    <>
      <PageTitle>Cluster</PageTitle>
      <div class="actions">
        <button type="button" onClick={() => void reload()}>
          Refresh
        </button>
        <div class="checkbox">
          <input id="cluster-auto" type="checkbox" checked={auto} onChange={(e) => setAuto(e.currentTarget.checked)} />
          <label for="cluster-auto">Refresh every 5 seconds</label>
        </div>
        {view.data && (
          <span class="hint">
            As of <time dateTime={view.data.at.toISOString()}>{clock.format(view.data.at)}</time>
            {view.loading ? ", refreshing…" : ""}
          </span>
        )}
      </div>
      <ErrorMessage error={view.error} />
      {!cluster ? (
        !view.error && <Loading what="Loading the cluster" />
      ) : (
        <>
          <dl class="facts">
            <dt>Balancing</dt>
            <dd>{cluster.balancer}</dd>
            <dt>Nodes</dt>
            <dd>
              {cluster.nodes.filter((n) => n.available).length} available of {cluster.nodes.length}
            </dd>
            <dt>Endpoints</dt>
            <dd>
              {endpoints.length} for {cluster.actions.length} actions
              {unavailable || open ? `: ${unavailable} unavailable, ${open} with an open circuit` : ", all available with closed circuits"}
            </dd>
          </dl>
          <Nodes nodes={cluster.nodes} />
          <Actions actions={cluster.actions} />
        </>
      )}
    </>
  );
}
