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

  it("reads the COOLDOWN_* durations: server errors and timeouts leave the account alone, the providers' fallbacks stay, an hour's cap", () => {
    expect(loadConfig({}).cooldowns).toEqual({
      overloadedMs: undefined,
      serverErrorMs: 0,
      timeoutMs: 0,
      rateLimitMs: undefined,
      maxMs: 3_600_000,
    });
    expect(
      loadConfig({ COOLDOWN_OVERLOADED: "45s", COOLDOWN_SERVER_ERROR: "30s", COOLDOWN_TIMEOUT: "10s", COOLDOWN_RATE_LIMIT: "2m", COOLDOWN_MAX: "15m" })
        .cooldowns,
    ).toEqual({ overloadedMs: 45_000, serverErrorMs: 30_000, timeoutMs: 10_000, rateLimitMs: 120_000, maxMs: 900_000 });
    expect(loadConfig({ COOLDOWN_OVERLOADED: "0" }).cooldowns?.overloadedMs).toBe(0);
    expect(() => loadConfig({ COOLDOWN_SERVER_ERROR: "a while" })).toThrow(/COOLDOWN_SERVER_ERROR/);
    expect(() => loadConfig({ COOLDOWN_MAX: "0" })).toThrow(/COOLDOWN_MAX/);
    expect(() => loadConfig({ COOLDOWN_MAX: "5d" })).toThrow(/COOLDOWN_MAX/);
  });

  it("reads CLIENT_DRAIN_TIMEOUT as a duration, 30 s by default", () => {
    expect(loadConfig({}).clientDrainTimeoutMs).toBe(30_000);
    expect(loadConfig({ CLIENT_DRAIN_TIMEOUT: "5s" }).clientDrainTimeoutMs).toBe(5_000);
    expect(loadConfig({ CLIENT_DRAIN_TIMEOUT: "250" }).clientDrainTimeoutMs).toBe(250);
    expect(() => loadConfig({ CLIENT_DRAIN_TIMEOUT: "later" })).toThrow(/CLIENT_DRAIN_TIMEOUT/);
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

  it("reads UPSTREAM_ALLOWLIST as hosts, addresses and ranges (default empty), refusing anything else", () => {
    expect(loadConfig({}).upstreamAllowlist).toEqual([]);
    expect(loadConfig({ UPSTREAM_ALLOWLIST: " 127.0.0.1, llm.internal ,10.0.0.0/8,fd00::/8,[::1]," }).upstreamAllowlist).toEqual([
      "127.0.0.1",
      "llm.internal",
      "10.0.0.0/8",
      "fd00::/8",
      "[::1]",
    ]);
    for (const entry of ["10.0.0.0/33", "http://x", "a b", "::1/129", "host/8"]) {
      expect(() => loadConfig({ UPSTREAM_ALLOWLIST: entry }), entry).toThrow(/UPSTREAM_ALLOWLIST/);
    }
  });
});

