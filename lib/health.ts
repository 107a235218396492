/**
 * Node-local registry of dependency checks. Each adapter that opens a connection registers a
 * check for it; the gateway's /health/ready and /health/detailed run them all.
 */
export type HealthCheck = () => Promise<void>;

export interface CheckResult {
  name: string;
  status: "up" | "down";
  latencyMs: number;
  error?: string;
}

const checks = new Map<string, HealthCheck>();

export function registerHealthCheck(name: string, check: HealthCheck): void {
  checks.set(name, check);
}

export function unregisterHealthCheck(name: string): void {
  checks.delete(name);
}

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}

export async function runHealthChecks(timeoutMs = 2000): Promise<CheckResult[]> {
  return Promise.all(
    [...checks].map(async ([name, check]) => {
      const start = performance.now();
      try {
        await withTimeout(check(), timeoutMs);
        return { name, status: "up" as const, latencyMs: Math.round(performance.now() - start) };
      } catch (err) {
        return {
          name,
          status: "down" as const,
          latencyMs: Math.round(performance.now() - start),
          error: err instanceof Error ? err.message : String(err),
        };
      }
    }),
  );
}
