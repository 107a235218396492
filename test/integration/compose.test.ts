/**
 * docker-compose.yml is valid (checked by docker-compose itself) and deploys what the code has:
 * every service on a node, the gateway published, the servers from official images, traces to
 * Jaeger.
 */
import { execFileSync } from "node:child_process";
import { parse } from "yaml";
import { SERVICE_NAMES, DB_SERVICES } from "../../lib/config";
import { ROOT } from "../support/processes";

function composeConfig(): any {
  const out = execFileSync("docker-compose", ["-f", "docker-compose.yml", "config"], {
    cwd: ROOT,
    encoding: "utf8",
    env: { ...process.env, JWT_SECRET: "" },
  });
  return parse(out);
}

describe("docker-compose.yml", () => {
  const config = composeConfig();
  const nodes = Object.entries<any>(config.services).filter(([, s]) => s.environment?.SERVICES);

  it("runs every service of the codebase on some node, and no unknown one", () => {
    const deployed = nodes.flatMap(([, s]) => String(s.environment.SERVICES).split(","));
    expect([...deployed].sort()).toEqual([...SERVICE_NAMES].sort());
  });

  it("builds the shop nodes from the Dockerfile and publishes the gateway", () => {
    for (const [name, node] of nodes) {
      expect({ name, build: !!node.build, transporter: node.environment.TRANSPORTER }).toEqual({ name, build: true, transporter: "nats://nats:4222" });
    }
    expect(config.services.gateway.environment.SERVICES).toBe("api");
    expect(config.services.gateway.ports.map((p: any) => String(p.published ?? p).split(":")[0])).toContain("3000");
  });

  it("points every database-owning service at its own database", () => {
    const env = config.services.gateway.environment;
    const urls = DB_SERVICES.map((s) => env[`${s.toUpperCase()}_DB_URL`]);
    expect(new Set(urls).size).toBe(DB_SERVICES.length);
    expect(env.PAYMENTS_DB_URL).toMatch(/^mariadb:\/\/.*@mariadb:3306\//);
  });

  it("traces every node to Jaeger over OTLP/HTTP, whose UI is published, and keeps metrics off the public port", () => {
    expect(config.services.jaeger.image).toMatch(/^jaegertracing\/all-in-one:\d+\.\d+\.\d+$/);
    expect(config.services.jaeger.environment.COLLECTOR_OTLP_ENABLED).toBe("true");
    expect(config.services.jaeger.ports.map((p: any) => String(p.published ?? p).split(":")[0])).toContain("16686");
    for (const [name, node] of nodes) {
      expect({ name, endpoint: node.environment.OTEL_EXPORTER_OTLP_ENDPOINT, protocol: node.environment.OTEL_EXPORTER_OTLP_PROTOCOL }).toEqual({
        name,
        endpoint: "http://jaeger:4318",
        protocol: "http/protobuf",
      });
      expect({ name, port: node.environment.METRICS_PORT, public: node.environment.METRICS_PUBLIC, accessLog: node.environment.ACCESS_LOG }).toEqual({ name, port: "3030", public: "false", accessLog: "true" });
    }
  });

  it("takes every server from its official image", () => {
    const images = Object.fromEntries(Object.entries<any>(config.services).map(([name, s]) => [name, s.image]));
    expect(images).toMatchObject({
      postgres: "postgres:15",
      mariadb: "mariadb:10.11",
      redis: "redis:7-alpine",
      nats: "nats:2.10",
      kafka: "apache/kafka:3.9.1",
      "stripe-mock": "stripe/stripe-mock:v0.203.0",
    });
  });
});