describe("loadConfig: sticky sessions", () => {
  it("keeps 10,000 bindings per group by default, STICKY_SESSIONS_MAX sets it, and a bad value is refused", () => {
    expect(loadConfig({}).stickySessionsMax).toBe(10_000);
    expect(loadConfig({ STICKY_SESSIONS_MAX: "500" }).stickySessionsMax).toBe(500);
    expect(() => loadConfig({ STICKY_SESSIONS_MAX: "0" })).toThrow(/STICKY_SESSIONS_MAX/);
  });

  it("keeps console sessions 12 h by default, ADMIN_SESSION_TTL sets it, and a zero or bad value is refused", () => {
    expect(loadConfig({}).adminSessionTtlMs).toBe(12 * 3_600_000);
    expect(loadConfig({ ADMIN_SESSION_TTL: "30m" }).adminSessionTtlMs).toBe(1_800_000);
    expect(() => loadConfig({ ADMIN_SESSION_TTL: "0" })).toThrow(/ADMIN_SESSION_TTL must be longer than 0/);
    expect(() => loadConfig({ ADMIN_SESSION_TTL: "half a day" })).toThrow(/ADMIN_SESSION_TTL/);
  });

  it("reads TRUSTED_PROXIES as addresses and ranges (default empty) and BUDGET_TIMEZONE as an IANA zone (default UTC)", () => {
    expect(loadConfig({}).trustedProxies).toEqual([]);
    expect(loadConfig({ TRUSTED_PROXIES: " 10.0.0.0/8, 127.0.0.1 ,fd00::/8," }).trustedProxies).toEqual(["10.0.0.0/8", "127.0.0.1", "fd00::/8"]);
    for (const entry of ["proxy.internal", "10.0.0.0/33", "10.0.0.1/8/1"]) {
      expect(() => loadConfig({ TRUSTED_PROXIES: entry }), entry).toThrow(/TRUSTED_PROXIES/);
    }
    expect(loadConfig({}).budgetTimeZone).toBe("UTC");
    expect(loadConfig({ BUDGET_TIMEZONE: "Europe/Paris" }).budgetTimeZone).toBe("Europe/Paris");
    expect(() => loadConfig({ BUDGET_TIMEZONE: "Mars/Olympus" })).toThrow(/BUDGET_TIMEZONE/);
  });

  it("reads ADMIN_ALLOWED_ORIGINS as a list of origins and CONSOLE_DIR as a path", () => {
    expect(loadConfig({}).adminAllowedOrigins).toEqual([]);
    expect(loadConfig({ ADMIN_ALLOWED_ORIGINS: "https://ops.example.com, http://localhost:5173" }).adminAllowedOrigins).toEqual([
      "https://ops.example.com",
      "http://localhost:5173",
    ]);
    expect(() => loadConfig({ ADMIN_ALLOWED_ORIGINS: "ops.example.com" })).toThrow(/ADMIN_ALLOWED_ORIGINS/);
    expect(() => loadConfig({ ADMIN_ALLOWED_ORIGINS: "https://ops.example.com/path" })).toThrow(/ADMIN_ALLOWED_ORIGINS/);
    expect(loadConfig({}).consoleDir).toBeUndefined();
    expect(loadConfig({ CONSOLE_DIR: "/srv/console" }).consoleDir).toBe("/srv/console");
  });

  it("binds for an hour by default, STICKY_TTL sets it, and a zero or bad value is refused", () => {
    expect(loadConfig({}).stickyTtlMs).toBe(3_600_000);
    expect(loadConfig({ STICKY_TTL: "15m" }).stickyTtlMs).toBe(900_000);
    expect(loadConfig({ STICKY_TTL: "2s" }).stickyTtlMs).toBe(2_000);
    expect(() => loadConfig({ STICKY_TTL: "0" })).toThrow(/STICKY_TTL must be longer than 0/);
    expect(() => loadConfig({ STICKY_TTL: "an hour" })).toThrow(/STICKY_TTL/);
  });

  it("prefers the soonest reset among equals unless PREFER_SOONEST_RESET is off", () => {
    expect(loadConfig({}).preferSoonestReset).toBe(true);
    expect(loadConfig({ PREFER_SOONEST_RESET: "false" }).preferSoonestReset).toBe(false);
    expect(() => loadConfig({ PREFER_SOONEST_RESET: "sometimes" })).toThrow(/PREFER_SOONEST_RESET/);
  });

  it("waits for slots by default (STICKY_WAIT_*, WAIT_*, STREAM_PING_*), each settable, 0 turning waiting off", () => {
    expect(loadConfig({})).toMatchObject({
      stickyWaitTimeoutMs: 45_000,
      stickyWaitLimit: 3,
      waitTimeoutMs: 30_000,
      waitQueueLimit: 1_000,
      streamPingAfterMs: 10_000,
      streamPingIntervalMs: 2_000,
    });
    expect(loadConfig({ WAIT_TIMEOUT: "0", STICKY_WAIT_TIMEOUT: "0", WAIT_QUEUE_LIMIT: "5", STREAM_PING_AFTER: "500ms" })).toMatchObject({
      waitTimeoutMs: 0,
      stickyWaitTimeoutMs: 0,
      waitQueueLimit: 5,
      streamPingAfterMs: 500,
    });
    expect(() => loadConfig({ WAIT_QUEUE_LIMIT: "-1" })).toThrow(/WAIT_QUEUE_LIMIT/);
    expect(() => loadConfig({ STREAM_PING_INTERVAL: "10ms" })).toThrow(/STREAM_PING_INTERVAL must be at least 100ms/);
  });

  it("derives no session id from the content unless STICKY_FROM_CONTENT is on", () => {
    expect(loadConfig({}).stickyFromContent).toBe(false);
    expect(loadConfig({ STICKY_FROM_CONTENT: "true" }).stickyFromContent).toBe(true);
    expect(loadConfig({ STICKY_FROM_CONTENT: "0" }).stickyFromContent).toBe(false);
    expect(() => loadConfig({ STICKY_FROM_CONTENT: "yes" })).toThrow(/STICKY_FROM_CONTENT/);
  });
});

