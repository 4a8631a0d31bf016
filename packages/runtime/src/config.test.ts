import { describe, expect, it } from "vitest";
import { ConfigError, loadConfig, parseDuration } from "./config";
import { generateAdminToken } from "./data-dir-secrets";

describe("loadConfig", () => {
  it("gives the embedded defaults for an empty environment", () => {
    const config = loadConfig({});
    expect(config).toMatchObject({ port: 8080, host: "127.0.0.1", redisPrefix: "subrelay:", logLevel: "info" });
    expect(config.databaseUrl).toBeUndefined();
    expect(config.redisUrl).toBeUndefined();
    expect(config.claude).toEqual({ baseUrl: undefined, tokenUrl: undefined });
  });

  it("reads every platform's upstream URLs, trailing slashes dropped", () => {
    const config = loadConfig({
      SUBRELAY_CLAUDE_BASE_URL: "http://127.0.0.1:1/",
      SUBRELAY_OPENAI_TOKEN_URL: "http://127.0.0.1:2/oauth/token",
      SUBRELAY_GEMINI_BASE_URL: "https://proxy.example//",
    });
    expect(config.claude.baseUrl).toBe("http://127.0.0.1:1");
    expect(config.openai.tokenUrl).toBe("http://127.0.0.1:2/oauth/token");
    expect(config.gemini.baseUrl).toBe("https://proxy.example");
  });

  it("lists every problem at once and never echoes a URL that may hold credentials", () => {
    let caught: unknown;
    try {
      loadConfig({
        PORT: "70000",
        DATABASE_URL: "postgres://user:hunter2@[bad",
        REDIS_CLUSTER_NODES: "a:1,b",
        LOG_LEVEL: "loud",
        REFRESH_INTERVAL: "soon",
        ADMIN_TOKEN: "short",
      });
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(ConfigError);
    const problems = (caught as ConfigError).problems;
    expect(problems).toHaveLength(6);
    expect(problems.join("\n")).toContain('PORT must be an integer from 0 to 65535, got "70000"');
    expect((caught as ConfigError).message).not.toContain("hunter2");
  });

  it("requires a secret key with Postgres", () => {
    expect(() => loadConfig({ DATABASE_URL: "postgres://db/subrelay" })).toThrow(/SUBRELAY_SECRET_KEY is required/);
    expect(loadConfig({ DATABASE_URL: "postgres://db/subrelay", SUBRELAY_SECRET_KEY: "k".repeat(64) }).databaseUrl).toBe(
      "postgres://db/subrelay",
    );
  });
});

describe("ADMIN_TOKEN", () => {
  it("must be at least 32 characters; the error names the variable, not the value", () => {
    const short = "x".repeat(31);
    expect(() => loadConfig({ ADMIN_TOKEN: short })).toThrow(/ADMIN_TOKEN must be at least 32 characters/);
    try {
      loadConfig({ ADMIN_TOKEN: short });
    } catch (error) {
      expect((error as Error).message).not.toContain(short);
    }
    expect(loadConfig({ ADMIN_TOKEN: "x".repeat(32) }).adminToken).toBe("x".repeat(32));
  });

  it("is generated long enough when the data directory makes one", () => {
    for (let index = 0; index < 20; index++) expect(generateAdminToken().length).toBeGreaterThanOrEqual(32);
  });
});

describe("loadConfig: client limits", () => {
  it("defaults the request timeout, connection timeout, connection cap and body limit", () => {
    expect(loadConfig({})).toMatchObject({ requestTimeoutMs: 60_000, connectionTimeoutMs: 600_000, maxConnections: 10_000, bodyLimitBytes: 16 * 1024 * 1024 });
  });

  it("reads them from the environment and refuses a bad value", () => {
    expect(loadConfig({ REQUEST_TIMEOUT: "5s", CONNECTION_TIMEOUT: "2m", MAX_CONNECTIONS: "50" })).toMatchObject({
      requestTimeoutMs: 5_000,
      connectionTimeoutMs: 120_000,
      maxConnections: 50,
    });
    expect(() => loadConfig({ MAX_CONNECTIONS: "0" })).toThrow(/MAX_CONNECTIONS/);
    expect(() => loadConfig({ REQUEST_TIMEOUT: "soon" })).toThrow(/REQUEST_TIMEOUT/);
  });
});

describe("loadConfig: embedded PGlite memory", () => {
  it("defaults shared_buffers to 16MB and PGlite's WebAssembly to the baseline compiler", () => {
    expect(loadConfig({})).toMatchObject({ pgliteSharedBuffers: "16MB", pgliteOptimizeWasm: false });
  });

  it("reads them from the environment and refuses a bad value", () => {
    expect(loadConfig({ PGLITE_SHARED_BUFFERS: "64MB", PGLITE_OPTIMIZE_WASM: "true" })).toMatchObject({
      pgliteSharedBuffers: "64MB",
      pgliteOptimizeWasm: true,
    });
    expect(() => loadConfig({ PGLITE_SHARED_BUFFERS: "lots" })).toThrow(/PGLITE_SHARED_BUFFERS/);
    expect(() => loadConfig({ PGLITE_OPTIMIZE_WASM: "maybe" })).toThrow(/PGLITE_OPTIMIZE_WASM/);
  });
});

describe("parseDuration", () => {
  it.each([
    ["500ms", 500],
    ["30s", 30_000],
    ["5m", 300_000],
    ["1h", 3_600_000],
    ["250", 250],
    ["1.5s", 1500],
  ])("%s is %d ms", (raw, ms) => {
    expect(parseDuration(raw)).toBe(ms);
  });

  it.each(["", "s", "-1s", "1d", "1 s s"])("refuses %j", (raw) => {
    expect(parseDuration(raw)).toBeUndefined();
  });
});
