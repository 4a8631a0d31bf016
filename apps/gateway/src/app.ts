import { randomUUID } from "node:crypto";
import Fastify, { LogController, type FastifyInstance, type FastifyReply, type FastifyRequest } from "fastify";
import { DatabaseError } from "@subrelay/db";
import { ProviderError, type Dialect, type Operation, type Provider } from "@subrelay/providers-core";
import type { ApiKeyAuthenticator } from "./api-key-authenticator";
import { Cancellation } from "./cancellation";
import { GatewayError, errorBody } from "./dialect-error";
import type { GatewayMetrics } from "./gateway-metrics";
import type { Relay } from "./relay";
import { registerAdminRoutes, type AdminService } from "./admin-routes";

export interface AppDependencies {
  relay: Relay;
  authenticator: ApiKeyAuthenticator;
  providers: ReadonlyMap<string, Provider>;
  metrics: GatewayMetrics;
  admin: AdminService;
  adminToken: string;
  bodyLimitBytes: number;
  /** Whether each backing service answers; null for one that is not configured. */
  readiness(): Promise<Record<string, boolean | null>>;
  /** Called before /metrics is rendered, to refresh gauges. */
  collectMetrics?(): Promise<void>;
  logLevel: string;
  now?: () => number;
}

interface RouteSpec {
  dialect: Dialect;
  platform: string;
  operation: Operation;
}

declare module "fastify" {
  interface FastifyContextConfig {
    dialect?: Dialect;
  }
}

