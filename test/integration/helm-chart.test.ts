/**
 * The Helm chart (deploy/helm/shop) passes scripts/k8s-check.sh for every values file (helm lint
 * --strict, helm template, kubernetes-validate --strict against Kubernetes 1.33, kube-score), and
 * what it renders deploys what the code has: every service on some Deployment, the variables the
 * code reads and no other, probes and a hardened security context on every container, and
 * NetworkPolicies that open exactly the real traffic. Bad values fail before anything is applied.
 *
 * The tools are installed beforehand (scripts/test.sh runs `scripts/k8s-check.sh --install-only`);
 * this test fails, rather than builds them, when they are missing.
 */
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { parseAllDocuments } from "yaml";
import { DB_SERVICES, EVENT_SERVICES, SERVICE_NAMES } from "../../lib/config";
import { ROOT } from "../support/processes";

const CHART = path.join(ROOT, "deploy/helm/shop");
const CACHE = process.env.STACK_CACHE_DIR ?? path.join(process.env.XDG_CACHE_HOME ?? path.join(os.homedir(), ".cache"), "moleculer-shop");
const HELM = path.join(CACHE, "bin", "helm");
const VALUES_FILES = ["values.yaml", ...fs.readdirSync(CHART).filter((f) => /^values-.+\.yaml$/.test(f))];

type K8sObject = { kind: string; metadata: { name: string; labels?: Record<string, string>; annotations?: Record<string, string> }; spec?: any; data?: any };

function helm(args: string[]) {
  return spawnSync(HELM, args, { cwd: CHART, encoding: "utf8" });
}

/** The objects `helm template` renders for these values files and --set options. */
function render(files: string[] = [], sets: string[] = []): K8sObject[] {
  const args = ["template", "shop", ".", "--namespace", "shop", "--kube-version", "1.33.0", ...files.flatMap((f) => ["-f", f]), ...sets.flatMap((s) => ["--set", s])];
  const result = helm(args);
  if (result.status !== 0) throw new Error(`helm ${args.join(" ")} failed:\n${result.stderr}`);
  return parseAllDocuments(result.stdout)
    .map((d) => d.toJS())
    .filter(Boolean);
}

/** The error of a `helm template` that must fail. */
function renderError(sets: string[], files: string[] = []): string {
  const result = helm(["template", "shop", ".", "--kube-version", "1.33.0", ...files.flatMap((f) => ["-f", f]), ...sets.flatMap((s) => ["--set", s])]);
  expect(result.status).not.toBe(0);
  return result.stderr;
}

const byKind = (objects: K8sObject[], kind: string) => objects.filter((o) => o.kind === kind);
const component = (o: K8sObject) => o.metadata.labels?.["app.kubernetes.io/component"] ?? "";
const container = (d: K8sObject) => d.spec.template.spec.containers[0];
const envOf = (d: K8sObject): Record<string, any> => Object.fromEntries(container(d).env.map((e: any) => [e.name, e.value ?? e.valueFrom]));
const servicesOf = (d: K8sObject) => String(envOf(d).SERVICES).split(",");

