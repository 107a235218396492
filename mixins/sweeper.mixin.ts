/**
 * Runs one of the service's methods every few seconds while the service runs (expiry sweeps).
 * A failed round is logged and the next one tries again; the timer never keeps the process alive.
 * Every node of the service sweeps: the sweeps must be safe to run concurrently (conditional updates).
 */
import type { ServiceSchema } from "moleculer";

export function SweeperMixin(opts: { method: string; everySeconds: number; what: string }): Partial<ServiceSchema> {
  // One timer per swept method: a service may mix in several sweepers.
  const timer = `sweeper:${opts.method}`;
  return {
    started() {
      this[timer] = setInterval(() => {
        Promise.resolve(this[opts.method]()).catch((err: Error) => this.logger.warn(`${opts.what} failed:`, err?.message ?? err));
      }, opts.everySeconds * 1000);
      this[timer].unref();
    },
    stopped() {
      clearInterval(this[timer]);
    },
  };
}
