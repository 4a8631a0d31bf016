import { randomUUID } from "node:crypto";
import { STATUS_CODES } from "node:http";
import type { Socket } from "node:net";
import Fastify, { LogController, type FastifyInstance, type FastifyReply, type FastifyRequest } from "fastify";
import { DatabaseError } from "@subrelay/db";
import { logOptions, type GatewayConfig } from "@subrelay/runtime";
import { ProviderError, type Dialect, type ProviderRegistry } from "@subrelay/providers-core";
import { serializeError } from "@subrelay/runtime";
import type { ApiKeyAuthenticator, ApiKeyGrant } from "./api-key-authenticator";
import { Cancellation } from "./cancellation";
import { AddressList, clientAddress } from "./client-address";
import { checkClientAddress } from "./key-access";
import type { KeyLimits } from "./key-limits";
import { registerKeyUsageRoute } from "./key-usage-routes";
import { NodeResponseSink } from "./client-response";
import { dialectNamed, dialectOf, dialects, forwardedQueryOf, type ClientDialect, type DialectRequest, type DialectRoute } from "./dialects";
import { GatewayError, invalidInput } from "./gateway-error";
import type { GatewayMetrics } from "./gateway-metrics";
import type { Relay } from "./relay";
import { registerAdminRoutes, type AdminService } from "./admin-routes";
import type { AdminSessions } from "./admin-sessions";
import { registerConsoleRoutes } from "./console-routes";
import { accountsOf, modelsFor, registerDiscoveryRoutes, type GroupAccounts } from "./discovery-routes";

export interface AppDependencies {
  relay: Relay;
  authenticator: ApiKeyAuthenticator;
  providers: ProviderRegistry;
  /** The accounts of a key's group (the relay's candidates), for the model lists. */
  candidates: GroupAccounts;
  metrics: GatewayMetrics;
  admin: AdminService;
  adminToken: string;
  /** Console sessions (`POST /admin/session`). */
  adminSessions: AdminSessions;
  /** Origins besides the request's own host a cookie-authenticated admin change may come from (`ADMIN_ALLOWED_ORIGINS`). */
  adminAllowedOrigins?: readonly string[];
  /**
   * The built console's directory, served at `/console/` beside the admin API (shared and admin listeners).
   * Undefined or missing: `/console` answers 404 saying the console is not built.
   */
  consoleDir?: string;
  bodyLimitBytes: number;
  /** The deepest nesting of objects and arrays a JSON body may have (default 400). */
  maxJsonDepth?: number;
  /** The longest model name a request may give (default 256). */
  maxModelLength?: number;
  /** Rates and budgets per key, for `/v1/usage`; without it the route is not served. */
  keyLimits?: KeyLimits;
  /** The proxies in front of the gateway (`TRUSTED_PROXIES`): a key's `allowedIps` then match the first untrusted X-Forwarded-For hop. */
  trustedProxies?: readonly string[];
  /** Derive a session id from a request's system prompt and first user turn when it sends none (`STICKY_FROM_CONTENT`). */
  stickyFromContent?: boolean;
  /** Whether each backing service answers; null for one that is not configured. */
  readiness(): Promise<Record<string, boolean | null>>;
  /** Called before /metrics is rendered, to refresh gauges. */
  collectMetrics?(): Promise<void>;
  logLevel: GatewayConfig["logLevel"];
  /** Where log lines go (one JSON line per write); default stdout. */
  logStream?: { write(line: string): void };
  now?: () => number;
  /** Failed admin logins allowed per client address at once, and the ms per further one (default 10, 6 s). */
  adminLoginBurst?: number;
  adminLoginRefillMs?: number;
  /** Longest a client may take to send a whole request, ms; 0: no limit. Default 60 s. Streams out are not cut. */
  requestTimeoutMs?: number;
  /** A client socket silent both ways this long is destroyed, ms; 0: never. Default 10 min. */
  connectionTimeoutMs?: number;
  /** A streaming client that has not drained its socket this long is disconnected, ms; 0: never. Default 30 s. */
  clientDrainTimeoutMs?: number;
  /** Client connections open at once; more are closed as they are accepted. Default 10,000. */
  maxConnections?: number;
  /**
   * What this listener serves. `shared` (default): everything. With an admin listener of its own
   * (`ADMIN_PORT`) the gateway builds two apps: `client` (the client API and health checks; 404 for `/admin`
   * and `/metrics`) and `admin` (the admin API, `/metrics` and health checks; 404 for the client API).
   */
  listener?: "shared" | "client" | "admin";
}