/** The gateway's HTTP surface: the client API in three dialects, health, metrics and the admin API. */
export function buildApp(deps: AppDependencies): FastifyInstance {
  const now = deps.now ?? Date.now;
  const app = Fastify({
    bodyLimit: deps.bodyLimitBytes,
    logger: {
      level: deps.logLevel,
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
      },
    },
    genReqId: () => randomUUID(),
    // No per-request log lines: a relay at thousands of requests a second logs what goes wrong, not every request.
    logController: new LogController({ disableRequestLogging: true }),
    // On close: idle keep-alive connections go at once; in-flight requests (streams included) finish.
    forceCloseConnections: "idle",
  });

  // Any content type is read as JSON: some clients omit or misstate it, and the dialect error is clearer.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser("*", { parseAs: "string" }, (_request, body, done) => {
    const text = typeof body === "string" ? body : body.toString("utf8");
    if (text.trim() === "") return done(null, undefined);
    try {
      done(null, JSON.parse(text));
    } catch {
      done(new GatewayError("invalid_request", "The request body is not valid JSON."), undefined);
    }
  });

  app.setErrorHandler((error, request, reply) => {
    const dialect = request.routeOptions.config.dialect ?? "openai";
    const gatewayError = toGatewayError(error);
    if (gatewayError.kind === "internal") request.log.error({ err: error }, "unhandled error");
    countRequest(deps.metrics, request, gatewayError.status, platformOf(dialect));
    return reply.code(gatewayError.status).type("application/json").send(errorBody(dialect, gatewayError));
  });

  app.setNotFoundHandler((request, reply) => {
    const dialect: Dialect = request.url.startsWith("/v1beta") ? "gemini" : request.headers["anthropic-version"] ? "anthropic" : "openai";
    const error = new GatewayError("not_found", `No route for ${request.method} ${request.url.split("?")[0]}.`);
    return reply.code(404).send(errorBody(dialect, error));
  });

  const relayRoute = (spec: RouteSpec) => async (request: FastifyRequest, reply: FastifyReply) => {
    const grant = await deps.authenticator.authenticate(apiKeyOf(spec.dialect, request));
    const body = request.body;
    if (typeof body !== "object" || body === null || Array.isArray(body)) {
      throw new GatewayError("invalid_request", "The request body must be a JSON object.");
    }
    const fields = body as Record<string, unknown>;
    const model = spec.dialect === "gemini" ? geminiModelOf(request) : fields.model;
    if (typeof model !== "string" || model.trim() === "") {
      throw new GatewayError("invalid_request", "The request must name a model.");
    }
    if (grant.mode !== "mixed" && grant.platform !== spec.platform) {
      throw new GatewayError(
        "permission",
        `This key's group serves the ${grant.platform} platform; ${request.url.split("?")[0]} is a ${spec.platform} endpoint.`,
      );
    }
    const stream = spec.operation === "stream_generate_content" || (spec.dialect !== "gemini" && fields.stream === true);

    reply.hijack();
    const response = reply.raw;
    const clientGone = new Cancellation();
    response.on("close", () => {
      if (!response.writableFinished) clientGone.abort();
    });
    try {
      await deps.relay.handle({
        requestId: request.id,
        route: request.routeOptions.url ?? request.url,
        dialect: spec.dialect,
        platform: spec.platform,
        grant,
        request: { operation: spec.operation, model, stream, body: fields, headers: request.headers },
        response,
        clientGone,
        startedAt: now(),
      });
    } catch (error) {
      const gatewayError = toGatewayError(error);
      if (gatewayError.kind === "internal") request.log.error({ err: error }, "relay failed");
      if (!response.headersSent && !response.destroyed) {
        response.writeHead(gatewayError.status, {
          "content-type": "application/json",
          "x-request-id": request.id,
          ...(gatewayError.retryAfterSeconds === undefined ? {} : { "retry-after": String(gatewayError.retryAfterSeconds) }),
        });
        response.end(JSON.stringify(errorBody(spec.dialect, gatewayError)));
      } else if (!response.writableEnded) {
        response.end();
      }
    }
    countRequest(deps.metrics, request, response.statusCode, spec.platform);
  };

  const relay = (method: "POST", url: string, spec: RouteSpec) =>
    app.route({ method, url, config: { dialect: spec.dialect }, handler: relayRoute(spec) });

  relay("POST", "/v1/messages", { dialect: "anthropic", platform: "claude", operation: "messages" });
  relay("POST", "/v1/messages/count_tokens", { dialect: "anthropic", platform: "claude", operation: "count_tokens" });
  relay("POST", "/v1/chat/completions", { dialect: "openai", platform: "openai", operation: "chat_completions" });
  relay("POST", "/v1/responses", { dialect: "openai", platform: "openai", operation: "responses" });

  app.route({
    method: "POST",
    url: "/v1beta/models/*",
    config: { dialect: "gemini" },
    handler: async (request, reply) => {
      const action = geminiActionOf(request);
      if (action === "generateContent") {
        return relayRoute({ dialect: "gemini", platform: "gemini", operation: "generate_content" })(request, reply);
      }
      if (action === "streamGenerateContent") {
        return relayRoute({ dialect: "gemini", platform: "gemini", operation: "stream_generate_content" })(request, reply);
      }
      throw new GatewayError("not_found", `Unsupported method "${action ?? ""}".`);
    },
  });

  app.get("/v1/models", { config: { dialect: "openai" } }, async (request) => {
    const anthropic = request.headers["anthropic-version"] !== undefined || request.headers["x-api-key"] !== undefined;
    const grant = await deps.authenticator.authenticate(apiKeyOf(anthropic ? "anthropic" : "openai", request));
    const models = modelsOf(deps.providers, grant.platform, grant.mode);
    if (anthropic) {
      const data = models.map((model) => ({
        type: "model",
        id: model.id,
        display_name: model.displayName ?? model.id,
        created_at: new Date((model.created ?? 0) * 1000).toISOString(),
      }));
      return { data, has_more: false, first_id: data[0]?.id ?? null, last_id: data.at(-1)?.id ?? null };
    }
    return {
      object: "list",
      data: models.map((model) => ({ id: model.id, object: "model", created: model.created ?? 0, owned_by: model.platform })),
    };
  });

  app.get("/v1beta/models", { config: { dialect: "gemini" } }, async (request) => {
    const grant = await deps.authenticator.authenticate(apiKeyOf("gemini", request));
    const models = modelsOf(deps.providers, grant.platform, grant.mode).filter((model) => model.platform === "gemini");
    return {
      models: models.map((model) => ({
        name: `models/${model.id}`,
        displayName: model.displayName ?? model.id,
        supportedGenerationMethods: ["generateContent", "streamGenerateContent"],
      })),
    };
  });

  app.get("/healthz", () => ({ status: "ok" }));
  app.get("/readyz", async (_request, reply) => {
    const checks = await deps.readiness();
    const ready = Object.values(checks).every((value) => value !== false);
    return reply.code(ready ? 200 : 503).send({ status: ready ? "ready" : "not_ready", checks });
  });
  app.get("/metrics", async (_request, reply) => {
    await deps.collectMetrics?.();
    return reply.type(deps.metrics.registry.contentType).send(await deps.metrics.render());
  });

  registerAdminRoutes(app, { admin: deps.admin, adminToken: deps.adminToken, authenticator: deps.authenticator });
  return app;
}

