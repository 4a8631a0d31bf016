import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { openDatabase } from "./connections";

const folders: string[] = [];
afterEach(() => {
  for (const folder of folders.splice(0)) rmSync(folder, { recursive: true, force: true });
});

describe("openDatabase (embedded)", () => {
  it("starts PGlite with PGLITE_SHARED_BUFFERS", async () => {
    const dataDir = mkdtempSync(join(tmpdir(), "subrelay-runtime-"));
    folders.push(dataDir);
    const database = await openDatabase({ dataDir, pgliteSharedBuffers: "8MB", pgliteOptimizeWasm: true });
    try {
      const result = (await database.db.execute("show shared_buffers")) as { rows: Array<{ shared_buffers: string }> };
      expect(result.rows[0]?.shared_buffers).toBe("8MB");
    } finally {
      await database.close();
    }
  }, 60_000);
});