declare module "fastify" {
  interface FastifyContextConfig {
    dialect?: Dialect;
  }
  interface FastifyRequest {
    /** The caller's key grant, set by a relay route's onRequest hook before the body is read. */
    grant: ApiKeyGrant | null;
    /** The platform and account that answered a relayed request (for the access line); null when none did. */
    platform: string | null;
    accountId: string | null;
  }
}

/**
 * A session id from the conversation's opening, scoped to the caller's key: two keys (two tenants) never
 * share a binding, and a client's own ids (any string) cannot be told apart from these only by luck.
 */
function contentSessionIdOf(dialect: ClientDialect, read: DialectRequest, operation: DialectRoute["operation"], grant: ApiKeyGrant): string | undefined {
  const digest = dialect.contentSessionId(read, operation);
  return digest === undefined ? undefined : `content:${grant.apiKeyId}:${digest}`;
}

/** The gateway's HTTP surface: the client API in three dialects, health, metrics and the admin API (see `listener`). */
export function buildApp(deps: AppDependencies): FastifyInstance {
  const now = deps.now ?? Date.now;
  const maxModelLength = deps.maxModelLength ?? DEFAULT_MAX_MODEL_LENGTH;
  const requestTimeout = deps.requestTimeoutMs ?? 60_000;
  const app = Fastify({
    bodyLimit: deps.bodyLimitBytes,
    // A request (headers and body) must arrive within requestTimeout, however steadily it trickles; the answer
    // (a long stream) is not limited by it. Node 20 applies it only when given to http.createServer (Fastify's
    // own option sets it afterwards), and checks open requests every connectionsCheckingInterval (its default
    // 30 s would let a 60 s limit run to 90 s).
    requestTimeout,
    connectionTimeout: deps.connectionTimeoutMs ?? 600_000,
    http: { requestTimeout, connectionsCheckingInterval: Math.max(10, Math.min(30_000, Math.ceil(requestTimeout / 4))) },
    logger: {
      // The refresh worker's line format (level by name, no hostname): one log shape for both apps.
      ...logOptions(deps.logLevel),
      ...(deps.logStream ? { stream: deps.logStream } : {}),
      redact: {
        paths: [
          "req.headers.authorization",
          'req.headers["x-api-key"]',
          'req.headers["x-goog-api-key"]',
          "req.query.key",
        ],
        censor: "[redacted]",
      },
      serializers: {
        // The URL may carry a Gemini `?key=`: log the path only.
        req: (request: FastifyRequest) => ({ method: request.method, url: request.url.split("?")[0] }),
        // A failed query's parameters (credentials, key digests, client input) never reach the log.
        err: serializeError,
      },
    },
    genReqId: () => randomUUID(),
    // A path parameter (an admin price's model: 200 characters, URL-encoded up to 12 each) may be this long;
    // Fastify's default of 100 would answer a long model name with a 414 before the 400 that names it.
    maxParamLength: 2_400,
    // Every failed schema rule is reported (one problem each), not only the first.
    ajv: { customOptions: { allErrors: true } },
    // Not Fastify's two lines per request (incoming, completed): the one access line below, written on close.
    logController: new LogController({ disableRequestLogging: true }),
    // Requests Node's HTTP parser refuses (headers too large, a malformed request line) never reach Fastify:
    // they are answered on the socket, in the dialect the raw request looks like, echoing nothing of it.
    clientErrorHandler: clientErrorHandler,
    // On close: idle keep-alive connections go at once; in-flight requests (streams included) finish.
    forceCloseConnections: "idle",
    // Requests Fastify refuses before routing (a path that is not valid percent-encoding, a bad content
    // type) are answered in the caller's dialect too.
    frameworkErrors: (error, request, reply) => {
      const gatewayError = frameworkError(error);
      void (reply as FastifyReply).code(gatewayError.status).type("application/json").send(dialectOf(request).errorBody(gatewayError));
    },
  });

  app.server.maxConnections = deps.maxConnections ?? 10_000;

  // One access line per request at info, when its response is done or its client gone (streams included):
  // the route's pattern (never the query, where a Gemini key may be), no header, no body.
  app.addHook("onRequest", (request, reply, done) => {
    const startedAt = now();
    const socket = request.raw.socket;
    const bytesBefore = socket.bytesWritten;
    reply.raw.once("close", () => {
      const route = request.routeOptions.url;
      app.log.info(
        {
          requestId: request.id,
          method: request.method,
          route: route ?? null,
          ...(route === undefined ? { path: request.url.split("?")[0]!.slice(0, 200) } : {}),
          status: reply.raw.statusCode,
          platform: request.platform ?? request.grant?.platform ?? null,
          accountId: request.accountId,
          durationMs: now() - startedAt,
          // Written to the socket for this response, headers included (one request at a time per connection).
          bytes: socket.bytesWritten - bytesBefore,
        },
        "request",
      );
    });
    done();
  });

  // Any content type is read as JSON: some clients omit or misstate it, and the dialect error is clearer.
  // Fastify's own JSON parser (secure-json-parse) drops `__proto__` and `constructor.prototype` keys, so a
  // body cannot poison the prototype of what the gateway builds from it; nesting is capped first, so that
  // no body is deeper than what JSON.stringify (relaying it) can recurse through.
  const maxJsonDepth = deps.maxJsonDepth ?? DEFAULT_MAX_JSON_DEPTH;
  const parseJson = app.getDefaultJsonParser("remove", "remove");
  app.removeAllContentTypeParsers();
  app.addContentTypeParser("*", { parseAs: "string" }, (request, body, done) => {
    const encoding = request.headers["content-encoding"];
    if (encoding !== undefined && encoding.trim().toLowerCase() !== "identity") {
      return done(new GatewayError("invalid_request", "Content-Encoding is not supported; send the body uncompressed.", { status: 415 }), undefined);
    }
    const text = typeof body === "string" ? body : body.toString("utf8");
    if (text.trim() === "") return done(null, undefined);
    if (jsonDepthExceeds(text, maxJsonDepth)) {
      return done(new GatewayError("invalid_request", `The request body is nested deeper than ${maxJsonDepth} levels.`), undefined);
    }
    // The parser is typed for any server; `request` is this one's (tsc needs the cast, the linter thinks not).
    // eslint-disable-next-line @typescript-eslint/no-unnecessary-type-assertion
    void parseJson(request as never, text, (error, parsed) => {
      if (error) done(new GatewayError("invalid_request", "The request body is not valid JSON."), undefined);
      else done(null, parsed);
    });
  });

  app.setErrorHandler((error, request, reply) => {
    const name = request.routeOptions.config.dialect;
    const dialect = name ? dialectNamed(name) : dialectOf(request);
    const gatewayError = toGatewayError(error);
    if (gatewayError.code === "internal") request.log.error({ err: error }, "unhandled error");
    countRequest(deps.metrics, request, gatewayError.status, UNKNOWN_PLATFORM);
    return reply.code(gatewayError.status).type("application/json").send(withProblems(dialect.errorBody(gatewayError), gatewayError));
  });

  app.setNotFoundHandler((request, reply) => {
    const error = new GatewayError("not_found", `No route for ${request.method} ${request.url.split("?")[0]}.`);
    return reply.code(404).send(dialectOf(request).errorBody(error));
  });

  const trustedProxies = deps.trustedProxies && deps.trustedProxies.length > 0 ? new AddressList(deps.trustedProxies) : undefined;
  const listener = deps.listener ?? "shared";
  if (listener === "admin") {
    registerHealthRoutes(app, deps);
    registerOperatorRoutes(app, deps);
    return app;
  }

  app.decorateRequest("grant", null);
  app.decorateRequest("platform", null);
  app.decorateRequest("accountId", null);
  // A relay request is authenticated from its headers before its body is read: a caller without a valid key
  // gets its 401 at once, and the connection closes unless the body was already read, so it is never parsed.
  const authenticateFirst = (dialect: ClientDialect) => (request: FastifyRequest, reply: FastifyReply, done: (error?: Error) => void) => {
    deps.authenticator.authenticate(dialect.apiKey({ url: request.url, headers: request.headers, query: request.query as Record<string, unknown> })).then(
      (grant) => {
        request.grant = grant;
        try {
          checkClientAddress(grant, clientAddress(request.raw.socket.remoteAddress, request.headers["x-forwarded-for"], trustedProxies));
        } catch (error) {
          if (!request.raw.complete) void reply.header("connection", "close");
          done(error as Error);
          return;
        }
        done();
      },
      (error: Error) => {
        if (!request.raw.complete) void reply.header("connection", "close");
        done(error);
      },
    );
  };

  const relayRoute = (dialect: ClientDialect, routes: readonly DialectRoute[]) => async (request: FastifyRequest, reply: FastifyReply) => {
    const params = request.params as Record<string, string | undefined>;
    const pathRest = params["*"] ?? "";
    const route = routeOf(routes, pathRest);
    if (!route) throw new GatewayError("not_found", `Unsupported method "${actionOf(pathRest) ?? ""}".`);
    const query = request.query as Record<string, unknown>;
    const grant = request.grant!;
    const resourceId = params.id;
    if (resourceId !== undefined && !RESOURCE_ID.test(resourceId)) throw new GatewayError("invalid_request", "The id in the path is not a valid id.");
    const body = route.method === "GET" ? {} : request.body;
    if (typeof body !== "object" || body === null || Array.isArray(body)) {
      throw new GatewayError("invalid_request", "The request body must be a JSON object.");
    }
    const read: DialectRequest = { url: request.url, headers: request.headers, query, pathRest, body: body as Record<string, unknown> };
    const named = dialect.model(read);
    // With a group default model, a generation may name none: the relay gives it the default.
    const mayOmit = route.modelless === true || grant.defaultModel !== undefined;
    const model = mayOmit && (named === undefined || named === "") ? "" : named;
    if (typeof model !== "string" || (model.trim() === "" && !mayOmit)) {
      throw new GatewayError("invalid_request", "The request must name a model.");
    }
    if (model.length > maxModelLength) {
      throw new GatewayError("invalid_request", `The model name is longer than ${maxModelLength} characters.`);
    }

    reply.hijack();
    const response = reply.raw;
    const clientGone = new Cancellation();
    response.on("close", () => {
      if (!response.writableFinished) clientGone.abort();
    });
    const sink = new NodeResponseSink(response, request.id, dialect, { now, drainTimeoutMs: deps.clientDrainTimeoutMs });
    let platform = grant.platform;
    try {
      const result = await deps.relay.handle({
        requestId: request.id,
        route: request.url.split("?")[0]!,
        dialect,
        grant,
        request: {
          operation: route.operation,
          model,
          stream: dialect.stream(read, route.operation),
          body: read.body,
          headers: request.headers,
          query: forwardedQueryOf(query, dialect.forwardedQuery),
          resourceId,
        },
        sessionId: dialect.sessionId(read) ?? (deps.stickyFromContent ? contentSessionIdOf(dialect, read, route.operation, grant) : undefined),
        sink,
        clientGone,
        startedAt: now(),
      });
      platform = result.platform;
      request.accountId = result.accountId;
    } catch (error) {
      const gatewayError = toGatewayError(error);
      if (gatewayError.code === "internal") request.log.error({ err: error }, "relay failed");
      sink.sendError(gatewayError);
    }
    request.platform = platform;
    countRequest(deps.metrics, request, response.statusCode, platform);
  };

  // Every dialect's endpoints; routes that share a path (Gemini's `{model}:{method}`) share one handler.
  for (const dialect of dialects) {
    const byUrl = groupBy(dialect.routes, (route) => `${route.method} ${route.url}`);
    for (const routes of byUrl.values()) {
      const { method, url } = routes[0]!;
      app.route({ method, url, config: { dialect: dialect.name }, onRequest: authenticateFirst(dialect), handler: relayRoute(dialect, routes) });
    }
  }

  // Model lists; dialects that share a path (`GET /v1/models`) are told apart by `claims`.
  for (const [url, sharing] of groupBy(dialects, (dialect) => dialect.modelsUrl)) {
    app.get(url, async (request, reply) => {
      const dialect = dialectOf(request, sharing);
      const query = request.query as Record<string, unknown>;
      try {
        const grant = await deps.authenticator.authenticate(dialect.apiKey({ url: request.url, headers: request.headers, query }));
        return dialect.renderModels(modelsFor(deps.providers, grant, dialect, await accountsOf(deps.candidates, grant)));
      } catch (error) {
        const gatewayError = toGatewayError(error);
        countRequest(deps.metrics, request, gatewayError.status, UNKNOWN_PLATFORM);
        return reply.code(gatewayError.status).type("application/json").send(dialect.errorBody(gatewayError));
      }
    });
  }

  registerDiscoveryRoutes(app, {
    authenticator: deps.authenticator,
    providers: deps.providers,
    candidates: deps.candidates,
    refused: (request, error) => {
      const gatewayError = toGatewayError(error);
      countRequest(deps.metrics, request, gatewayError.status, UNKNOWN_PLATFORM);
      return gatewayError;
    },
    consoleAtRoot: listener === "shared",
  });
  if (deps.keyLimits) {
    registerKeyUsageRoute(app, {
      authenticator: deps.authenticator,
      keyLimits: deps.keyLimits,
      addressOf: (request) => clientAddress(request.raw.socket.remoteAddress, request.headers["x-forwarded-for"], trustedProxies),
      refused: (request, error) => {
        const gatewayError = toGatewayError(error);
        countRequest(deps.metrics, request, gatewayError.status, UNKNOWN_PLATFORM);
        return gatewayError;
      },
    });
  }
  registerHealthRoutes(app, deps);
  if (listener === "shared") registerOperatorRoutes(app, deps);
  return app;
}