/** The subrelay key as each dialect's SDK sends it. */
function apiKeyOf(dialect: Dialect, request: FastifyRequest): string | undefined {
  const header = (name: string) => {
    const value = request.headers[name];
    return Array.isArray(value) ? value[0] : value;
  };
  const bearer = header("authorization")?.replace(/^Bearer\s+/i, "").trim();
  if (dialect === "anthropic") return header("x-api-key") ?? bearer;
  if (dialect === "gemini") {
    const query = request.query as Record<string, string | undefined>;
    return header("x-goog-api-key") ?? query.key ?? bearer;
  }
  return bearer;
}

function geminiActionOf(request: FastifyRequest): string | undefined {
  const rest = (request.params as Record<string, string>)["*"] ?? "";
  const colon = rest.lastIndexOf(":");
  return colon === -1 ? undefined : rest.slice(colon + 1);
}

function geminiModelOf(request: FastifyRequest): string {
  const rest = (request.params as Record<string, string>)["*"] ?? "";
  const colon = rest.lastIndexOf(":");
  return decodeURIComponent(colon === -1 ? rest : rest.slice(0, colon));
}

function modelsOf(providers: ReadonlyMap<string, Provider>, platform: string, mode: string) {
  const chosen = mode === "mixed" ? [...providers.values()] : [providers.get(platform)].filter((p) => p !== undefined);
  return chosen.flatMap((provider) => provider.models().map((model) => ({ ...model, platform: provider.platform })));
}

function platformOf(dialect: Dialect): string {
  return dialect === "anthropic" ? "claude" : dialect;
}

function countRequest(metrics: GatewayMetrics, request: FastifyRequest, status: number, platform: string): void {
  metrics.requests.inc({ route: request.routeOptions.url ?? "unmatched", status: String(status), platform });
}

/** Fastify's own errors (body too large, bad content) and anything unexpected, as a GatewayError. */
function toGatewayError(error: unknown): GatewayError {
  if (error instanceof GatewayError) return error;
  // A request the account's provider cannot shape (e.g. a non-streaming Codex request): the client's to fix.
  if (ProviderError.isInstance(error)) return new GatewayError("invalid_request", error.message, { cause: error });
  if (DatabaseError.isInstance(error)) {
    if (error.code === "invalid_input" || error.code === "invalid_reference") {
      return new GatewayError("invalid_request", error.message);
    }
    if (error.code === "conflict") return new GatewayError("invalid_request", error.message, { status: 409 });
    if (error.code === "not_found") return new GatewayError("not_found", error.message);
  }
  if ((error as { validation?: unknown }).validation !== undefined) {
    return new GatewayError("invalid_request", (error as Error).message);
  }
  const code = (error as { code?: unknown }).code;
  const statusCode = (error as { statusCode?: unknown }).statusCode;
  if (code === "FST_ERR_CTP_BODY_TOO_LARGE") return new GatewayError("too_large", "The request body is too large.");
  if (typeof code === "string" && code.startsWith("FST_ERR_CTP")) {
    return new GatewayError("invalid_request", "The request body could not be read as JSON.");
  }
  if (typeof statusCode === "number" && statusCode >= 400 && statusCode < 500) {
    return new GatewayError("invalid_request", (error as Error).message);
  }
  return new GatewayError("internal", "Internal error.", { cause: error });
}
