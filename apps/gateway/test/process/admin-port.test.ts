import { execFile } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { afterAll, describe, expect, it } from "vitest";
import { PROCESS_ADMIN_TOKEN, runGateway, secretKey } from "./built-gateway";

const root = mkdtempSync(join(tmpdir(), "subrelay-admin-port-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));
const cli = fileURLToPath(new URL("../../dist/cli.js", import.meta.url));

describe("ADMIN_PORT on the built gateway (dist/main.js) and its CLI", () => {
  it("prints the admin listener, serves /admin and /metrics there only, and the CLI finds it from ADMIN_PORT", async () => {
    const run = runGateway({
      DATA_DIR: join(root, "data"),
      ADMIN_TOKEN: PROCESS_ADMIN_TOKEN,
      SUBRELAY_SECRET_KEY: secretKey(),
      ADMIN_PORT: "0",
    });
    try {
      const url = await run.listening;
      const adminUrl = /admin API and \/metrics on (http:\/\/127\.0\.0\.1:(\d+))/.exec(run.output());
      expect(adminUrl, run.output()).not.toBeNull();
      const [, admin, port] = adminUrl!;
      const auth = { authorization: `Bearer ${PROCESS_ADMIN_TOKEN}` };
      expect((await fetch(`${admin}/admin/groups`, { headers: auth })).status).toBe(200);
      expect((await fetch(`${admin}/metrics`)).status).toBe(200);
      expect((await fetch(`${url}/admin/groups`, { headers: auth })).status).toBe(404);
      expect((await fetch(`${url}/metrics`)).status).toBe(404);

      const listed = await promisify(execFile)(process.execPath, [cli, "groups", "list"], {
        env: { PATH: process.env.PATH ?? "", ADMIN_PORT: port!, ADMIN_TOKEN: PROCESS_ADMIN_TOKEN },
      });
      expect(JSON.parse(listed.stdout)).toEqual({ data: [] });
    } finally {
      await run.stop();
    }
    expect((await run.exited).code).toBe(0);
  });
});