function registerHealthRoutes(app: FastifyInstance, deps: AppDependencies): void {
  app.get("/healthz", () => ({ status: "ok" }));
  app.get("/readyz", async (_request, reply) => {
    const checks = await deps.readiness();
    const ready = Object.values(checks).every((value) => value !== false);
    return reply.code(ready ? 200 : 503).send({ status: ready ? "ready" : "not_ready", checks });
  });
}

/** `/metrics`, the admin API under `/admin` and the console under `/console`: the operator's side. */
function registerOperatorRoutes(app: FastifyInstance, deps: AppDependencies): void {
  app.get("/metrics", async (_request, reply) => {
    await deps.collectMetrics?.();
    return reply.type(deps.metrics.registry.contentType).send(await deps.metrics.render());
  });

  registerAdminRoutes(app, {
    admin: deps.admin,
    adminToken: deps.adminToken,
    authenticator: deps.authenticator,
    platforms: deps.providers.all().map((provider) => provider.platform),
    loginBurst: deps.adminLoginBurst,
    loginRefillMs: deps.adminLoginRefillMs,
    now: deps.now,
    sessions: deps.adminSessions,
    allowedOrigins: deps.adminAllowedOrigins,
  });
  // The shared listener's `/` is the clients' product info: it sends only browsers to the console.
  registerConsoleRoutes(app, { dir: deps.consoleDir, redirectRoot: deps.listener === "admin" });
}

