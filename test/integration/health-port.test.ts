/**
 * A node without the gateway answers the Kubernetes probes on its metrics port (lib/health-port.ts):
 * the Helm chart probes /health/live and /health/ready there. The node here runs `users` alone,
 * embedded (SQLite in a temporary directory), so it needs no server.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { freePort, startTs, waitFor, type Child } from "../support/processes";


describe("health probes on METRICS_PORT (node without a gateway)", () => {
  let node: Child;
  let base: string;
  let dataDir: string;

  beforeAll(async () => {
    const port = await freePort();
    base = `http://127.0.0.1:${port}`;
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "shop-health-port-"));
    node = startTs("shop.ts", { SERVICES: "users", METRICS_PORT: String(port), DATA_DIR: dataDir });
    await waitFor(async () => (await fetch(`${base}/health/ready`)).status === 200, 20_000, `users node ready on ${base}`);
  });

  afterAll(async () => {
    await node?.stop();
    if (dataDir) fs.rmSync(dataDir, { recursive: true, force: true });
  });

  it("answers /health/live and /health/ready with 200 once started", async () => {
    const live = await fetch(`${base}/health/live`);
    expect({ status: live.status, body: await live.json() }).toEqual({ status: 200, body: { status: "up" } });
    const ready = await fetch(`${base}/health/ready`);
    expect({ status: ready.status, body: await ready.json() }).toEqual({ status: 200, body: { status: "up" } });
  });

  it("still serves /metrics there, and 404 for anything else", async () => {
    const metrics = await fetch(`${base}/metrics`);
    expect(metrics.status).toBe(200);
    expect(await metrics.text()).toMatch(/^# HELP /m);
    expect((await fetch(`${base}/health/detailed`)).status).toBe(404);
    expect((await fetch(`${base}/`)).status).toBe(404);
  });

  it("stops being ready as soon as the node begins to stop, and the process leaves", async () => {
    const pid = node.process.pid!;
    const exited = new Promise<void>((resolve) => node.process.once("exit", () => resolve()));
    node.process.kill("SIGTERM");
    // Within moments of the signal the server answers 503 (or has already closed); from then on,
    // never 200 again.
    let last: number | string = 200;
    const deadline = Date.now() + 10_000;
    while (last === 200 && Date.now() < deadline) {
      last = await fetch(`${base}/health/ready`).then((r) => r.status, () => "closed");
      if (last === 200) await new Promise((r) => setTimeout(r, 10));
    }
    expect([503, "closed"]).toContain(last);
    while (last !== "closed") {
      last = await fetch(`${base}/health/ready`).then((r) => r.status, () => "closed");
      expect([503, "closed"]).toContain(last);
    }
    await exited;
    expect(() => process.kill(pid, 0)).toThrow();
  });
});
