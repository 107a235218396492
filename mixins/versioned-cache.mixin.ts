/**
 * Cached reads whose invalidation costs the same with ten keys or a million: no keyspace scan.
 *
 * - Reads of one entity (`entityAction`, with `entityKeygen` as its `cache.keygen`) are deleted by
 *   exact key when that entity changes.
 * - Every other cached read of the service (lists, stats) carries the service's cache generation in
 *   its key (use `generationKeygen` as the action's `cache.keygen`). A change bumps the generation,
 *   so those keys are never read again; the cacher's TTL removes them.
 *
 * With the Redis cacher the generation is a shared counter (INCR), so every node moves to a number
 * higher than any it has used; with per-node memory cachers each node simply moves on by one. Either
 * way, `cache.clean.<service>` is broadcast so other nodes (and the gateway's micro-cache) follow.
 */
import type { ActionSchema, Context, ServiceSchema } from "moleculer";
import type Redis from "ioredis";

interface CacheChange {
  generation: number;
  /** Entity ids whose single-entity reads are stale. */
  ids: (string | number)[];
}

/** An action `cache.keygen`: Moleculer's own key, scoped to the service's current generation. */
export function generationKeygen(this: any, action: ActionSchema, opts: any, ctx: Context<any, any>): string {
  return `${this.defaultKeygen(action, opts, ctx)}@${(ctx.service as any)?.cacheGeneration ?? 0}`;
}

/**
 * An action `cache.keygen` for reads of one entity by `id`: the same key whether the id came as the
 * string of a URL or as a number (Moleculer's own key quotes strings), so a change can delete it.
 */
export function entityKeygen(action: ActionSchema, _opts: unknown, ctx: Context<any, any>): string {
  return `${action.name}:${String(ctx.params?.id)}`;
}

/** The key `entityKeygen` gives the read of one entity. */
const entityKey = (service: string, action: string, id: string | number) => `${service}.${action}:${String(id)}`;

/** The Redis cacher's client (a shared cache), or undefined for a per-node memory cacher. */
const sharedClient = (cacher: unknown): Redis | undefined => (cacher as { client?: Redis } | undefined)?.client;

export function VersionedCacheMixin(opts: { service: string; entityAction: string }): Partial<ServiceSchema> {
  return {
    methods: {
      /** After a committed change: drops the changed entities' reads and every generation-keyed read. */
      async invalidateCache(ids: (string | number)[] = []) {
        const cacher = this.broker.cacher;
        const keys = ids.map((id) => entityKey(this.name, opts.entityAction, id));
        let generation: number = this.cacheGeneration + 1;
        const redis = sharedClient(cacher);
        if (redis) {
          // One round trip: the shared counter and the exact keys.
          const prefix: string = (cacher as any).prefix;
          const pipeline = redis.pipeline().incr(`${prefix}${this.name}:generation`);
          if (keys.length) pipeline.del(...keys.map((k) => `${prefix}${k}`));
          const [[err, next]] = (await pipeline.exec())!;
          if (err) throw err;
          generation = Math.max(generation, Number(next));
        } else if (cacher && keys.length) {
          await cacher.del(keys);
        }
        this.cacheGeneration = generation;
        const change: CacheChange = { generation, ids };
        this.broker.broadcast(`cache.clean.${this.name}`, change);
      },
    },

    events: {
      // Another node changed the data (this node applied its own change already).
      [`cache.clean.${opts.service}`]: {
        async handler(ctx: Context<Partial<CacheChange>>) {
          if (ctx.nodeID === this.broker.nodeID) return;
          const { generation = 0, ids = [] } = ctx.params ?? {};
          const cacher = this.broker.cacher;
          if (sharedClient(cacher)) {
            // A shared cache: the other node deleted the keys; take its generation if it is ahead.
            this.cacheGeneration = Math.max(this.cacheGeneration, generation);
          } else {
            // This node's own memory: drop the stale entries and start a generation of its own.
            this.cacheGeneration += 1;
            if (cacher && ids.length) await cacher.del(ids.map((id) => entityKey(this.name, opts.entityAction, id)));
          }
        },
      },
    },

    async started() {
      const cacher = this.broker.cacher;
      const redis = sharedClient(cacher);
      // Start at the generation in use in a shared cache (a restarted node must not read keys it left behind).
      this.cacheGeneration = redis ? Number((await redis.get(`${(cacher as any).prefix}${this.name}:generation`)) ?? 0) : 0;
    },
  };
}
