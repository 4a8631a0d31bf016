import { isIP } from "node:net";
import { resolve } from "node:path";

/** Upstream endpoints of one platform; unset values fall back to the adapter's real defaults. */
export interface PlatformEndpoints {
  baseUrl?: string;
  tokenUrl?: string;
}

/**
 * How long an account rests after an upstream refusal, per verdict class, ms; an account's own `cooldowns`
 * override these field by field. Every cool-down, and every reset time an upstream names, is capped at
 * `maxMs` from now.
 */
export interface CooldownSettings {
  /** After an overload that names no retry time (`COOLDOWN_OVERLOADED`). Absent: the provider's default (Claude 60 s, OpenAI and Gemini 30 s). */
  overloadedMs?: number;
  /** After a 5xx that is not an overload (`COOLDOWN_SERVER_ERROR`). 0: the account is left alone. Default 0. */
  serverErrorMs: number;
  /** After a network failure or timeout: no answer at all (`COOLDOWN_TIMEOUT`). 0: left alone. Default 0. */
  timeoutMs: number;
  /** After a 429 that names no reset time (`COOLDOWN_RATE_LIMIT`). Absent: the provider's default (60 s). */
  rateLimitMs?: number;
  /** The longest any cool-down or upstream reset benches an account (`COOLDOWN_MAX`), > 0. Default 3_600_000. */
  maxMs: number;
}

