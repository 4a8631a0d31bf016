import { createHash, timingSafeEqual } from "node:crypto";
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import type { AccountCooldowns, ApiKeyLimits } from "@subrelay/db";
import type { AdminSessions } from "./admin-sessions";
import type { ApiKeyAuthenticator } from "./api-key-authenticator";
import { GatewayError } from "./gateway-error";
import { LoginThrottle } from "./login-throttle";

export interface GroupInput {
  name: string;
  platform: string;
  mode?: "single" | "mixed";
  /** The model a request gets when it names none the group serves; null or omitted: none. */
  defaultModel?: string | null;
}

export interface GroupPatch {
  name?: string;
  defaultModel?: string | null;
}

export interface AccountInput {
  name: string;
  platform: string;
  type: "oauth" | "apikey";
  /** oauth: `{accessToken?, refreshToken, expiresAt?}` (+ platform extras such as projectId); apikey: `{apiKey}`. */
  credentials: Record<string, unknown>;
  groupIds: number[];
  priority?: number;
  concurrency?: number;
  baseUrl?: string | null;
  models?: string[];
  /** Client model name -> upstream model name (a key ending in `*` matches by prefix); null: none. */
  modelMap?: Record<string, string> | null;
  /** Per-verdict-class cool-downs in ms (`{overloaded, serverError, timeout, rateLimit, max}`), overriding COOLDOWN_*. */
  cooldowns?: AccountCooldowns | null;
}

export interface AccountPatch {
  name?: string;
  credentials?: Record<string, unknown>;
  groupIds?: number[];
  priority?: number;
  concurrency?: number;
  baseUrl?: string | null;
  models?: string[];
  modelMap?: Record<string, string> | null;
  cooldowns?: AccountCooldowns | null;
  /** Replaces the account's rate limits (`[{scope, window?, until}]`, until in epoch ms); `[]` or null clears them. */
  rateLimits?: Array<{ scope: string; window?: string; until: number }> | null;
  status?: "active" | "disabled";
  schedulable?: boolean;
}

export interface ApiKeyInput {
  name: string;
  groupId: number;
  /** Epoch ms (a number) or an ISO 8601 date-time string; in the future; omitted or null: never. */
  expiresAt?: string | number | null;
  /** What the key may do (`ApiKeyLimits` of @subrelay/db); omitted or null: no limits. */
  limits?: ApiKeyLimits | null;
}

/** A change to a key: omitted fields are left alone; null clears `expiresAt` and `limits`. */
export interface ApiKeyPatch {
  name?: string;
  expiresAt?: string | number | null;
  limits?: ApiKeyLimits | null;
}

export interface UsageQuery {
  from?: Date;
  to?: Date;
  groupBy: "account" | "key" | "model";
}

export interface UsageSeriesQuery {
  from?: Date;
  to?: Date;
  step?: "minute" | "hour" | "day";
  /** Omitted: one series, `total`. */
  groupBy?: "account" | "key" | "model";
}

/**
 * What the admin API does, backed by the database. Returned objects never carry secrets. Inputs arrive
 * as the client sent them (only known to be objects): `createAccount`, `updateAccount` and `createApiKey`
 * check them and throw a GatewayError `invalid_request` listing every problem, each naming its field.
 */
export interface AdminService {
  createGroup(input: GroupInput): Promise<object>;
  listGroups(): Promise<object[]>;
  /** Null when no group has the id. Checks `defaultModel` (400 listing the problem). */
  updateGroup(id: string, patch: GroupPatch): Promise<object | null>;
  /** False when no group has the id; a GatewayError `conflict` while API keys that are not revoked use it. */
  deleteGroup(id: string): Promise<boolean>;
  createAccount(input: AccountInput): Promise<object>;
  listAccounts(): Promise<object[]>;
  updateAccount(id: string, patch: AccountPatch): Promise<object | null>;
  deleteAccount(id: string): Promise<boolean>;
  resetAccount(id: string): Promise<object | null>;
  createApiKey(input: ApiKeyInput): Promise<object>;
  listApiKeys(): Promise<object[]>;
  /** Null when no key has the id; a 400 listing every problem of the patch. */
  updateApiKey(id: string, patch: ApiKeyPatch): Promise<object | null>;
  deleteApiKey(id: string): Promise<boolean>;
  usage(query: UsageQuery): Promise<object>;
  /** Usage per time bucket (a 400 for more than 2,000 buckets). */
  usageSeries(query: UsageSeriesQuery): Promise<object>;
  /** `{data, unpriced}`: every price (shipped and overrides, by model) and the models served without one. */
  listPrices(): Promise<object>;
  /**
   * Stores an override of `model`'s price; the price as listed. Checks the model (1 to 200 characters) and
   * the body (exactly the five price fields, each a finite number from 0 to 1,000,000): a 400 listing
   * every problem.
   */
  setPrice(model: string, body: unknown): Promise<object>;
  /** Deletes `model`'s override (back to the shipped price); false when it had none. */
  deletePrice(model: string): Promise<boolean>;
}