/** The platform label of a request no account or key is known for (refused before authentication). */
const UNKNOWN_PLATFORM = "unknown";

/** `items` by `keyOf`, in first-seen order (`Map.groupBy` arrives in Node 21). */
function groupBy<T>(items: readonly T[], keyOf: (item: T) => string): Map<string, T[]> {
  const groups = new Map<string, T[]>();
  for (const item of items) {
    const key = keyOf(item);
    const group = groups.get(key);
    if (group) group.push(item);
    else groups.set(key, [item]);
  }
  return groups;
}

/** `{method}` of a `{model}:{method}` path rest. */
function actionOf(pathRest: string): string | undefined {
  const colon = pathRest.lastIndexOf(":");
  return colon === -1 ? undefined : pathRest.slice(colon + 1);
}

/** The route a request is for: the only one at its path, or the one whose `action` its path names. */
function routeOf(routes: readonly DialectRoute[], pathRest: string): DialectRoute | undefined {
  if (routes.length === 1 && routes[0]!.action === undefined) return routes[0];
  const action = actionOf(pathRest);
  return routes.find((route) => route.action === action);
}

function countRequest(metrics: GatewayMetrics, request: FastifyRequest, status: number, platform: string): void {
  metrics.requests.inc({ route: request.routeOptions.url ?? "unmatched", status: String(status), platform });
}

