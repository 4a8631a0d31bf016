import { mkdirSync, mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { PROCESS_ADMIN_TOKEN, runGateway, secretKey } from "./built-gateway";

const root = mkdtempSync(join(tmpdir(), "subrelay-data-dir-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));

const mode = (path: string) => statSync(path).mode & 0o777;

describe("the embedded gateway's data directory (built dist/main.js)", () => {
  it("starts on a DATA_DIR that does not exist yet, with ADMIN_TOKEN and SUBRELAY_SECRET_KEY from the environment, and makes it 0700", async () => {
    const dataDir = join(root, "fresh", "nested", "data");
    const run = runGateway({
      DATA_DIR: dataDir,
      ADMIN_TOKEN: PROCESS_ADMIN_TOKEN,
      SUBRELAY_SECRET_KEY: secretKey(),
    });
    try {
      const url = await run.listening;
      expect((await fetch(`${url}/readyz`)).status).toBe(200);
      expect(mode(dataDir).toString(8)).toBe("700");
    } finally {
      await run.stop();
    }
    expect((await run.exited).code).toBe(0);
  });

  it("makes an existing, world-readable DATA_DIR 0700", async () => {
    const dataDir = join(root, "existing");
    mkdirSync(dataDir, { mode: 0o755 });
    expect(mode(dataDir).toString(8)).toBe("755");
    const run = runGateway({
      DATA_DIR: dataDir,
      ADMIN_TOKEN: PROCESS_ADMIN_TOKEN,
      SUBRELAY_SECRET_KEY: secretKey(),
    });
    try {
      await run.listening;
      expect(mode(dataDir).toString(8)).toBe("700");
    } finally {
      await run.stop();
    }
    expect((await run.exited).code).toBe(0);
  });
});
