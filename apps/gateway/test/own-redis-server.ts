import { mkdtempSync, rmSync } from "node:fs";
import { createServer, type Server, type Socket, connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort, startRedis, type Cleanups } from "../../../scripts/test-servers.mjs";

/** A redis-server of the test's own, to pause without stalling the shared one other test files use. */
export interface OwnRedisServer {
  url: string;
  port: number;
  stop(): void;
}

/** Starts one with the test command's own helper (`scripts/test-servers.mjs`); `stop` kills it and drops its data. */
export async function startRedisServer(): Promise<OwnRedisServer> {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), "gateway-redis-"));
  const cleanups: Cleanups = [];
  await startRedis(port, dir, cleanups);
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    stop() {
      for (const cleanup of cleanups.reverse()) cleanup();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/**
 * A TCP proxy in front of Redis that can lose answers: while `swallowing`, what Redis answers is dropped
 * (and `swallowed` resolves on the first answer lost), as when a connection dies after Redis ran a command
 * but before its answer arrived. `dropClients` then closes the client side, and the client reconnects.
 */
export interface LossyProxy {
  url: string;
  swallowing: boolean;
  swallowed: Promise<void>;
  dropClients(): void;
  close(): Promise<void>;
}

export async function startLossyProxy(target: number): Promise<LossyProxy> {
  const sockets = new Set<Socket>();
  let lost!: () => void;
  const proxy: LossyProxy = {
    url: "",
    swallowing: false,
    swallowed: new Promise<void>((resolve) => (lost = resolve)),
    dropClients: () => {
      for (const socket of sockets) socket.destroy();
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        proxy.dropClients();
      }),
  };
  const server: Server = createServer((client) => {
    const upstream = connect(target, "127.0.0.1");
    sockets.add(client);
    sockets.add(upstream);
    client.on("data", (chunk) => upstream.write(chunk));
    upstream.on("data", (chunk) => {
      if (proxy.swallowing) lost();
      else client.write(chunk);
    });
    const end = () => {
      client.destroy();
      upstream.destroy();
      sockets.delete(client);
      sockets.delete(upstream);
    };
    client.on("close", end).on("error", end);
    upstream.on("close", end).on("error", end);
  });
  const port = await new Promise<number>((resolve) =>
    server.listen(0, "127.0.0.1", () => resolve((server.address() as { port: number }).port)),
  );
  proxy.url = `redis://127.0.0.1:${port}`;
  return proxy;
}