/** The gateway's (and refresh worker's) configuration, validated. One config for both apps. */
export interface GatewayConfig {
  port: number;
  host: string;
  /**
   * Port of the admin listener (`ADMIN_PORT`): set, the admin API and `/metrics` are served there only, and
   * the main listener answers 404 for them. Unset: both on the main listener.
   */
  adminPort?: number;
  /** Where the admin listener binds (`ADMIN_HOST`; needs `ADMIN_PORT`). Default 127.0.0.1: loopback only. */
  adminHost?: string;
  /** Postgres URL; unset: embedded PGlite in `dataDir`. */
  databaseUrl?: string;
  /** Redis URL; unset: in-memory token and scheduler stores (single process). */
  redisUrl?: string;
  /** Comma-separated `host:port` seeds of a Redis Cluster; used instead of redisUrl when set. */
  redisClusterNodes?: string[];
  /** Prepended to every Redis key, so several deployments (or test runs) can share one Redis. Default "subrelay:". */
  redisPrefix: string;
  dataDir: string;
  /** Admin bearer token; unset: generated at first start and kept in `dataDir`. */
  adminToken?: string;
  /** AES-256-GCM key for credentials at rest; required with `databaseUrl`, else generated in `dataDir`. */
  secretKey?: string;
  /** Largest request body accepted, bytes. */
  bodyLimitBytes: number;
  /** How long an upstream may take to send response headers, ms. */
  upstreamHeadersTimeoutMs: number;
  /** Longest silence between two chunks of an upstream body, ms. */
  upstreamBodyTimeoutMs: number;
  /** How long SIGTERM waits for in-flight requests, ms. */
  shutdownGraceMs: number;
  /** Usage rows kept in memory while the database is unreachable; past it the oldest are dropped and counted. */
  usageQueueLimit: number;
  /** Proactive refresh interval and window of the refresh worker's loop, ms. */
  refreshIntervalMs: number;
  refreshWindowMs: number;
  /** Port of the refresh worker's health/metrics server. */
  workerPort: number;
  /** Refreshes run at once per platform by the proactive refresher (`REFRESH_CONCURRENCY`). Default 4. */
  refreshConcurrency?: number;
  /** Refreshes started per second per platform by the proactive refresher (`REFRESH_RATE_PER_SECOND`). Default 5. */
  refreshRatePerSecond?: number;
  /** Outbox rows the consumer reads per batch (`OUTBOX_BATCH_SIZE`). Default 500. */
  outboxBatchSize?: number;
  /** Pause between outbox polls when the consumer has caught up, ms (`OUTBOX_POLL_INTERVAL`). Default 500. */
  outboxPollIntervalMs?: number;
  /** Interval of the full rebuild of every scheduler bucket, ms (`FULL_REBUILD_INTERVAL`). Default 300_000. */
  fullRebuildIntervalMs?: number;
  /** Interval of the sweep clearing ended rate limits / cool-downs in the database, ms (`STATE_JANITOR_INTERVAL`). Default 30_000. */
  stateJanitorIntervalMs?: number;
  logLevel: "fatal" | "error" | "warn" | "info" | "debug" | "trace" | "silent";
  claude: PlatformEndpoints;
  openai: PlatformEndpoints;
  gemini: PlatformEndpoints;
  /** Deepest nesting of objects and arrays in a JSON request body (`MAX_JSON_DEPTH`). Default 400. */
  maxJsonDepth?: number;
  /** Longest model name a client request may give, characters (`MAX_MODEL_NAME_LENGTH`). Default 256. */
  maxModelNameLength?: number;
  /** Failed admin logins a client address may make at once (`ADMIN_LOGIN_BURST`). Default 10. */
  adminLoginBurst?: number;
  /** One more failed admin login allowed per this many ms (`ADMIN_LOGIN_REFILL`). Default 6_000. */
  adminLoginRefillMs?: number;
  /** How long a console session (`POST /admin/session`) lasts, ms (`ADMIN_SESSION_TTL`). Default 12 h; must be > 0. */
  adminSessionTtlMs?: number;
  /**
   * Origins (`ADMIN_ALLOWED_ORIGINS`, comma-separated, e.g. `https://ops.example.com`) besides the request's own
   * host from which a cookie-authenticated admin request may change anything. Default empty: same origin only.
   */
  adminAllowedOrigins?: string[];
  /** Where the built console's static files are (`CONSOLE_DIR`). Unset: `console/` beside the gateway's built main.js. */
  consoleDir?: string;
  /** How long /metrics serves the accounts gauge before reading the accounts again, ms (`METRICS_ACCOUNTS_TTL`). Default 15_000. */
  metricsAccountsTtlMs?: number;
  /** Longest a client may take to send a whole request (headers and body), ms (`REQUEST_TIMEOUT`). Default 60_000. */
  requestTimeoutMs?: number;
  /** A client connection silent both ways this long is closed, ms (`CONNECTION_TIMEOUT`). Default 600_000. */
  connectionTimeoutMs?: number;
  /**
   * A streaming client whose socket has not drained for this long is disconnected, so a client that stops
   * reading cannot hold the upstream stream and the account's slot, ms (`CLIENT_DRAIN_TIMEOUT`). 0: never.
   * Default 30_000.
   */
  clientDrainTimeoutMs?: number;
  /** Client connections open at once; ones past it are closed on accept (`MAX_CONNECTIONS`). Default 10_000. */
  maxConnections?: number;
  /** Sticky-session bindings kept per group; past it the least recently used go (`STICKY_SESSIONS_MAX`). Default 10_000. */
  stickySessionsMax?: number;
  /** How long a sticky-session binding lasts after its last use, ms (`STICKY_TTL`), > 0; every use renews it. Default 3_600_000. */
  stickyTtlMs?: number;
  /**
   * For a request that sends no session id, derive one from its system prompt and first user turn
   * (`STICKY_FROM_CONTENT`), so a conversation stays on one account for prompt caching. Default false.
   */
  stickyFromContent?: boolean;
  /**
   * How long a request waits for its sticky account when that one is at its concurrency, ms
   * (`STICKY_WAIT_TIMEOUT`); then it waits for any account. 0: no waiting for the sticky account. Default 45_000.
   */
  stickyWaitTimeoutMs?: number;
  /** Most requests waiting for one sticky account; more wait for any account (`STICKY_WAIT_LIMIT`). Default 3. */
  stickyWaitLimit?: number;
  /**
   * How long a request waits for a slot on any account of its group when every one is at its concurrency, ms
   * (`WAIT_TIMEOUT`); then a 429 with Retry-After. 0: no waiting, a 429 at once. Default 30_000.
   */
  waitTimeoutMs?: number;
  /** Most requests waiting per group; one more gets a 429 with Retry-After (`WAIT_QUEUE_LIMIT`). Default 1_000. */
  waitQueueLimit?: number;
  /**
   * A streaming request that has waited this long for a slot gets the dialect's keep-alive, ms
   * (`STREAM_PING_AFTER`; Anthropic `event: ping`, an SSE comment for the others). 0: none. Default 10_000.
   */
  streamPingAfterMs?: number;
  /** Then a keep-alive this often while it waits, ms (`STREAM_PING_INTERVAL`). Default 2_000. */
  streamPingIntervalMs?: number;
  /**
   * How long a start waits for Redis's first connection before it gives up naming Redis, ms
   * (`REDIS_START_TIMEOUT`). Default 10_000. Later outages do not stop the process: it degrades.
   */
  redisStartTimeoutMs?: number;
  /**
   * Hosts, IP addresses and CIDR ranges (`UPSTREAM_ALLOWLIST`, comma-separated) an account's own base URL may
   * reach although they are loopback, private or link-local, or over plain http. Default empty: an account's
   * base URL must be https to a public address. The platforms' base URLs set here are trusted regardless.
   */
  upstreamAllowlist?: string[];
  /**
   * The proxies in front of the gateway (`TRUSTED_PROXIES`, comma-separated addresses and CIDR ranges). Default
   * empty: a key's `allowedIps` is matched against the peer address as the listener sees it. With proxies named,
   * a request from one of them is matched against the first address of `X-Forwarded-For` from the right that is not one.
   */
  trustedProxies?: string[];
  /** The IANA time zone of the keys' daily, weekly (from Monday) and monthly budgets (`BUDGET_TIMEZONE`). Default "UTC". */
  budgetTimeZone?: string;
  /** Embedded PGlite's Postgres `shared_buffers` (`PGLITE_SHARED_BUFFERS`, e.g. "16MB"). Default "16MB". */
  pgliteSharedBuffers?: string;
  /**
   * Let V8 optimise PGlite's WebAssembly with TurboFan (`PGLITE_OPTIMIZE_WASM`). Default false: the baseline
   * compiler only (V8's --liftoff-only, for the whole process), ~60-90 MB less RSS (gateway README).
   */
  pgliteOptimizeWasm?: boolean;
  /** Cool-downs per verdict class (`COOLDOWN_*`). Absent: the defaults of CooldownSettings. */
  cooldowns?: CooldownSettings;
  /**
   * Among accounts of equal priority, prefer the one whose exhausted window (of any scope) resets soonest
   * (`PREFER_SOONEST_RESET`), before least recently used. Default true.
   */
  preferSoonestReset?: boolean;
}

