import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";

/** The compose file's Redis (issue 13, item 12): bounded memory, evicting only keys that expire anyway. */
describe("docker-compose.yml Redis", () => {
  const compose = readFileSync(new URL("../../../docker-compose.yml", import.meta.url), "utf8");
  const service = /\n {2}redis:\n((?: {4}.*\n|\s*\n)+)/.exec(compose)?.[1] ?? "";
  const command = /command: \[(.*)\]/.exec(service)?.[1] ?? "";
  const args = [...command.matchAll(/"([^"]*)"/g)].map((match) => match[1]);

  it("caps memory and evicts with volatile-lru", () => {
    expect(args[0]).toBe("redis-server");
    expect(args[args.indexOf("--maxmemory") + 1]).toMatch(/^\d+mb$/);
    expect(args[args.indexOf("--maxmemory-policy") + 1]).toBe("volatile-lru");
  });
});
