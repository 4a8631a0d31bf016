import { existsSync, mkdirSync, mkdtempSync, rmSync, unlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { PROCESS_ADMIN_TOKEN, runExpectingExit, runGateway, secretKey } from "./built-gateway";

const root = mkdtempSync(join(tmpdir(), "subrelay-secret-key-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));

/** Starts the built gateway, checks it is ready, stops it. */
async function startAndStop(env: Record<string, string>): Promise<void> {
  const run = runGateway(env);
  try {
    const url = await run.listening;
    expect((await fetch(`${url}/readyz`)).status).toBe(200);
  } finally {
    await run.stop();
  }
  expect((await run.exited).code).toBe(0);
}

describe("the secret key check value on the embedded gateway (built dist/main.js)", () => {
  it("a SUBRELAY_SECRET_KEY other than the one the data was stored with stops the start with exit 2, saying what to restore", async () => {
    const dataDir = join(root, "wrong-env-key");
    mkdirSync(dataDir);
    const first = secretKey();
    await startAndStop({ DATA_DIR: dataDir, ADMIN_TOKEN: PROCESS_ADMIN_TOKEN, SUBRELAY_SECRET_KEY: first });

    const wrong = secretKey();
    const { listened, code, output } = await runExpectingExit({
      DATA_DIR: dataDir,
      ADMIN_TOKEN: PROCESS_ADMIN_TOKEN,
      SUBRELAY_SECRET_KEY: wrong,
    });
    expect(listened).toBe(false);
    expect(output).toMatch(/SUBRELAY_SECRET_KEY does not match/);
    expect(output).toContain("Set SUBRELAY_SECRET_KEY to the key this database was used with");
    expect(output).not.toContain(wrong);
    expect(output).not.toContain(first);
    expect(code).toBe(2);

    // The right key still starts.
    await startAndStop({ DATA_DIR: dataDir, ADMIN_TOKEN: PROCESS_ADMIN_TOKEN, SUBRELAY_SECRET_KEY: first });
  });

  it("a lost <DATA_DIR>/secret-key is not silently regenerated: exit 2, naming the file to restore", async () => {
    const dataDir = join(root, "lost-key-file");
    await startAndStop({ DATA_DIR: dataDir, ADMIN_TOKEN: PROCESS_ADMIN_TOKEN });
    const keyFile = join(dataDir, "secret-key");
    expect(existsSync(keyFile)).toBe(true);
    unlinkSync(keyFile);

    const { listened, code, output } = await runExpectingExit({
      DATA_DIR: dataDir,
      ADMIN_TOKEN: PROCESS_ADMIN_TOKEN,
    });
    expect(listened).toBe(false);
    expect(output).toContain(`Restore ${keyFile} from your backup`);
    expect(code).toBe(2);
    // The key this failed start generated is not left behind for the next start to use.
    expect(existsSync(keyFile)).toBe(false);
  });
});