/** How long a sticky-session binding lasts after its last use by default (`STICKY_TTL`): an hour. */
const DEFAULT_STICKY_TTL_MS = 3_600_000;

/** How long a console session lasts by default (`ADMIN_SESSION_TTL`): 12 hours. */
const DEFAULT_ADMIN_SESSION_TTL_MS = 12 * 3_600_000;

/** Whether `value` is an origin as browsers send it: scheme, host and optional port, nothing more. */
function isOrigin(value: string): boolean {
  try {
    const url = new URL(value);
    return (url.protocol === "http:" || url.protocol === "https:") && url.origin === value.replace(/\/$/, "");
  } catch {
    return false;
  }
}

/** The longest an account is benched by default (`COOLDOWN_MAX`): an hour. */
export const DEFAULT_COOLDOWN_MAX_MS = 3_600_000;

/** Every configuration problem found, one line each. */
export class ConfigError extends Error {
  override readonly name = "ConfigError";
  constructor(readonly problems: string[]) {
    super(`invalid configuration:\n${problems.map((problem) => `  - ${problem}`).join("\n")}`);
  }
}

type Env = Record<string, string | undefined>;

/** Reads and validates the configuration; throws ConfigError listing every bad value at once. */
export function loadConfig(env: Env = process.env): GatewayConfig {
  const problems: string[] = [];
  const text = (name: string): string | undefined => {
    const value = env[name]?.trim();
    return value === undefined || value === "" ? undefined : value;
  };
  const integer = (name: string, fallback: number, min: number, max: number): number => {
    const raw = text(name);
    if (raw === undefined) return fallback;
    const value = Number(raw);
    if (!Number.isInteger(value) || value < min || value > max) {
      problems.push(`${name} must be an integer from ${min} to ${max}, got "${raw}"`);
      return fallback;
    }
    return value;
  };
  const duration = (name: string, fallbackMs: number): number => {
    const raw = text(name);
    if (raw === undefined) return fallbackMs;
    const parsed = parseDuration(raw);
    if (parsed === undefined) {
      problems.push(`${name} must be a duration such as 500ms, 30s, 5m or 1h (a bare number is milliseconds), got "${raw}"`);
      return fallbackMs;
    }
    return parsed;
  };
  const optionalDuration = (name: string): number | undefined => (text(name) === undefined ? undefined : duration(name, 0));
  const url = (name: string, protocols: string[]): string | undefined => {
    const raw = text(name);
    if (raw === undefined) return undefined;
    try {
      const parsed = new URL(raw);
      if (!protocols.includes(parsed.protocol)) {
        problems.push(`${name} must be a ${protocols.join(" or ")} URL, got protocol "${parsed.protocol}"`);
        return undefined;
      }
      return raw.replace(/\/+$/, "");
    } catch {
      // The value may carry credentials: never echo it.
      problems.push(`${name} is not a valid URL`);
      return undefined;
    }
  };
  const boolean = (name: string, fallback: boolean): boolean => {
    const raw = text(name);
    if (raw === undefined) return fallback;
    if (["true", "1"].includes(raw)) return true;
    if (["false", "0"].includes(raw)) return false;
    problems.push(`${name} must be true or false, got "${raw}"`);
    return fallback;
  };
  const size = (name: string, fallback: string): string => {
    const raw = text(name);
    if (raw === undefined) return fallback;
    if (/^\d+(kB|MB|GB)$/.test(raw)) return raw;
    problems.push(`${name} must be a size such as 16MB (kB, MB or GB), got "${raw}"`);
    return fallback;
  };
  const endpoints = (platform: string): PlatformEndpoints => ({
    baseUrl: url(`SUBRELAY_${platform}_BASE_URL`, ["http:", "https:"]),
    tokenUrl: url(`SUBRELAY_${platform}_TOKEN_URL`, ["http:", "https:"]),
  });

  const databaseUrl = url("DATABASE_URL", ["postgres:", "postgresql:"]);
  const redisUrl = url("REDIS_URL", ["redis:", "rediss:"]);
  const clusterRaw = text("REDIS_CLUSTER_NODES");
  const redisClusterNodes = clusterRaw?.split(",").map((node) => node.trim());
  if (redisClusterNodes?.some((node) => !/^[^:\s]+:\d{1,5}$/.test(node))) {
    problems.push(`REDIS_CLUSTER_NODES must be comma-separated host:port pairs`);
  }
  if (redisUrl && redisClusterNodes) {
    problems.push(
      "REDIS_URL and REDIS_CLUSTER_NODES are both set: set REDIS_URL for one Redis server or REDIS_CLUSTER_NODES for a Redis Cluster, not both",
    );
  }
  const secretKey = text("SUBRELAY_SECRET_KEY");
  if (databaseUrl && !secretKey) {
    problems.push(
      "SUBRELAY_SECRET_KEY is required when DATABASE_URL is set (32 bytes as 64 hex characters or base64); " +
        "generate one with: node -e \"console.log(require('crypto').randomBytes(32).toString('hex'))\"",
    );
  }
  const adminToken = text("ADMIN_TOKEN");
  if (adminToken !== undefined && adminToken.length < 32) {
    problems.push(`ADMIN_TOKEN must be at least 32 characters, got ${adminToken.length}; generate one with: openssl rand -hex 24`);
  }
  const adminPortSet = text("ADMIN_PORT") !== undefined;
  if (text("ADMIN_HOST") !== undefined && !adminPortSet) {
    problems.push("ADMIN_HOST is set but ADMIN_PORT is not: the admin listener needs a port (or unset ADMIN_HOST)");
  }
  const upstreamAllowlist = (text("UPSTREAM_ALLOWLIST") ?? "")
    .split(",")
    .map((entry) => entry.trim())
    .filter((entry) => entry !== "");
  for (const entry of upstreamAllowlist) {
    if (!isHostOrRange(entry)) {
      problems.push(`UPSTREAM_ALLOWLIST entries must be host names, IP addresses or CIDR ranges (10.0.0.0/8, fd00::/8), got "${entry}"`);
    }
  }
  const trustedProxies = (text("TRUSTED_PROXIES") ?? "")
    .split(",")
    .map((entry) => entry.trim())
    .filter((entry) => entry !== "");
  for (const entry of trustedProxies) {
    if (!isAddressOrRange(entry)) problems.push(`TRUSTED_PROXIES entries must be IP addresses or CIDR ranges (10.0.0.0/8, fd00::/8), got "${entry}"`);
  }
  const budgetTimeZone = text("BUDGET_TIMEZONE") ?? "UTC";
  if (!isTimeZone(budgetTimeZone)) problems.push(`BUDGET_TIMEZONE must be an IANA time zone such as UTC or Europe/Paris, got "${budgetTimeZone}"`);
  const adminAllowedOrigins = (text("ADMIN_ALLOWED_ORIGINS") ?? "")
    .split(",")
    .map((entry) => entry.trim())
    .filter((entry) => entry !== "");
  for (const entry of adminAllowedOrigins) {
    if (!isOrigin(entry)) problems.push(`ADMIN_ALLOWED_ORIGINS entries must be origins such as https://ops.example.com, got "${entry}"`);
  }
  const logLevel = (text("LOG_LEVEL") ?? "info") as GatewayConfig["logLevel"];
  if (!["fatal", "error", "warn", "info", "debug", "trace", "silent"].includes(logLevel)) {
    problems.push(`LOG_LEVEL must be one of fatal, error, warn, info, debug, trace, silent, got "${logLevel}"`);
  }

  const config: GatewayConfig = {
    port: integer("PORT", 8080, 0, 65535),
    host: text("HOST") ?? "127.0.0.1",
    adminPort: adminPortSet ? integer("ADMIN_PORT", 0, 0, 65535) : undefined,
    adminHost: adminPortSet ? (text("ADMIN_HOST") ?? "127.0.0.1") : undefined,
    databaseUrl,
    redisUrl,
    redisClusterNodes,
    redisPrefix: text("REDIS_PREFIX") ?? "subrelay:",
    dataDir: resolve(text("DATA_DIR") ?? "./.data"),
    adminToken,
    secretKey,
    bodyLimitBytes: integer("BODY_LIMIT_BYTES", 16 * 1024 * 1024, 1024, 512 * 1024 * 1024),
    upstreamHeadersTimeoutMs: duration("UPSTREAM_HEADERS_TIMEOUT", 120_000),
    upstreamBodyTimeoutMs: duration("UPSTREAM_BODY_TIMEOUT", 300_000),
    shutdownGraceMs: duration("SHUTDOWN_GRACE", 30_000),
    usageQueueLimit: integer("USAGE_QUEUE_LIMIT", 100_000, 100, 10_000_000),
    refreshIntervalMs: duration("REFRESH_INTERVAL", 60_000),
    refreshWindowMs: duration("REFRESH_WINDOW", 30 * 60_000),
    workerPort: integer("WORKER_PORT", 8081, 0, 65535),
    refreshConcurrency: integer("REFRESH_CONCURRENCY", 4, 1, 256),
    refreshRatePerSecond: integer("REFRESH_RATE_PER_SECOND", 5, 1, 10_000),
    outboxBatchSize: integer("OUTBOX_BATCH_SIZE", 500, 1, 100_000),
    outboxPollIntervalMs: duration("OUTBOX_POLL_INTERVAL", 500),
    fullRebuildIntervalMs: duration("FULL_REBUILD_INTERVAL", 300_000),
    stateJanitorIntervalMs: duration("STATE_JANITOR_INTERVAL", 30_000),
    logLevel,
    claude: endpoints("CLAUDE"),
    openai: endpoints("OPENAI"),
    gemini: endpoints("GEMINI"),
    maxJsonDepth: integer("MAX_JSON_DEPTH", 400, 1, 10_000),
    maxModelNameLength: integer("MAX_MODEL_NAME_LENGTH", 256, 1, 100_000),
    adminLoginBurst: integer("ADMIN_LOGIN_BURST", 10, 1, 1_000_000),
    adminLoginRefillMs: duration("ADMIN_LOGIN_REFILL", 6_000),
    adminSessionTtlMs: duration("ADMIN_SESSION_TTL", DEFAULT_ADMIN_SESSION_TTL_MS),
    adminAllowedOrigins,
    consoleDir: text("CONSOLE_DIR"),
    metricsAccountsTtlMs: duration("METRICS_ACCOUNTS_TTL", 15_000),
    requestTimeoutMs: duration("REQUEST_TIMEOUT", 60_000),
    connectionTimeoutMs: duration("CONNECTION_TIMEOUT", 600_000),
    clientDrainTimeoutMs: duration("CLIENT_DRAIN_TIMEOUT", 30_000),
    maxConnections: integer("MAX_CONNECTIONS", 10_000, 1, 1_000_000),
    stickySessionsMax: integer("STICKY_SESSIONS_MAX", 10_000, 1, 10_000_000),
    stickyTtlMs: duration("STICKY_TTL", DEFAULT_STICKY_TTL_MS),
    stickyFromContent: boolean("STICKY_FROM_CONTENT", false),
    stickyWaitTimeoutMs: duration("STICKY_WAIT_TIMEOUT", 45_000),
    stickyWaitLimit: integer("STICKY_WAIT_LIMIT", 3, 0, 1_000_000),
    waitTimeoutMs: duration("WAIT_TIMEOUT", 30_000),
    waitQueueLimit: integer("WAIT_QUEUE_LIMIT", 1_000, 0, 10_000_000),
    streamPingAfterMs: duration("STREAM_PING_AFTER", 10_000),
    streamPingIntervalMs: duration("STREAM_PING_INTERVAL", 2_000),
    redisStartTimeoutMs: duration("REDIS_START_TIMEOUT", 10_000),
    upstreamAllowlist,
    trustedProxies,
    budgetTimeZone,
    pgliteSharedBuffers: size("PGLITE_SHARED_BUFFERS", "16MB"),
    pgliteOptimizeWasm: boolean("PGLITE_OPTIMIZE_WASM", false),
    cooldowns: {
      overloadedMs: optionalDuration("COOLDOWN_OVERLOADED"),
      serverErrorMs: duration("COOLDOWN_SERVER_ERROR", 0),
      timeoutMs: duration("COOLDOWN_TIMEOUT", 0),
      rateLimitMs: optionalDuration("COOLDOWN_RATE_LIMIT"),
      maxMs: duration("COOLDOWN_MAX", DEFAULT_COOLDOWN_MAX_MS),
    },
    preferSoonestReset: boolean("PREFER_SOONEST_RESET", true),
  };
  if (config.adminSessionTtlMs! <= 0) problems.push(`ADMIN_SESSION_TTL must be longer than 0, got "${text("ADMIN_SESSION_TTL")}"`);
  if (config.stickyTtlMs! <= 0) problems.push(`STICKY_TTL must be longer than 0, got "${text("STICKY_TTL")}"`);
  if (config.streamPingIntervalMs! < 100) problems.push(`STREAM_PING_INTERVAL must be at least 100ms, got "${text("STREAM_PING_INTERVAL")}"`);
  if (config.cooldowns!.maxMs <= 0) problems.push(`COOLDOWN_MAX must be longer than 0 (it caps every cool-down), got "${text("COOLDOWN_MAX")}"`);
  if (config.adminPort !== undefined && config.adminPort !== 0 && config.adminPort === config.port) {
    problems.push(`ADMIN_PORT must differ from PORT (both ${config.port})`);
  }
  if (problems.length > 0) throw new ConfigError(problems);
  return config;
}