describe("loadConfig: the admin listener", () => {
  it("is off unless ADMIN_PORT is set; set, it binds to loopback whatever HOST is, or to ADMIN_HOST", () => {
    expect(loadConfig({})).toMatchObject({ adminPort: undefined, adminHost: undefined });
    expect(loadConfig({ HOST: "0.0.0.0", ADMIN_PORT: "9090" })).toMatchObject({ host: "0.0.0.0", adminPort: 9090, adminHost: "127.0.0.1" });
    expect(loadConfig({ ADMIN_PORT: "9090", ADMIN_HOST: "10.0.0.5" })).toMatchObject({ adminPort: 9090, adminHost: "10.0.0.5" });
  });

  it("refuses ADMIN_HOST without ADMIN_PORT, a bad port, and the main listener's port", () => {
    expect(() => loadConfig({ ADMIN_HOST: "127.0.0.1" })).toThrow(/ADMIN_HOST is set but ADMIN_PORT is not/);
    expect(() => loadConfig({ ADMIN_PORT: "http" })).toThrow(/ADMIN_PORT must be an integer/);
    expect(() => loadConfig({ PORT: "8080", ADMIN_PORT: "8080" })).toThrow(/ADMIN_PORT must differ from PORT/);
  });
});

describe("REDIS_URL and REDIS_CLUSTER_NODES", () => {
  it("are one or the other: both set is a problem naming both, never echoing the URL", () => {
    let caught: unknown;
    try {
      loadConfig({ REDIS_URL: "redis://:hunter2@127.0.0.1:6379", REDIS_CLUSTER_NODES: "127.0.0.1:7000,127.0.0.1:7001" });
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(ConfigError);
    expect((caught as ConfigError).problems).toEqual([
      "REDIS_URL and REDIS_CLUSTER_NODES are both set: set REDIS_URL for one Redis server or REDIS_CLUSTER_NODES for a Redis Cluster, not both",
    ]);
    expect((caught as ConfigError).message).not.toContain("hunter2");
    expect(loadConfig({ REDIS_URL: "redis://127.0.0.1:6379" }).redisUrl).toBe("redis://127.0.0.1:6379");
    expect(loadConfig({ REDIS_CLUSTER_NODES: "127.0.0.1:7000" }).redisClusterNodes).toEqual(["127.0.0.1:7000"]);
  });
});

describe("REDIS_START_TIMEOUT", () => {
  it("is how long a start waits for Redis, 10s unless set", () => {
    expect(loadConfig({}).redisStartTimeoutMs).toBe(10_000);
    expect(loadConfig({ REDIS_START_TIMEOUT: "500ms" }).redisStartTimeoutMs).toBe(500);
    expect(() => loadConfig({ REDIS_START_TIMEOUT: "soon" })).toThrow(/REDIS_START_TIMEOUT must be a duration/);
  });
});
