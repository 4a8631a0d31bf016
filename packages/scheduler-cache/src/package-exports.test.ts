import { existsSync } from "node:fs";
import { createRequire } from "node:module";
import { describe, expect, it } from "vitest";

const names = ["RedisSchedulerCache", "MemorySchedulerCache", "formatBucket", "parseBucket", "CachedSchedulerReader", "SchedulerCacheError"];

// Runs against the build (turbo builds before test): proves the published ESM, CJS and d.ts entry points.
describe("published entry points", () => {
  it("dist/index.cjs exposes the public API to require()", () => {
    const exports = createRequire(import.meta.url)("../dist/index.cjs") as Record<string, unknown>;
    for (const name of names) expect(typeof exports[name], name).toBe("function");
    expect((exports.formatBucket as (bucket: object) => string)({ groupId: 1, platform: "claude", mode: "single" })).toBe("1:claude:single");
  });

  it("dist/index.js exposes the public API to import()", async () => {
    const exports = (await import(new URL("../dist/index.js", import.meta.url).href)) as Record<string, unknown>;
    for (const name of names) expect(typeof exports[name], name).toBe("function");
    expect((exports.parseBucket as (raw: string) => unknown)("1:claude")).toBeNull();
  });

  it("ships type declarations for both", () => {
    expect(existsSync(new URL("../dist/index.d.ts", import.meta.url))).toBe(true);
    expect(existsSync(new URL("../dist/index.d.cts", import.meta.url))).toBe(true);
  });
});
