// A minimal Anthropic-speaking upstream for the benchmark: no recording, fixed answers, so what is
// measured is the gateway. Prints its URL on stdout.
import { createServer } from "node:http";

const message = JSON.stringify({
  id: "msg_bench",
  type: "message",
  role: "assistant",
  model: "claude-sonnet-4-5",
  content: [{ type: "text", text: "Hello from the benchmark upstream." }],
  stop_reason: "end_turn",
  stop_sequence: null,
  usage: { input_tokens: 12, output_tokens: 9, cache_read_input_tokens: 0, cache_creation_input_tokens: 0 },
});
const events = [
  ["message_start", { type: "message_start", message: { id: "msg_bench", type: "message", role: "assistant", model: "claude-sonnet-4-5", content: [], usage: { input_tokens: 12, output_tokens: 1 } } }],
  ["content_block_start", { type: "content_block_start", index: 0, content_block: { type: "text", text: "" } }],
  ...Array.from({ length: 8 }, (_, index) => ["content_block_delta", { type: "content_block_delta", index: 0, delta: { type: "text_delta", text: `word${index} ` } }] as const),
  ["content_block_stop", { type: "content_block_stop", index: 0 }],
  ["message_delta", { type: "message_delta", delta: { stop_reason: "end_turn" }, usage: { output_tokens: 9 } }],
  ["message_stop", { type: "message_stop" }],
].map(([event, data]) => `event: ${event as string}\ndata: ${JSON.stringify(data)}\n\n`);

const server = createServer((request, response) => {
  const chunks: Buffer[] = [];
  request.on("data", (chunk: Buffer) => chunks.push(chunk));
  request.on("end", () => {
    if (request.url?.startsWith("/oauth/token")) {
      response.writeHead(200, { "content-type": "application/json" });
      response.end(JSON.stringify({ access_token: `bench-${Date.now()}`, refresh_token: "bench-refresh", expires_in: 28_800 }));
      return;
    }
    const stream = Buffer.concat(chunks).includes('"stream":true');
    if (!stream) {
      response.writeHead(200, { "content-type": "application/json" });
      response.end(message);
      return;
    }
    response.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache" });
    for (const event of events) response.write(event);
    response.end();
  });
});
server.keepAliveTimeout = 60_000;
server.listen(0, "127.0.0.1", () => {
  const address = server.address();
  if (address && typeof address === "object") process.stdout.write(`http://127.0.0.1:${address.port}\n`);
});