/** Fastify's own errors (body too large, bad content) and anything unexpected, as a GatewayError. */
function toGatewayError(error: unknown): GatewayError {
  if (GatewayError.isInstance(error)) return error;
  // A request the account's provider cannot shape (e.g. a non-streaming Codex request): the client's to fix.
  if (ProviderError.isInstance(error)) return new GatewayError("invalid_request", error.message, { cause: error });
  if (DatabaseError.isInstance(error)) {
    if (error.code === "invalid_input" || error.code === "invalid_reference") {
      return error.problems.length > 0 ? invalidInput(error.problems) : new GatewayError("invalid_request", error.message);
    }
    if (error.code === "conflict") return new GatewayError("invalid_request", error.message, { status: 409 });
    if (error.code === "not_found") return new GatewayError("not_found", error.message);
  }
  const validation = (error as { validation?: unknown }).validation;
  if (validation !== undefined) return validationError(error as Error & { validationContext?: string }, validation);
  const code = (error as { code?: unknown }).code;
  const statusCode = (error as { statusCode?: unknown }).statusCode;
  if (code === "FST_ERR_CTP_BODY_TOO_LARGE") return new GatewayError("too_large", "The request body is too large.");
  if (typeof code === "string" && code.startsWith("FST_ERR_CTP")) {
    return new GatewayError("invalid_request", "The request body could not be read as JSON.");
  }
  if (typeof statusCode === "number" && statusCode >= 400 && statusCode < 500) {
    // Fastify's own messages may quote the URL, `?key=` included: say what failed, not what was sent.
    if (typeof code === "string" && code.startsWith("FST_")) return frameworkError(error);
    return new GatewayError("invalid_request", (error as Error).message);
  }
  return new GatewayError("internal", "Internal error.", { cause: error });
}

