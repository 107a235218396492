/** A bare Moleculer node with one service, for transporter tests across processes. */
import os from "node:os";
import { ServiceBroker } from "moleculer";

const broker = new ServiceBroker({
  namespace: process.env.NAMESPACE,
  nodeID: process.env.NODE_ID,
  transporter: { type: "NATS", options: { url: process.env.TRANSPORTER } },
  logLevel: "warn",
});
broker.createService({
  name: "echo",
  actions: {
    ping: (ctx: any) => ({ pong: ctx.params.value, pid: process.pid, host: os.hostname(), nodeID: broker.nodeID }),
  },
});
void broker.start();
