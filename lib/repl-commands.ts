/** The operator's own commands in the broker REPL (`npm run repl`), next to Moleculer's. */
import type { ServiceBroker } from "moleculer";
import { balancerInEffect, clusterView } from "./cluster";
import { config } from "./config";

interface ReplCommand {
  command: string;
  description: string;
  action(broker: ServiceBroker, args: Record<string, any>): Promise<void>;
}

/** The services of the cluster that publish or consume integration events (they have the bridge's actions). */
function bridgeServices(broker: ServiceBroker): string[] {
  const names = (broker.registry.getActionList({ onlyAvailable: true }) as any[]).map((a) => a.name as string);
  return [...new Set(names.filter((n) => n.endsWith(".outboxStatus")).map((n) => n.split(".")[0]))].sort();
}

export const replCommands: ReplCommand[] = [
  {
    command: "outbox",
    description: "Outbox depth and oldest pending event, per service",
    async action(broker) {
      const rows = await Promise.all(bridgeServices(broker).map((s) => broker.call(`${s}.outboxStatus`)));
      console.table(rows);
    },
  },
  {
    command: "dlq [service]",
    description: "Dead letters (events a consumer could not apply), of one service or all",
    async action(broker, args) {
      for (const service of args.service ? [String(args.service)] : bridgeServices(broker)) {
        const letters: any[] = await broker.call(`${service}.deadLetters`);
        if (letters.length === 0) continue;
        console.warn(`${service}:`);
        console.table(letters.map(({ id, topic, eventId, attempts, error, createdAt }) => ({ id, topic, eventId, attempts, error: String(error).slice(0, 80), createdAt })));
      }
    },
  },
  {
    command: "dlq-replay <service> [id]",
    description: "Apply a service's dead letters again (one by id, or all) once the cause is fixed",
    async action(broker, args) {
      const results = await broker.call(`${String(args.service)}.replayDeadLetters`, args.id ? { id: String(args.id) } : {});
      console.table(results);
    },
  },
  {
    command: "cluster",
    description: "Nodes and their services; each action's endpoints with calls served, mean latency and circuit state",
    async action(broker) {
      const view = await clusterView(broker, balancerInEffect(config().transporter, config().broker.balancer));
      console.warn(`Balancing: ${view.balancer}`);
      console.table(view.nodes.map(({ id, available, local, cpu, lastHeartbeat, services }) => ({ id, available, local, cpu, lastHeartbeat, services: services.join(", ") })));
      console.table(view.actions.flatMap(({ name, endpoints }) => endpoints.map((ep) => ({ action: name, ...ep }))));
    },
  },
  {
    command: "create-admin <email> <password>",
    description: "Create an admin account, or promote the account with this email",
    async action(broker, args) {
      try {
        const admin: any = await broker.call("users.ensureAdmin", { email: String(args.email), password: String(args.password) });
        console.warn(`Admin ready: ${admin.email} (${admin.id})`);
      } catch (err: any) {
        console.error(`Could not create the admin: ${err.message}${err.data ? ` ${JSON.stringify(err.data)}` : ""}`);
      }
    },
  },
];