/** An IP address (IPv6 with or without brackets), or one with a `/prefix`; no host names. */
function isAddressOrRange(entry: string): boolean {
  const address = entry.split("/")[0]!;
  const bare = address.startsWith("[") && address.endsWith("]") ? address.slice(1, -1) : address;
  return isIP(bare) !== 0 && isHostOrRange(entry);
}

/** Whether Intl knows `zone` as a time zone. */
function isTimeZone(zone: string): boolean {
  try {
    new Intl.DateTimeFormat("en-US", { timeZone: zone });
    return true;
  } catch {
    return false;
  }
}

/** A host name, an IP address (IPv6 with or without brackets), or an address with a `/prefix`. */
function isHostOrRange(entry: string): boolean {
  const [address = "", prefix, ...rest] = entry.split("/");
  if (rest.length > 0) return false;
  const bare = address.startsWith("[") && address.endsWith("]") ? address.slice(1, -1) : address;
  const family = isIP(bare);
  if (prefix !== undefined) return family !== 0 && /^\d{1,3}$/.test(prefix) && Number(prefix) <= (family === 4 ? 32 : 128);
  return family !== 0 || /^(?=.{1,253}$)[a-z0-9_]([a-z0-9_-]{0,62})(\.[a-z0-9_]([a-z0-9_-]{0,62}))*\.?$/i.test(address);
}

/** "500ms", "30s", "5m", "1h", or a bare number of milliseconds. */
export function parseDuration(raw: string): number | undefined {
  const match = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(raw.trim());
  if (!match) return undefined;
  const unit = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[match[2] ?? "ms"] ?? 1;
  return Math.round(Number(match[1]) * unit);
}

/** Reads the configuration, or prints every problem and exits with code 2 (both apps' entry points). */
export function loadConfigOrExit(env: Env = process.env): GatewayConfig {
  try {
    return loadConfig(env);
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`${error.message}\n`);
      process.exit(2);
    }
    throw error;
  }
}