/** The console's session cookie. */
export const SESSION_COOKIE = "subrelay_session";

const anyObject = { type: "object" } as const;
// 0 to 2^31 - 1, as digits (the handlers take the id as a string).
const idPattern =
  "^(0|[1-9][0-9]{0,8}|1[0-9]{9}|20[0-9]{8}|21[0-3][0-9]{7}|214[0-6][0-9]{6}|2147[0-3][0-9]{5}|21474[0-7][0-9]{4}|214748[0-2][0-9]{3}|2147483[0-5][0-9]{2}|21474836[0-3][0-9]|214748364[0-7])$";
const idParams = { type: "object", properties: { id: { type: "string", pattern: idPattern } }, required: ["id"] } as const;

/**
 * The admin API under /admin, behind `Authorization: Bearer $ADMIN_TOKEN` or a console session cookie
 * (`POST /admin/session`). A cookie-authenticated request that changes anything must come from the
 * gateway's own origin (or one of `allowedOrigins`): the cookie alone does not show the operator meant it.
 */
export function registerAdminRoutes(
  app: FastifyInstance,
  options: {
    admin: AdminService;
    adminToken: string;
    authenticator: ApiKeyAuthenticator;
    /** The platforms groups and accounts may name: the provider registry's, so a new provider needs no edit here. */
    platforms: readonly string[];
    /** Failed logins allowed per client address at once, and the ms per further one (default 10, 6 s). */
    loginBurst?: number;
    loginRefillMs?: number;
    now?: () => number;
    sessions: AdminSessions;
    /** Origins besides the request's own host a cookie-authenticated change may come from (`ADMIN_ALLOWED_ORIGINS`). */
    allowedOrigins?: readonly string[];
  },
): void {
  const { admin } = options;
  const platform = { type: "string", enum: [...options.platforms] } as const;
  const expected = createHash("sha256").update(options.adminToken).digest();
  const throttle = new LoginThrottle({ burst: options.loginBurst ?? 10, refillMs: options.loginRefillMs ?? 6_000, now: options.now });
  const { sessions } = options;
  const allowedOrigins = new Set(options.allowedOrigins ?? []);
  // Checked before the token: a locked-out address learns nothing, not even from the right token.
  const refuseThrottled = (request: FastifyRequest, reply: FastifyReply) => {
    const wait = throttle.retryAfterSeconds(request.ip);
    if (wait > 0) {
      void reply.header("retry-after", String(wait));
      throw new GatewayError("rate_limited", "Too many failed admin logins from this address; try again later.", {
        retryAfterSeconds: wait,
      });
    }
  };
  const isAdminToken = (token: string) => timingSafeEqual(createHash("sha256").update(token).digest(), expected);
  const loginFailed = (request: FastifyRequest) => {
    const address = request.ip;
    const lockedOut = throttle.fail(address);
    // The address only: the presented token may be a near-miss of the real one.
    app.log.warn(
      { clientAddress: address, method: request.method, path: request.url.split("?")[0], lockedOut },
      lockedOut ? "admin login failed; address throttled" : "admin login failed",
    );
    return new GatewayError("authentication", "Invalid admin token.");
  };
  /** Refuses a request whose Origin is neither the host it was sent to nor an allowed one; `required`: also one without Origin. */
  const refuseCrossSite = (request: FastifyRequest, required: boolean) => {
    const origin = request.headers.origin;
    if (origin === undefined ? !required : isSameOrigin(origin, request.headers.host) || allowedOrigins.has(origin)) return;
    throw new GatewayError("forbidden", "Cross-site request refused.");
  };
  const authorise = async (request: FastifyRequest, reply: FastifyReply) => {
    refuseThrottled(request, reply);
    const header = request.headers.authorization;
    const sessionId = header === undefined ? cookieOf(request.headers.cookie, SESSION_COOKIE) : undefined;
    if (sessionId !== undefined) {
      // A session cookie: checked against the store each time (a revoked one fails on every replica at once).
      // Not counted as a failed login: its value is unguessable, and an ended session's polls must not lock the operator out.
      if ((await sessions.check(sessionId)) === null) throw new GatewayError("authentication", "The session has ended; sign in again.");
      if (!SAFE_METHODS.has(request.method)) refuseCrossSite(request, true);
      return;
    }
    const given = header ?? "";
    if (!given.toLowerCase().startsWith("bearer ") || !isAdminToken(given.replace(/^Bearer\s+/i, ""))) throw loginFailed(request);
  };
  const notFound = (what: string) => new GatewayError("not_found", `${what} not found.`);

  void app.register(
    (admin_, _options, done) => {
      admin_.addHook("onRequest", async (request, reply) => {
        await authorise(request, reply);
      });

      admin_.post(
        "/groups",
        {
          schema: {
            body: {
              type: "object",
              additionalProperties: false,
              required: ["name", "platform"],
              properties: {
                name: { type: "string", minLength: 1, maxLength: 200 },
                platform,
                mode: { type: "string", enum: ["single", "mixed"] },
                // Checked by the service (a schema would coerce a number to a string).
                defaultModel: {},
              },
            },
          },
        },
        async (request, reply) => reply.code(201).send(await admin.createGroup(request.body as GroupInput)),
      );
      admin_.get("/groups", async () => ({ data: await admin.listGroups() }));
      admin_.patch(
        "/groups/:id",
        {
          schema: {
            params: idParams,
            body: {
              type: "object",
              additionalProperties: false,
              properties: { name: { type: "string", minLength: 1, maxLength: 200 }, defaultModel: {} },
            },
          },
        },
        async (request) => {
          const { id } = request.params as { id: string };
          const updated = await admin.updateGroup(id, request.body as GroupPatch);
          if (!updated) throw notFound("Group");
          // Keys carry their group's default model: this process's cached grants are dropped (others' expire).
          options.authenticator.clear();
          return updated;
        },
      );
      admin_.delete("/groups/:id", { schema: { params: idParams } }, async (request, reply) => {
        const { id } = request.params as { id: string };
        if (!(await admin.deleteGroup(id))) throw notFound("Group");
        options.authenticator.clear();
        return reply.code(204).send();
      });

      // The account and key bodies are checked by the input rules of @subrelay/db (the repositories' own),
      // one problem per wrong field; a schema here would be a second set of rules, and Ajv's coercion would
      // read `null` as 0 and a number as a string.
      admin_.post("/accounts", { schema: { body: anyObject } }, async (request, reply) =>
        reply.code(201).send(await admin.createAccount(request.body as AccountInput)),
      );
      admin_.get("/accounts", async () => ({ data: await admin.listAccounts() }));
      admin_.patch("/accounts/:id", { schema: { params: idParams, body: anyObject } }, async (request) => {
        const { id } = request.params as { id: string };
        const updated = await admin.updateAccount(id, request.body as AccountPatch);
        if (!updated) throw notFound("Account");
        return updated;
      });
      admin_.delete("/accounts/:id", { schema: { params: idParams } }, async (request, reply) => {
        const { id } = request.params as { id: string };
        if (!(await admin.deleteAccount(id))) throw notFound("Account");
        return reply.code(204).send();
      });
      admin_.post("/accounts/:id/reset", { schema: { params: idParams } }, async (request) => {
        const { id } = request.params as { id: string };
        const reset = await admin.resetAccount(id);
        if (!reset) throw notFound("Account");
        return reset;
      });

      admin_.post("/api-keys", { schema: { body: anyObject } }, async (request, reply) =>
        reply.code(201).send(await admin.createApiKey(request.body as ApiKeyInput)),
      );
      admin_.get("/api-keys", async () => ({ data: await admin.listApiKeys() }));
      admin_.patch("/api-keys/:id", { schema: { params: idParams, body: anyObject } }, async (request) => {
        const { id } = request.params as { id: string };
        const updated = await admin.updateApiKey(id, request.body as ApiKeyPatch);
        if (!updated) throw notFound("API key");
        // Limits travel with the cached grant: this replica sees the change at once, the others within the cache TTL.
        options.authenticator.clear();
        return updated;
      });
      admin_.delete("/api-keys/:id", { schema: { params: idParams } }, async (request, reply) => {
        const { id } = request.params as { id: string };
        if (!(await admin.deleteApiKey(id))) throw notFound("API key");
        options.authenticator.clear();
        return reply.code(204).send();
      });

      admin_.get(
        "/usage",
        {
          schema: {
            querystring: {
              type: "object",
              properties: {
                from: { type: "string" },
                to: { type: "string" },
                groupBy: { type: "string", enum: ["account", "key", "model"] },
              },
            },
          },
        },
        async (request) => {
          const query = request.query as { from?: string; to?: string; groupBy?: UsageQuery["groupBy"] };
          return admin.usage({
            from: parseDate(query.from, "from"),
            to: parseDate(query.to, "to"),
            groupBy: query.groupBy ?? "account",
          });
        },
      );
      // Prices: the model is a path segment, URL-encoded (`%2F` for a slash); its length is checked by the
      // service with the body, so one 400 lists every problem.
      const modelParams = { type: "object", properties: { model: { type: "string" } }, required: ["model"] } as const;
      admin_.get("/pricing", async () => admin.listPrices());
      admin_.put("/pricing/:model", { schema: { params: modelParams, body: anyObject } }, async (request) => {
        const { model } = request.params as { model: string };
        return admin.setPrice(model, request.body);
      });
      admin_.delete("/pricing/:model", { schema: { params: modelParams } }, async (request, reply) => {
        const { model } = request.params as { model: string };
        if (!(await admin.deletePrice(model))) throw notFound("Price override");
        return reply.code(204).send();
      });

      admin_.get(
        "/usage/series",
        {
          schema: {
            querystring: {
              type: "object",
              properties: {
                from: { type: "string" },
                to: { type: "string" },
                step: { type: "string", enum: ["minute", "hour", "day"] },
                groupBy: { type: "string", enum: ["account", "key", "model"] },
              },
            },
          },
        },
        async (request) => {
          const query = request.query as { from?: string; to?: string; step?: UsageSeriesQuery["step"]; groupBy?: UsageSeriesQuery["groupBy"] };
          return admin.usageSeries({
            from: parseDate(query.from, "from"),
            to: parseDate(query.to, "to"),
            step: query.step,
            groupBy: query.groupBy,
          });
        },
      );
      done();
    },
    { prefix: "/admin" },
  );

  // Console sessions: outside the hook above (signing in is how a browser gets its credentials).
  void app.register(
    (session, _options, done) => {
      const cookie = (request: FastifyRequest, value: string, maxAgeSeconds: number) =>
        `${SESSION_COOKIE}=${value}; ${request.protocol === "https" ? "Secure; " : ""}HttpOnly; SameSite=Strict; Path=/; Max-Age=${maxAgeSeconds}`;
      session.post(
        "/session",
        {
          schema: {
            body: { type: "object", required: ["token"], properties: { token: { type: "string", maxLength: 4096 } } },
          },
        },
        async (request, reply) => {
          refuseThrottled(request, reply);
          // Login CSRF: another site must not sign a browser in to this console (under the operator's name).
          refuseCrossSite(request, false);
          if (!isAdminToken((request.body as { token: string }).token)) throw loginFailed(request);
          const opened = await sessions.open();
          void reply.header("set-cookie", cookie(request, opened.sessionId, Math.floor(sessions.ttlMs / 1000)));
          return { expiresAt: opened.expiresAt };
        },
      );
      session.get("/session", async (request) => {
        const expiresAt = await sessions.check(cookieOf(request.headers.cookie, SESSION_COOKIE));
        if (expiresAt === null) throw new GatewayError("authentication", "Not signed in.");
        return { expiresAt };
      });
      session.delete("/session", async (request, reply) => {
        const sessionId = cookieOf(request.headers.cookie, SESSION_COOKIE);
        if (sessionId !== undefined) {
          refuseCrossSite(request, true);
          await sessions.close(sessionId);
        }
        return reply.code(204).header("set-cookie", `${SESSION_COOKIE}=; Max-Age=0; Path=/; HttpOnly; SameSite=Strict`).send();
      });
      done();
    },
    { prefix: "/admin" },
  );
}