/** Every variable lib/config.ts reads (the per-service database URLs are built from DB_SERVICES). */
function variablesTheCodeReads(): Set<string> {
  const source = fs.readFileSync(path.join(ROOT, "lib/config.ts"), "utf8");
  const names = [...source.matchAll(/\b(?:str|optional|int|oneOf|list|fraction)\(env, "([A-Z0-9_]+)"/g)].map((m) => m[1]);
  // The OpenTelemetry variables are read where tracing is configured.
  const otel = fs.readFileSync(path.join(ROOT, "lib/telemetry/otel-config.ts"), "utf8");
  // ... and two by the OpenTelemetry SDK itself (exporter headers, resource attributes).
  const otelNames = [...otel.matchAll(/"(OTEL_[A-Z0-9_]+)"/g)].map((m) => m[1]).concat("OTEL_EXPORTER_OTLP_HEADERS", "OTEL_RESOURCE_ATTRIBUTES");
  return new Set([...names, ...otelNames, ...DB_SERVICES.map((s) => `${s.toUpperCase()}_DB_URL`)]);
}

/** Variables the chart sets itself, from its own values (never through config.env). */
const CHART_MANAGED = [
  "SERVICES", "NODE_ID", "PORT", "METRICS_PORT", "DATA_DIR", "NAMESPACE", "LOG_LEVEL", "LOG_FORMAT",
  "TRANSPORTER", "KAFKA_BROKERS", "REDIS_URL", ...DB_SERVICES.map((s) => `${s.toUpperCase()}_DB_URL`),
  "JWT_SECRET", "ADMIN_EMAIL", "ADMIN_PASSWORD", "PAYMENT_PROVIDER", "STRIPE_SECRET_KEY", "STRIPE_WEBHOOK_SECRET", "STRIPE_API_BASE",
  "METRICS_PUBLIC", "OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_PROTOCOL", "OTEL_TRACES_SAMPLER", "OTEL_TRACES_SAMPLER_ARG",
];

beforeAll(() => {
  if (!fs.existsSync(HELM)) throw new Error(`${HELM} is missing: run bash scripts/k8s-check.sh --install-only`);
});

describe("scripts/k8s-check.sh", () => {
  it("passes lint, template, strict Kubernetes 1.33 validation and kube-score for every values file", () => {
    const result = spawnSync("bash", [path.join(ROOT, "scripts/k8s-check.sh")], { cwd: ROOT, encoding: "utf8", timeout: 120_000 });
    const report = result.stdout + result.stderr;
    expect({ status: result.status, report }).toEqual({ status: 0, report: expect.stringContaining(`all checks passed for ${VALUES_FILES.length} values files`) });
    for (const file of VALUES_FILES) {
      for (const check of ["helm lint --strict", "helm template", "kubernetes-validate --strict", "kube-score"]) {
        expect(report).toContain(`ok    ${file}: ${check}`);
      }
    }
  });
});

describe("the chart knows the shop", () => {
  it("lists the services as lib/config.ts does", () => {
    const helpers = fs.readFileSync(path.join(CHART, "templates/_helpers.tpl"), "utf8");
    const list = (name: string) => helpers.match(new RegExp(`define "${name}" -}}([^{]*){{`))![1].trim().split(" ");
    expect(list("shop.serviceNames")).toEqual([...SERVICE_NAMES]);
    expect(list("shop.dbServices")).toEqual([...DB_SERVICES]);
    expect(list("shop.eventServices")).toEqual([...EVENT_SERVICES]);
    const schema = JSON.parse(fs.readFileSync(path.join(CHART, "values.schema.json"), "utf8"));
    expect(schema.properties.deployments.additionalProperties.properties.services.items.enum).toEqual([...SERVICE_NAMES]);
  });

  it("lets config.env set exactly the variables the code reads that the chart does not set itself", () => {
    const schema = JSON.parse(fs.readFileSync(path.join(CHART, "values.schema.json"), "utf8"));
    const settable: string[] = schema.properties.config.properties.env.propertyNames.enum;
    const read = variablesTheCodeReads();
    // A variable added to lib/config.ts joins the schema's config.env list (or the chart sets it).
    expect([...new Set([...settable, ...CHART_MANAGED])].sort()).toEqual([...read].sort());
    expect(settable.filter((v) => CHART_MANAGED.includes(v))).toEqual([]);
  });

  it.each(VALUES_FILES)("%s: sets only variables the code reads", (file) => {
    const objects = render([file]);
    const read = variablesTheCodeReads();
    const configMap = byKind(objects, "ConfigMap")[0];
    const names = [...Object.keys(configMap.data), ...byKind(objects, "Deployment").flatMap((d) => Object.keys(envOf(d)))];
    expect(names.filter((n) => !read.has(n))).toEqual([]);
  });
});

describe("default values: a gateway and one Deployment per bounded context", () => {
  const objects = render();
  const deployments = byKind(objects, "Deployment");
  const names = deployments.map(component);

  it("runs every service once, each context on its own Deployment", () => {
    expect(names.sort()).toEqual(["baskets", "gateway", "notifications", "orders", "payments", "products", "users"]);
    expect(deployments.flatMap(servicesOf).sort()).toEqual([...SERVICE_NAMES].sort());
    for (const d of deployments) expect(servicesOf(d)).toEqual([component(d) === "gateway" ? "api" : component(d)]);
  });

  it("gives each node the variables of its services: its own database only, Kafka for event services, the JWT secret for api and users", () => {
    const configMap = byKind(objects, "ConfigMap")[0];
    expect(configMap.data).toMatchObject({ KAFKA_BROKERS: "kafka:9092", PAYMENT_PROVIDER: "simulated", NAMESPACE: "shop" });
    for (const d of deployments) {
      const env = envOf(d);
      const services = servicesOf(d);
      const dbVars = Object.keys(env).filter((n) => n.endsWith("_DB_URL"));
      expect({ node: component(d), dbVars }).toEqual({ node: component(d), dbVars: services.filter((s) => (DB_SERVICES as readonly string[]).includes(s)).map((s) => `${s.toUpperCase()}_DB_URL`) });
      expect(env.TRANSPORTER.secretKeyRef).toMatchObject({ name: "shop-secrets", key: "TRANSPORTER", optional: false });
      expect(env.REDIS_URL.secretKeyRef.key).toBe("REDIS_URL");
      expect(env.NODE_ID).toEqual({ fieldRef: { fieldPath: "metadata.name" } });
      expect("JWT_SECRET" in env).toBe(services.includes("api") || services.includes("users"));
      expect("STRIPE_SECRET_KEY" in env).toBe(services.includes("payments"));
      expect("DATA_DIR" in env).toBe(false);
    }
  });

  it("autoscales every Deployment on CPU (without a fixed replica count) and bounds its disruption", () => {
    for (const d of deployments) {
      const name = d.metadata.name;
      const hpa = byKind(objects, "HorizontalPodAutoscaler").find((h) => h.spec.scaleTargetRef.name === name);
      expect(hpa?.spec).toMatchObject({ scaleTargetRef: { apiVersion: "apps/v1", kind: "Deployment" }, minReplicas: 2 });
      expect(hpa!.spec.maxReplicas).toBeGreaterThanOrEqual(hpa!.spec.minReplicas);
      expect(hpa!.spec.metrics).toEqual([{ type: "Resource", resource: { name: "cpu", target: { type: "Utilization", averageUtilization: 70 } } }]);
      expect(d.spec.replicas).toBeUndefined();
      const pdb = byKind(objects, "PodDisruptionBudget").find((p) => component(p) === component(d));
      expect(pdb?.spec).toEqual({ maxUnavailable: 1, selector: d.spec.selector });
    }
  });

  it("publishes the gateway alone: one Service on its pods, the Ingress on that Service for the API and the storefront, not /health or /metrics", () => {
    const [service] = byKind(objects, "Service");
    expect(byKind(objects, "Service")).toHaveLength(1);
    const gateway = deployments.find((d) => component(d) === "gateway")!;
    expect(service.spec.selector).toEqual(gateway.spec.selector.matchLabels);
    expect(service.spec.ports).toEqual([{ name: "http", port: 80, targetPort: "http", protocol: "TCP" }]);
    const [ingress] = byKind(objects, "Ingress");
    const paths = ingress.spec.rules.flatMap((r: any) => r.http.paths);
    const backend = { service: { name: service.metadata.name, port: { name: "http" } } };
    expect(paths[0]).toEqual({ path: "/api", pathType: "Prefix", backend });
    expect(paths).toContainEqual({ path: "/", pathType: "Exact", backend });
    for (const p of paths) expect(p.backend).toEqual(backend);
    // Every client route of the storefront goes out; the probes and metrics do not.
    for (const route of ["/", "/assets/index.js", "/products/7", "/basket", "/checkout", "/orders/1", "/notifications", "/signin", "/register", "/admin/cluster"]) {
      expect(paths.some((p: any) => (p.pathType === "Exact" ? route === p.path : route === p.path || route.startsWith(`${p.path}/`)))).toBe(true);
    }
    for (const inside of ["/health/ready", "/health", "/metrics"]) {
      expect(paths.some((p: any) => (p.pathType === "Exact" ? inside === p.path : inside === p.path || inside.startsWith(`${p.path}/`)))).toBe(false);
    }
  });

  it("runs without a Kubernetes API token", () => {
    const [account] = byKind(objects, "ServiceAccount");
    expect(account).toMatchObject({ automountServiceAccountToken: false });
    for (const d of deployments) expect(d.spec.template.spec).toMatchObject({ serviceAccountName: account.metadata.name, automountServiceAccountToken: false });
  });
});

describe.each(VALUES_FILES)("%s: every container", (file) => {
  const deployments = byKind(render([file]), "Deployment");

  it("is hardened: non-root, read-only root filesystem with a writable /tmp, no privilege escalation, no capability, RuntimeDefault seccomp", () => {
    expect(deployments.length).toBeGreaterThan(0);
    for (const d of deployments) {
      const pod = d.spec.template.spec;
      expect(pod.securityContext).toMatchObject({ runAsNonRoot: true, seccompProfile: { type: "RuntimeDefault" } });
      expect(pod.containers).toHaveLength(1);
      expect(container(d).securityContext).toMatchObject({
        runAsNonRoot: true,
        readOnlyRootFilesystem: true,
        allowPrivilegeEscalation: false,
        privileged: false,
        capabilities: { drop: ["ALL"] },
      });
      expect(container(d).volumeMounts).toContainEqual({ name: "tmp", mountPath: "/tmp" });
      expect(container(d).resources).toMatchObject({ requests: { cpu: expect.anything(), memory: expect.anything() }, limits: { cpu: expect.anything(), memory: expect.anything() } });
    }
  });

  it("is probed on /health/live and /health/ready: the gateway on PORT, the other nodes on METRICS_PORT", () => {
    for (const d of deployments) {
      const c = container(d);
      const env = envOf(d);
      const gateway = servicesOf(d).includes("api");
      const port = gateway ? "http" : "metrics";
      const declared = c.ports.find((p: any) => p.name === port);
      expect(declared).toBeDefined();
      expect(gateway ? env.PORT : env.METRICS_PORT).toBe(String(declared.containerPort));
      expect(c.livenessProbe.httpGet).toEqual({ path: "/health/live", port });
      expect(c.readinessProbe.httpGet).toEqual({ path: "/health/ready", port });
      expect(c.startupProbe.httpGet).toEqual({ path: "/health/live", port });
      // /metrics on every node's METRICS_PORT; the gateway keeps it off the port the Ingress reaches.
      const metrics = c.ports.find((p: any) => p.name === "metrics");
      expect(env.METRICS_PORT).toBe(String(metrics.containerPort));
      expect(env.METRICS_PUBLIC).toBe(gateway ? "false" : undefined);
      const annotations = d.spec.template.metadata.annotations;
      expect(annotations).toMatchObject({ "prometheus.io/scrape": "true", "prometheus.io/port": String(metrics.containerPort), "prometheus.io/path": "/metrics" });
    }
  });

  it("drains within its grace period and rolls when a setting changes", () => {
    for (const d of deployments) {
      const pod = d.spec.template.spec;
      const sleep = Number(container(d).lifecycle?.preStop?.exec?.command?.[1] ?? 0);
      expect(pod.terminationGracePeriodSeconds).toBeGreaterThan(sleep + 10);
      expect(d.spec.template.metadata.annotations["checksum/config"]).toMatch(/^[0-9a-f]{64}$/);
    }
  });
});

describe("tracing", () => {
  it("sends traces to the collector only when an endpoint is set, sampled, with egress to it", () => {
    expect(byKind(render(), "ConfigMap")[0].data.OTEL_EXPORTER_OTLP_ENDPOINT).toBeUndefined();
    const objects = render([], ["tracing.otlpEndpoint=http://otel-collector.observability:4318"]);
    expect(byKind(objects, "ConfigMap")[0].data).toMatchObject({
      OTEL_EXPORTER_OTLP_ENDPOINT: "http://otel-collector.observability:4318",
      OTEL_EXPORTER_OTLP_PROTOCOL: "http/protobuf",
      OTEL_TRACES_SAMPLER: "parentbased_traceidratio",
      OTEL_TRACES_SAMPLER_ARG: "0.1",
    });
    for (const policy of byKind(objects, "NetworkPolicy").filter((p) => p.spec.egress)) {
      expect(policy.spec.egress.flatMap((r: any) => r.ports.map((x: any) => x.port))).toContain(4318);
    }
  });
});

describe("NetworkPolicies (default values)", () => {
  const objects = render();
  const deployments = byKind(objects, "Deployment");
  const policies = byKind(objects, "NetworkPolicy");
  const policyOf = (d: K8sObject) => policies.find((p) => JSON.stringify(p.spec.podSelector.matchLabels) === JSON.stringify(d.spec.selector.matchLabels))!;
  const egressPorts = (p: K8sObject) => p.spec.egress.flatMap((r: any) => r.ports.map((x: any) => `${x.port}/${x.protocol}`)).sort();

  it("deny everything by default for the release's pods", () => {
    const deny = policies.find((p) => p.metadata.name.endsWith("-default-deny"))!;
    expect(deny.spec).toEqual({
      podSelector: { matchLabels: { "app.kubernetes.io/name": "shop", "app.kubernetes.io/instance": "shop" } },
      policyTypes: ["Ingress", "Egress"],
    });
  });

  it("give each Deployment one policy of both directions, and no ingress from other shop pods (NATS carries node-to-node traffic)", () => {
    expect(policies).toHaveLength(deployments.length + 1);
    for (const d of deployments) {
      const policy = policyOf(d);
      expect(policy.spec.policyTypes).toEqual(["Ingress", "Egress"]);
      const peers = policy.spec.ingress.flatMap((r: any) => r.from);
      expect(peers.length).toBeGreaterThan(0);
      for (const peer of peers) expect(peer.podSelector?.matchLabels?.["app.kubernetes.io/instance"]).toBeUndefined();
    }
  });

  it("let the ingress controller reach the gateway's HTTP port and Prometheus every metrics port, nothing else in", () => {
    for (const d of deployments) {
      const gateway = component(d) === "gateway";
      const rules = policyOf(d).spec.ingress;
      const from = (r: any) => r.from[0].namespaceSelector.matchLabels["kubernetes.io/metadata.name"];
      expect(rules.map((r: any) => [r.ports, from(r)])).toEqual(
        gateway
          ? [[[{ port: "http", protocol: "TCP" }], "ingress-nginx"], [[{ port: "metrics", protocol: "TCP" }], "monitoring"]]
          : [[[{ port: "metrics", protocol: "TCP" }], "monitoring"]],
      );
    }
  });

  it("let each node out to DNS, NATS, Redis, Kafka only with event services, and its own databases only", () => {
    const expected: Record<string, string[]> = {
      gateway: [],
      users: ["5432/TCP"],
      products: ["5432/TCP", "9092/TCP"],
      baskets: ["9092/TCP"],
      orders: ["5432/TCP", "9092/TCP"],
      payments: ["3306/TCP", "9092/TCP"],
      notifications: ["5432/TCP", "9092/TCP"],
    };
    for (const d of deployments) {
      const ports = egressPorts(policyOf(d));
      expect({ node: component(d), ports }).toEqual({ node: component(d), ports: ["4222/TCP", "53/TCP", "53/UDP", "6379/TCP", ...expected[component(d)]].sort() });
    }
  });

  it("let payments out to Stripe only with the stripe provider, to the peers the values name", () => {
    const objects = render(["values-production.yaml"]);
    const policy = byKind(objects, "NetworkPolicy").find((p) => component(p) === "payments")!;
    const https = policy.spec.egress.find((r: any) => r.ports[0].port === 443);
    expect(https.to[0].ipBlock.cidr).toBe("0.0.0.0/0");
    const nats = policy.spec.egress.find((r: any) => r.ports[0].port === 4222);
    expect(nats.to[0].podSelector.matchLabels["app.kubernetes.io/name"]).toBe("nats");
    for (const other of byKind(objects, "NetworkPolicy").filter((p) => component(p) && component(p) !== "payments")) {
      expect(other.spec.egress.some((r: any) => r.ports.some((p: any) => p.port === 443))).toBe(false);
    }
  });
});

describe("credentials", () => {
  it("come from an existing Secret by name: no Secret rendered, every reference points at it", () => {
    const objects = render([], ["secrets.existingSecret=my-credentials"]);
    expect(byKind(objects, "Secret")).toEqual([]);
    const refs = byKind(objects, "Deployment").flatMap((d) => container(d).env.filter((e: any) => e.valueFrom?.secretKeyRef).map((e: any) => e.valueFrom.secretKeyRef.name));
    expect(refs.length).toBeGreaterThan(0);
    expect(new Set(refs)).toEqual(new Set(["my-credentials"]));
    for (const d of byKind(objects, "Deployment")) expect(d.spec.template.metadata.annotations["checksum/secret"]).toBeUndefined();
  });

  it("otherwise go into the chart's Secret, whose checksum rolls the pods when one changes", () => {
    const secret = "s".repeat(40);
    const [a, b] = [secret, secret.replace(/s$/, "t")].map((jwt) => render([], [`secrets.jwtSecret=${jwt}`]));
    const [secretA] = byKind(a, "Secret");
    expect(Buffer.from(secretA.data.JWT_SECRET, "base64").toString()).toBe(secret);
    expect(Buffer.from(secretA.data.USERS_DB_URL, "base64").toString()).toMatch(/^postgres:\/\//);
    const checksum = (objects: K8sObject[]) => byKind(objects, "Deployment")[0].spec.template.metadata.annotations["checksum/secret"];
    expect(checksum(a)).not.toBe(checksum(b));
    const configChecksum = (objects: K8sObject[]) => byKind(objects, "Deployment")[0].spec.template.metadata.annotations["checksum/config"];
    expect(configChecksum(render([], ["config.logLevel=debug"]))).not.toBe(configChecksum(a));
  });
});

describe("values-demo.yaml: the whole shop in one pod, no server", () => {
  const objects = render(["values-demo.yaml"]);
  const [d] = byKind(objects, "Deployment");

  it("runs every service embedded, one replica, with its SQLite files on a volume", () => {
    expect(byKind(objects, "Deployment")).toHaveLength(1);
    expect(servicesOf(d).sort()).toEqual([...SERVICE_NAMES].sort());
    expect(d.spec.replicas).toBe(1);
    expect(d.spec.strategy).toEqual({ type: "Recreate" });
    expect(byKind(objects, "HorizontalPodAutoscaler")).toEqual([]);
    const env = envOf(d);
    for (const absent of ["TRANSPORTER", "REDIS_URL", "USERS_DB_URL"]) expect(env[absent]).toBeUndefined();
    expect(byKind(objects, "ConfigMap")[0].data.KAFKA_BROKERS).toBeUndefined();
    expect(env.DATA_DIR).toBe("/app/data");
    expect(container(d).volumeMounts).toContainEqual({ name: "data", mountPath: "/app/data" });
    const [claim] = byKind(objects, "PersistentVolumeClaim");
    expect(d.spec.template.spec.volumes).toContainEqual({ name: "data", persistentVolumeClaim: { claimName: claim.metadata.name } });
    // Only DNS goes out.
    const policy = byKind(objects, "NetworkPolicy").find((p) => component(p))!;
    expect(policy.spec.egress.flatMap((r: any) => r.ports.map((p: any) => p.port))).toEqual([53, 53]);
  });
});

describe("bad values fail before anything is applied", () => {
  it("helm lint --strict refuses values the schema does not allow", () => {
    for (const set of ["deployments.users.services={user}", "config.env.NOT_A_SETTING=1", "secrets.jwtSecret=short", "servers.databases.users.url=sqlite:x", "payments.provider=paypal"]) {
      const result = helm(["lint", "--strict", "--kube-version", "1.33.0", ".", "--set", set]);
      expect({ set, status: result.status }).toEqual({ set, status: 1 });
    }
  });

  it("helm template refuses layouts the shop would refuse at start", () => {
    expect(renderError(["deployments.users.enabled=false"])).toMatch(/no enabled Deployment runs the "users" service/);
    expect(renderError(["deployments.users.services={api}"])).toMatch(/"users" service|exactly one enabled Deployment must run "api"/);
    expect(renderError(["servers.kafka.enabled=false"])).toMatch(/integration events between nodes travel only through Kafka/);
    expect(renderError(["servers.nats.enabled=false"])).toMatch(/exactly one Deployment, one replica/);
    expect(renderError(["servers.databases.enabled=false"])).toMatch(/on SQLite .* one replica only/);
    expect(renderError(["payments.provider=stripe"])).toMatch(/set secrets.stripeSecretKey/);
    expect(renderError(["deployments.products.autoscaling.minReplicas=20"])).toMatch(/minReplicas \(20\) is above maxReplicas/);
    expect(renderError(["deployments.gateway.terminationGracePeriodSeconds=12"])).toMatch(/must exceed preStopSleepSeconds/);
    expect(renderError(["deployments.all-in-one.replicas=2"], ["values-demo.yaml"])).toMatch(/one replica/);
  });
});