/**
 * A request Fastify refused before routing, with a message of the gateway's own: Fastify's quote the URL
 * (a Gemini `?key=` included).
 */
function frameworkError(error: unknown): GatewayError {
  if (GatewayError.isInstance(error)) return error;
  const code = (error as { code?: unknown }).code;
  const statusCode = (error as { statusCode?: unknown }).statusCode;
  const status = typeof statusCode === "number" && statusCode >= 400 && statusCode < 500 ? statusCode : 400;
  if (code === "FST_ERR_CTP_BODY_TOO_LARGE") return new GatewayError("too_large", "The request body is too large.");
  if (code === "FST_ERR_BAD_URL") return new GatewayError("invalid_request", "The request path is not valid percent-encoding.");
  if (code === "FST_ERR_CTP_INVALID_MEDIA_TYPE") {
    return new GatewayError("invalid_request", "The request's content type is not supported.", { status: 415 });
  }
  if (typeof code === "string" && code.startsWith("FST_ERR_CTP")) {
    return new GatewayError("invalid_request", "The request body could not be read as JSON.", { status });
  }
  return new GatewayError("invalid_request", "The request could not be read.", { status });
}

/** What a response id (`resp_…`) and ids like it are made of. */
const RESOURCE_ID = /^[A-Za-z0-9_-]{1,256}$/;
const DEFAULT_MAX_JSON_DEPTH = 400;
const DEFAULT_MAX_MODEL_LENGTH = 256;

/**
 * Whether `text` nests objects and arrays deeper than `max`. One pass over the structural characters:
 * strings (where most of a large body is: base64 images, long prompts) are skipped with `indexOf`.
 */
