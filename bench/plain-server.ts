/**
 * The yardstick: a bare node:http server answering the same JSON bytes as the gateway, from memory.
 * Routes come as a JSON file {path: body} (argv[2]); it listens on PORT.
 */
import http from "node:http";
import fs from "node:fs";

const routes = new Map<string, Buffer>(Object.entries(JSON.parse(fs.readFileSync(process.argv[2], "utf8")) as Record<string, string>).map(([p, b]) => [p, Buffer.from(b)]));

http
  .createServer((req, res) => {
    const body = routes.get(req.url ?? "");
    if (!body) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { "Content-Type": "application/json; charset=utf-8", "Content-Length": body.length });
    res.end(body);
  })
  .listen(Number(process.env.PORT), "127.0.0.1");
