// The benchmark's floor: the least a Node.js relay can do — node:http in, undici out over a keep-alive
// pool, body passed through untouched — with none of the gateway's work (no key, no account choice, no
// token, no usage). What the gateway costs on top of this is its own; what this costs is Node's.
// Prints its URL on stdout. UPSTREAM_URL: where to relay to.
import { createServer } from "node:http";
import { Agent } from "undici";

const upstream = new URL(process.env.UPSTREAM_URL!);
const dispatcher = new Agent({ connections: 128, keepAliveTimeout: 60_000 });

const server = createServer((request, response) => {
  const chunks: Buffer[] = [];
  request.on("data", (chunk: Buffer) => chunks.push(chunk));
  request.on("end", () => {
    dispatcher
      .request({
        origin: upstream.origin,
        path: request.url ?? "/",
        method: "POST",
        headers: { "content-type": "application/json", "anthropic-version": "2023-06-01" },
        body: Buffer.concat(chunks),
      })
      .then(async (answer) => {
        response.writeHead(answer.statusCode, { "content-type": String(answer.headers["content-type"] ?? "application/json") });
        for await (const chunk of answer.body) response.write(chunk);
        response.end();
      })
      .catch(() => {
        response.writeHead(502).end();
      });
  });
});
server.keepAliveTimeout = 60_000;
server.listen(0, "127.0.0.1", () => {
  const address = server.address();
  if (address && typeof address === "object") process.stdout.write(`http://127.0.0.1:${address.port}\n`);
});
