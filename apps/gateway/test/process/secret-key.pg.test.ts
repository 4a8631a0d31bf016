import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { createTestDatabase } from "../harness";
import { PROCESS_ADMIN_TOKEN, runExpectingExit, runGateway, secretKey, workerArgs } from "./built-gateway";

const root = mkdtempSync(join(tmpdir(), "subrelay-secret-key-pg-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));

describe("the secret key check value on Postgres (built gateway and refresh worker)", () => {
  it("a SUBRELAY_SECRET_KEY other than the database's stops the gateway and the worker with exit 2", async () => {
    const database = await createTestDatabase();
    try {
      const env = {
        DATA_DIR: join(root, "data"),
        ADMIN_TOKEN: PROCESS_ADMIN_TOKEN,
        DATABASE_URL: database.url,
      };
      const first = secretKey();
      const run = runGateway({ ...env, SUBRELAY_SECRET_KEY: first });
      try {
        const url = await run.listening;
        expect((await fetch(`${url}/readyz`)).status).toBe(200);
      } finally {
        await run.stop();
      }
      expect((await run.exited).code).toBe(0);

      const wrong = secretKey();
      const gateway = await runExpectingExit({ ...env, SUBRELAY_SECRET_KEY: wrong });
      expect(gateway.listened).toBe(false);
      expect(gateway.output).toContain("SUBRELAY_SECRET_KEY does not match");
      expect(gateway.output).not.toContain(wrong);
      expect(gateway.output).not.toContain(first);
      expect(gateway.code).toBe(2);

      const redisUrl = process.env.REDIS_URL;
      if (!redisUrl) throw new Error("REDIS_URL is not set: run through `node scripts/test-env.mjs -- ...`");
      const worker = await runExpectingExit(
        { ...env, SUBRELAY_SECRET_KEY: wrong, REDIS_URL: redisUrl, WORKER_PORT: "0" },
        { args: workerArgs },
      );
      expect(worker.listened).toBe(false);
      expect(worker.output).toContain("SUBRELAY_SECRET_KEY does not match");
      expect(worker.output).not.toContain(wrong);
      expect(worker.code).toBe(2);
    } finally {
      await database.drop();
    }
  });
});
