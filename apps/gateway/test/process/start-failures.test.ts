import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { createServer, type Server } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { PROCESS_ADMIN_TOKEN, runExpectingExit, secretKey } from "./built-gateway";

const root = mkdtempSync(join(tmpdir(), "subrelay-start-failures-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));

/** Something else listening on a 127.0.0.1 port, as an old gateway or another service would. */
async function occupiedPort(): Promise<{ port: number; server: Server }> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return { port: (server.address() as { port: number }).port, server };
}

describe("the built gateway's start failures (embedded)", () => {
  it("a port in use stops the start with exit 2 naming host:port, before the data directory is created", async () => {
    const { port, server } = await occupiedPort();
    try {
      const dataDir = join(root, "port-in-use");
      const exit = await runExpectingExit({
        PORT: String(port),
        DATA_DIR: dataDir,
        ADMIN_TOKEN: PROCESS_ADMIN_TOKEN,
        SUBRELAY_SECRET_KEY: secretKey(),
      });
      expect(exit.listened).toBe(false);
      expect(exit.output).toContain(`127.0.0.1:${port} is in use`);
      expect(exit.code, exit.output).toBe(2);
      expect(existsSync(dataDir)).toBe(false);
    } finally {
      server.close();
    }
  });

  it("REDIS_URL and REDIS_CLUSTER_NODES both set is a configuration error (exit 2 naming both)", async () => {
    const exit = await runExpectingExit({
      DATA_DIR: join(root, "both-redis"),
      REDIS_URL: "redis://:redis-secret-pw@127.0.0.1:1",
      REDIS_CLUSTER_NODES: "127.0.0.1:2,127.0.0.1:3",
    });
    expect(exit.listened).toBe(false);
    expect(exit.output).toContain("REDIS_URL and REDIS_CLUSTER_NODES are both set");
    expect(exit.output).not.toContain("redis-secret-pw");
    expect(exit.code).toBe(2);
  });
});
