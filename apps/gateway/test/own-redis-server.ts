import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer, type Server, type Socket, connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";

/** A redis-server of the test's own, to pause without stalling the shared one other test files use. */
export interface OwnRedisServer {
  url: string;
  port: number;
  stop(): void;
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.on("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      const port = typeof address === "object" && address !== null ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

export async function startRedisServer(): Promise<OwnRedisServer> {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), "gateway-redis-"));
  const child: ChildProcess = spawn(
    "redis-server",
    ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", dir],
    { stdio: ["ignore", "pipe", "pipe"] },
  );
  await new Promise<void>((resolve, reject) => {
    let output = "";
    child.stdout!.setEncoding("utf8").on("data", (chunk: string) => {
      output += chunk;
      if (output.includes("Ready to accept connections")) resolve();
    });
    child.once("exit", (code) => reject(new Error(`redis-server exited (${code}): ${output}`)));
  });
  child.stdout!.resume();
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    stop() {
      child.kill("SIGKILL");
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
