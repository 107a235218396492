/**
 * The reference for the shop's uncached reads: a bare moleculer-web gateway on a ServiceBroker with
 * default options (no transporter; metrics are off by default) and one local action at the shop's
 * path, answering the same JSON object. Whatever the shop costs beyond this is the shop's own.
 * The object comes as a JSON file (argv[2]); it listens on PORT.
 */
import fs from "node:fs";
import { ServiceBroker } from "moleculer";
import ApiGateway from "moleculer-web";

const product = JSON.parse(fs.readFileSync(process.argv[2], "utf8"));

// The one departure from the defaults: moleculer-web logs every request at info, which the shop
// (LOG_LEVEL=warn) does not pay for either.
const broker = new ServiceBroker({ logLevel: "warn", metrics: false });
broker.createService({ name: "catalog", actions: { get: () => product } });
broker.createService({
  name: "api",
  mixins: [ApiGateway],
  settings: { port: Number(process.env.PORT), ip: "127.0.0.1", routes: [{ path: "/api/v1", aliases: { "GET /products/:id": "catalog.get" } }] },
});
broker.start().catch((err) => {
  console.error(err);
  process.exit(1);
});