/** Methods that change nothing: no Origin is asked of them. */
const SAFE_METHODS = new Set(["GET", "HEAD", "OPTIONS"]);

/** Whether an Origin header names the host (and port) the request was sent to. */
function isSameOrigin(origin: string, host: string | undefined): boolean {
  if (host === undefined) return false;
  try {
    const url = new URL(origin);
    return (url.protocol === "http:" || url.protocol === "https:") && url.host === new URL(`${url.protocol}//${host}`).host;
  } catch {
    return false;
  }
}

/** The value of cookie `name` in a Cookie header; undefined when absent. */
function cookieOf(header: string | undefined, name: string): string | undefined {
  if (header === undefined) return undefined;
  for (const part of header.split(";")) {
    const separator = part.indexOf("=");
    if (separator !== -1 && part.slice(0, separator).trim() === name) return part.slice(separator + 1).trim();
  }
  return undefined;
}

const MAX_DATE_MS = Date.UTC(9999, 11, 31, 23, 59, 59, 999);

function parseDate(value: string | undefined, name: string): Date | undefined {
  if (value === undefined || value === "") return undefined;
  const date = /^\d+$/.test(value) ? new Date(Number(value)) : new Date(value);
  // Within what a Postgres timestamp holds and a person means: years 1970 to 9999.
  const time = date.getTime();
  if (Number.isNaN(time) || time < 0 || time > MAX_DATE_MS) {
    throw new GatewayError("invalid_request", `${name} must be an ISO 8601 date or epoch ms between 1970 and 9999.`);
  }
  return date;
}
