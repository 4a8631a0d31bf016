import { mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { tokenCacheKey } from "./connections";
import { dataDirSecret } from "./data-dir-secrets";
import { createDatabase, generateSecretKey, schema } from "@subrelay/db";
import { describeError, serializeError } from "./describe-error";
import { createLogger } from "./logger";
import { createWarnLimiter } from "./warn-limiter";
import { withTimeout } from "./with-timeout";

describe("createWarnLimiter", () => {
  it("logs a message once per interval and counts the ones it held back", () => {
    const lines: unknown[] = [];
    let now = 0;
    const logger = createLogger("warn", { write: (line) => void lines.push(JSON.parse(line)), now: () => now });
    const warn = createWarnLimiter(logger, 1000, () => now);
    warn("redis down", new Error("ECONNREFUSED"));
    warn("redis down", new Error("ECONNREFUSED"));
    warn("redis down", new Error("ECONNREFUSED"));
    warn("database down", new Error("x"));
    now = 1000;
    warn("redis down", new Error("ECONNREFUSED"));
    expect(lines).toMatchObject([
      { level: "warn", msg: "redis down", suppressed: 0, error: "Error: ECONNREFUSED" },
      { level: "warn", msg: "database down", suppressed: 0 },
      { level: "warn", msg: "redis down", suppressed: 2, time: 1000 },
    ]);
  });
});

describe("createLogger", () => {
  it("drops lines below the level and writes nothing when silent", () => {
    const lines: string[] = [];
    createLogger("warn", { write: (line) => void lines.push(line) }).info({}, "hidden");
    createLogger("silent", { write: (line) => void lines.push(line) }).error({}, "hidden");
    expect(lines).toEqual([]);
  });
});

describe("describeError", () => {
  it("keeps an error's class and message, never its other fields", () => {
    const error = Object.assign(new TypeError("bad"), { body: "sk-secret" });
    expect(describeError(error)).toBe("TypeError: bad");
    expect(describeError("plain")).toBe("plain");
  });

  it("never quotes a failed query's parameters, in the message, the serialized error or its stack", async () => {
    const database = await createDatabase({ secretKey: generateSecretKey() });
    try {
      const secret = "sk-ant-oat01-secret-parameter";
      // Not migrated: the table is missing, so the insert fails, and drizzle's message quotes its parameters.
      const failure: unknown = await database.db.insert(schema.groups).values({ name: secret, platform: "claude" }).then(
        () => undefined,
        (error: unknown) => error,
      );
      expect(String((failure as Error).message)).toContain(secret); // drizzle's own message quotes it
      expect(describeError(failure)).toBe("Error: a database query failed (SQLSTATE 42P01)");
      const serialized = serializeError(failure);
      expect(serialized).toMatchObject({ type: "Error", message: expect.stringMatching(/^a database query failed/) as unknown });
      expect(serialized.stack).toMatch(/\n\s+at /);
      expect(JSON.stringify(serialized)).not.toContain(secret);
      expect(describeError(failure)).not.toContain(secret);
    } finally {
      await database.close();
    }
  });
});

describe("withTimeout", () => {
  it("passes a settled value through and rejects a promise that never settles", async () => {
    await expect(withTimeout(Promise.resolve(7), 1000)).resolves.toBe(7);
    await expect(withTimeout(new Promise(() => undefined), 1)).rejects.toThrow("timed out after 1 ms");
  });
});

describe("dataDirSecret", () => {
  let dir: string | undefined;
  afterEach(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it("generates once with mode 0600, then reads the same value", () => {
    dir = mkdtempSync(join(tmpdir(), "subrelay-runtime-"));
    const first = dataDirSecret(join(dir, "data"), "secret-key", () => "generated");
    const second = dataDirSecret(join(dir, "data"), "secret-key", () => "other");
    expect(first).toEqual({ value: "generated", created: true });
    expect(second).toEqual({ value: "generated", created: false });
    expect(readFileSync(join(dir, "data", "secret-key"), "utf8")).toBe("generated\n");
    expect(statSync(join(dir, "data", "secret-key")).mode & 0o777).toBe(0o600);
  });
});

describe("tokenCacheKey", () => {
  it("derives a 32-byte key that differs from the credentials key", () => {
    const secret = "11".repeat(32);
    const key = tokenCacheKey(secret);
    expect(key).toHaveLength(32);
    expect(Buffer.from(key).toString("hex")).not.toBe(secret);
    expect(tokenCacheKey(secret)).toEqual(key);
  });
});
