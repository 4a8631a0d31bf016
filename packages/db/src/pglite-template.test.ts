import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { sql } from "drizzle-orm";
import { afterEach, describe, expect, it } from "vitest";
import { createDatabase, type Database } from "./create-database";
import { generateSecretKey } from "./credential-cipher";
import { installedPgliteVersion, shippedPgliteTemplate, unpackPgliteTemplate } from "./pglite-template";

const folders: string[] = [];
function folder(): string {
  const made = mkdtempSync(join(tmpdir(), "subrelay-template-"));
  folders.push(made);
  return made;
}
afterEach(() => {
  for (const made of folders.splice(0)) rmSync(made, { recursive: true, force: true });
});

async function systemIdentifier(database: Database): Promise<string> {
  const result = (await database.db.execute(
    sql`select system_identifier::text as id from pg_control_system()`,
  )) as {
    rows: Array<{ id: string }>;
  };
  return result.rows[0]!.id;
}

/** A ustar archive of `entries` (name, type "0" file or "5" directory, body). */
function tar(entries: Array<{ name: string; type: "0" | "5"; body?: string }>): Buffer {
  const blocks: Buffer[] = [];
  for (const entry of entries) {
    const header = Buffer.alloc(512);
    const body = Buffer.from(entry.body ?? "");
    header.write(entry.name, 0, 100, "utf8");
    header.write("0000600\0", 100);
    header.write(`${body.length.toString(8).padStart(11, "0")}\0`, 124);
    header.write(entry.type, 156);
    header.write("ustar\0", 257);
    blocks.push(header, body, Buffer.alloc((512 - (body.length % 512)) % 512));
  }
  return Buffer.concat([...blocks, Buffer.alloc(1024)]);
}

describe("the PGlite template (dist/pglite-template.tar.gz)", () => {
  it("is built for the installed PGlite", () => {
    // Built by `pnpm --filter @subrelay/db build` (tsup.config.ts); the test task builds first.
    expect(shippedPgliteTemplate()?.pgliteVersion).toBe(installedPgliteVersion());
  });

  it("is what a new data directory starts from: no initdb in the process", async () => {
    const secretKey = generateSecretKey();
    const [first, second] = [join(folder(), "pglite"), join(folder(), "pglite")];
    const identifiers: string[] = [];
    for (const dataDir of [first, second]) {
      const database = await createDatabase({ dataDir, secretKey });
      try {
        await database.migrate();
        expect(await database.groups.list()).toEqual([]);
        identifiers.push(await systemIdentifier(database));
      } finally {
        await database.close();
      }
    }
    // initdb gives every cluster its own system identifier; copies of one template share it.
    expect(identifiers[0]).toBe(identifiers[1]);
    expect(existsSync(join(first, "PG_VERSION"))).toBe(true);
  }, 60_000);

  it("leaves a data directory that is not empty alone", () => {
    const template = {
      archive: gzipSync(tar([{ name: "/PG_VERSION", type: "0", body: "18\n" }])),
      pgliteVersion: "0",
    };
    const dataDir = folder();
    writeFileSync(join(dataDir, "something"), "kept");
    expect(unpackPgliteTemplate(template, dataDir)).toBe(false);
    expect(readdirSync(dataDir)).toEqual(["something"]);
  });

  it("unpacks files and directories into a missing or empty data directory", () => {
    const template = {
      archive: gzipSync(
        tar([
          { name: "/base", type: "5" },
          { name: "/base/1", type: "0", body: "page" },
          { name: "/PG_VERSION", type: "0", body: "18\n" },
        ]),
      ),
      pgliteVersion: "0",
    };
    const empty = folder();
    expect(unpackPgliteTemplate(template, empty)).toBe(true);
    expect(readFileSync(join(empty, "base", "1"), "utf8")).toBe("page");
    const missing = join(folder(), "pglite");
    expect(unpackPgliteTemplate(template, missing)).toBe(true);
    expect(readFileSync(join(missing, "PG_VERSION"), "utf8")).toBe("18\n");
  });

  it("refuses an entry outside the data directory and leaves nothing behind", () => {
    const parent = folder();
    const dataDir = join(parent, "pglite");
    const template = {
      archive: gzipSync(tar([{ name: "../escaped", type: "0", body: "x" }])),
      pgliteVersion: "0",
    };
    expect(() => unpackPgliteTemplate(template, dataDir)).toThrow(/outside the data directory/);
    expect(readdirSync(parent)).toEqual([]);
  });

  it("is not used when another PGlite version made it", () => {
    const dist = folder();
    mkdirSync(dist, { recursive: true });
    writeFileSync(join(dist, "pglite-template.tar.gz"), gzipSync(tar([])));
    writeFileSync(join(dist, "pglite-template.json"), JSON.stringify({ pglite: "0.0.1" }));
    expect(shippedPgliteTemplate(dist)).toBeUndefined();
    writeFileSync(join(dist, "pglite-template.json"), JSON.stringify({ pglite: installedPgliteVersion() }));
    expect(shippedPgliteTemplate(dist)?.pgliteVersion).toBe(installedPgliteVersion());
  });
});
