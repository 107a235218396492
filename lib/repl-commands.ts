/** The operator's own commands in the broker REPL (`npm run repl`), next to Moleculer's. */
import type { ServiceBroker } from "moleculer";

interface ReplCommand {
  command: string;
  description: string;
  action(broker: ServiceBroker, args: Record<string, any>): Promise<void>;
}

export const replCommands: ReplCommand[] = [
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
