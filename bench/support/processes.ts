/** The benchmark's own child processes: started as Node itself, waited for, and stopped for sure. */
import { spawn, type ChildProcess } from "node:child_process";
import path from "node:path";

export const ROOT = path.resolve(__dirname, "../..");

export interface Started {
  pid: number;
  /** What it wrote to stderr lately (its warnings would drown the figures; a crash shows them). */
  stderr(): string;
  stop(): Promise<void>;
}

/** Whatever the calling shell points at, a shop started with this uses no external server: the embedded default. */
export function embeddedShopEnv(dataDir: string): NodeJS.ProcessEnv {
  const servers = ["TRANSPORTER", "SERVICES", "REDIS_URL", "KAFKA_BROKERS", "USERS_DB_URL", "PRODUCTS_DB_URL", "ORDERS_DB_URL", "PAYMENTS_DB_URL", "NOTIFICATIONS_DB_URL"];
  return { ...process.env, ...Object.fromEntries(servers.map((name) => [name, undefined])), DATA_DIR: dataDir, LOG_LEVEL: "warn", API_RATE_LIMIT: "0", AUTH_RATE_LIMIT: "0" };
}

const running = new Set<ChildProcess>();
const STDERR_KEPT = 64 * 1024;

/**
 * Runs a TypeScript entrypoint as Node with tsx's loader rather than through the `tsx` command
 * (which runs it in a grandchild): the pid is the process that does the work, so its CPU time in
 * /proc is the program's own, and a signal reaches it. The flags are `npm start`'s.
 */
export function startScript(script: string, env: NodeJS.ProcessEnv, args: string[] = []): Started {
  const child = spawn(process.execPath, ["--experimental-async-context-frame", "--import", "tsx", path.join(ROOT, script), ...args], {
    cwd: ROOT,
    env,
    // Logs go to stdout (LOG_LEVEL=warn keeps them few).
    stdio: ["ignore", "ignore", "pipe"],
  });
  let stderr = "";
  child.stderr?.on("data", (chunk) => (stderr = (stderr + chunk).slice(-STDERR_KEPT)));
  running.add(child);
  child.once("exit", (code) => {
    running.delete(child);
    if (code) console.error(`${script} (pid ${child.pid}) exited with code ${code}:\n${stderr}`);
  });
  return { pid: child.pid ?? -1, stderr: () => stderr, stop: () => stop(child) };
}

function stop(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve();
    const timer = setTimeout(() => child.kill("SIGKILL"), 15_000);
    child.once("exit", () => {
      clearTimeout(timer);
      resolve();
    });
    child.kill("SIGTERM");
  });
}

/** Stops every process started here that is still running. */
export async function stopAll(): Promise<void> {
  await Promise.all([...running].map(stop));
}

/** Ctrl-C leaves no server of ours behind. */
export function stopAllOnInterrupt(): void {
  process.once("SIGINT", () => {
    for (const child of running) child.kill("SIGTERM");
    process.exit(130);
  });
}

/** Resolves once `url` answers 200; a server that does not come up has its stderr shown. */
export async function waitFor(url: string, timeoutMs: number, server?: Started): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while ((await fetch(url).then((r) => r.status, () => 0)) !== 200) {
    if (Date.now() > deadline) throw new Error(`${url} did not answer 200 within ${timeoutMs} ms${server ? `; its stderr:\n${server.stderr()}` : ""}`);
    await sleep(100);
  }
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
