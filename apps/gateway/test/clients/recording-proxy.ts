import { createServer, request as httpRequest, type IncomingHttpHeaders } from "node:http";
import type { AddressInfo } from "node:net";

/** One request a client sent through the proxy and the gateway's answer to it. */
export interface Exchange {
  method: string;
  /** Path and query string, as the client sent them. */
  url: string;
  headers: IncomingHttpHeaders;
  /** The request body as UTF-8 text ("" when none). */
  body: string;
  /** The gateway's status; 502 when the gateway could not be reached. */
  status: number;
  responseHeaders: IncomingHttpHeaders;
}

export interface RecordingProxy {
  /** `http://127.0.0.1:<port>`: give it to the client as its base URL. */
  url: string;
  /** Every exchange in the order the gateway answered (status known once the answer's head arrived). */
  exchanges: Exchange[];
  /** Resolves with the first exchange (recorded already or to come) that `predicate` accepts. */
  waitFor(predicate: (exchange: Exchange) => boolean): Promise<Exchange>;
  close(): Promise<void>;
}

/**
 * A plain HTTP proxy on 127.0.0.1 in front of the gateway that records what a real client sent and which status
 * the gateway answered, so a test sees the client's side of every exchange (the fake upstream sees the other).
 * Bodies stream through unchanged, SSE included.
 */
export async function startRecordingProxy(target: string): Promise<RecordingProxy> {
  const origin = new URL(target);
  const exchanges: Exchange[] = [];
  let waiters: Array<{ predicate: (exchange: Exchange) => boolean; resolve: (exchange: Exchange) => void }> =
    [];
  const server = createServer((incoming, outgoing) => {
    const chunks: Buffer[] = [];
    incoming.on("data", (chunk: Buffer) => chunks.push(chunk));
    incoming.on("end", () => {
      const body = Buffer.concat(chunks);
      const record = (status: number, responseHeaders: IncomingHttpHeaders) => {
        const exchange: Exchange = {
          method: incoming.method ?? "GET",
          url: incoming.url ?? "/",
          headers: incoming.headers,
          body: body.toString("utf8"),
          status,
          responseHeaders,
        };
        exchanges.push(exchange);
        waiters = waiters.filter((waiter) => {
          if (!waiter.predicate(exchange)) return true;
          waiter.resolve(exchange);
          return false;
        });
      };
      const forwarded = httpRequest(
        {
          host: origin.hostname,
          port: origin.port,
          method: incoming.method,
          path: incoming.url,
          headers: incoming.headers,
        },
        (answer) => {
          record(answer.statusCode ?? 0, answer.headers);
          outgoing.writeHead(answer.statusCode ?? 502, answer.headers);
          answer.pipe(outgoing);
        },
      );
      forwarded.on("error", () => {
        record(502, {});
        outgoing.destroy();
      });
      forwarded.end(body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    exchanges,
    waitFor(predicate) {
      const seen = exchanges.find(predicate);
      if (seen) return Promise.resolve(seen);
      return new Promise((resolve) => waiters.push({ predicate, resolve }));
    },
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