export function jsonDepthExceeds(text: string, max: number): boolean {
  let depth = 0;
  const length = text.length;
  for (let i = 0; i < length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x22 /* " */) {
      // The closing quote: the next one not escaped by an odd run of backslashes.
      let end = text.indexOf('"', i + 1);
      while (end !== -1) {
        let backslashes = 0;
        for (let j = end - 1; text.charCodeAt(j) === 0x5c; j--) backslashes++;
        if (backslashes % 2 === 0) break;
        end = text.indexOf('"', end + 1);
      }
      if (end === -1) return false; // unterminated: JSON.parse refuses it
      i = end;
    } else if (c === 0x7b /* { */ || c === 0x5b /* [ */) {
      if (++depth > max) return true;
    } else if (c === 0x7d /* } */ || c === 0x5d /* ] */) {
      depth--;
    }
  }
  return false;
}

/** Node's own refusals (431, 400, 408), in the dialect the raw request looks like; nothing of it is echoed. */
function clientErrorHandler(error: Error & { code?: string; rawPacket?: unknown }, socket: Socket): void {
  if (error.code === "ECONNRESET" || socket.destroyed) return;
  const gatewayError =
    error.code === "HPE_HEADER_OVERFLOW"
      ? new GatewayError("invalid_request", "The request headers are too large.", { status: 431 })
      : error.code === "ERR_HTTP_REQUEST_TIMEOUT"
        ? new GatewayError("timeout", "The request was not received in time.", { status: 408 })
        : new GatewayError("invalid_request", "The request could not be parsed.");
  if (socket.writable) {
    const head = Buffer.isBuffer(error.rawPacket) ? error.rawPacket.subarray(0, 8192).toString("latin1") : "";
    const [requestLine = ""] = head.split("\r\n", 1);
    const url = requestLine.split(" ")[1] ?? "";
    const headers: Record<string, string> = {};
    if (/\r\n(anthropic-version|x-api-key)\s*:/i.test(head)) headers["anthropic-version"] = "";
    const body = JSON.stringify(dialectOf({ url, headers }).errorBody(gatewayError));
    const reason = STATUS_CODES[gatewayError.status] ?? "Bad Request";
    socket.write(
      `HTTP/1.1 ${gatewayError.status} ${reason}\r\nContent-Length: ${Buffer.byteLength(body)}\r\nContent-Type: application/json\r\nConnection: close\r\n\r\n${body}`,
    );
  }
  socket.destroy(error);
}

interface AjvError {
  instancePath?: string;
  keyword?: string;
  message?: string;
  params?: { allowedValues?: unknown; missingProperty?: unknown; additionalProperty?: unknown };
}

/**
 * A route schema's refusal: every failed rule (Ajv runs with `allErrors`) as a problem naming its field
 * (`groupIds[0]`, a missing property by its name), with the allowed values of an enum (Ajv leaves them out).
 */
function validationError(error: Error & { validationContext?: string }, validation: unknown): GatewayError {
  const errors = Array.isArray(validation) ? (validation as AjvError[]) : [];
  const context = error.validationContext ?? "body";
  const problems = errors.map((each) => {
    const segments = (each.instancePath ?? "").split("/").slice(1);
    const named = each.params?.missingProperty ?? each.params?.additionalProperty;
    if (typeof named === "string") segments.push(named);
    const field = segments.reduce((path, segment) => (/^\d+$/.test(segment) ? `${path}[${segment}]` : path ? `${path}.${segment}` : segment), "");
    const allowed = each.keyword === "enum" ? each.params?.allowedValues : undefined;
    const message = `${context}${each.instancePath ?? ""} ${each.message ?? "is not valid"}${Array.isArray(allowed) ? `: ${allowed.join(", ")}` : ""}`;
    return { field: field || context, message };
  });
  if (problems.length === 0) return new GatewayError("invalid_request", error.message);
  return invalidInput(problems);
}

/** An error body with the error's problems added to its `error` object (every dialect's body has one). */
function withProblems(body: unknown, error: GatewayError): unknown {
  if (error.problems.length === 0) return body;
  const inner = (body as { error?: unknown }).error;
  if (typeof inner !== "object" || inner === null) return body;
  return { ...(body as object), error: { ...inner, problems: error.problems } };
}
