import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import type { ProviderRegistry } from "@subrelay/providers-core";
import type { ApiKeyAuthenticator, ApiKeyGrant } from "./api-key-authenticator";
import { dialectNamed, dialectOf, dialects, type ClientDialect, type ListedModel } from "./dialects";
import { GatewayError } from "./gateway-error";

export interface DiscoveryRouteOptions {
  authenticator: ApiKeyAuthenticator;
  providers: ProviderRegistry;
  /** Turns a thrown error into the gateway's (the app's own mapping) and counts the refused request. */
  refused(request: FastifyRequest, error: unknown): GatewayError;
}

/** What `GET /` and `HEAD /` answer: the product, so a client (Claude Code probes `HEAD /`) knows what it reached. */
export const productInfo = { name: "subrelay", description: "A relay for the Anthropic, OpenAI and Gemini APIs." } as const;

/**
 * The endpoints clients call besides the relayed ones: product info at `/`, model retrieval in each
 * dialect (`GET /v1/models/{id}`, `GET /v1beta/models/{model}`, from the key's group's model list, as the
 * model lists are), and the Responses WebSocket probe, answered 426 so that Codex falls back to HTTP.
 */
export function registerDiscoveryRoutes(app: FastifyInstance, options: DiscoveryRouteOptions): void {
  // Fastify answers HEAD on every GET route (`exposeHeadRoutes`).
  app.get("/", () => productInfo);

  app.get("/v1/responses", async (request, reply) => {
    const dialect = dialectNamed("openai");
    const upgrade = String(request.headers.upgrade ?? "").toLowerCase();
    const error =
      upgrade === "websocket"
        ? new GatewayError("invalid_request", "The Responses WebSocket mode is not supported; use HTTP.", {
            status: 426,
            reason: "websocket_not_supported",
          })
        : new GatewayError("not_found", `No route for GET ${request.url.split("?")[0]}.`);
    return reply
      .code(error.status)
      .headers(error.status === 426 ? { upgrade: "HTTP/1.1", connection: "close" } : {})
      .type("application/json")
      .send(dialect.errorBody(error));
  });

  const retrieve = (dialect: ClientDialect, request: FastifyRequest, reply: FastifyReply, id: string) =>
    options.authenticator
      .authenticate(dialect.apiKey({ url: request.url, headers: request.headers, query: request.query as Record<string, unknown> }))
      .then((grant) => {
        const model = modelsFor(options.providers, grant, dialect).find((listed) => listed.id === id);
        if (!model) throw new GatewayError("not_found", `The model "${id}" does not exist for this key.`, { reason: "model_not_found" });
        return dialect.renderModel(model);
      })
      .catch((error: unknown) => {
        const gatewayError = options.refused(request, error);
        return reply.code(gatewayError.status).type("application/json").send(dialect.errorBody(gatewayError));
      });

  const sharingV1 = dialects.filter((dialect) => dialect.modelsUrl === "/v1/models");
  app.get("/v1/models/:id", (request, reply) =>
    retrieve(dialectOf(request, sharingV1), request, reply, (request.params as { id: string }).id),
  );
  app.get("/v1beta/models/*", (request, reply) => {
    const rest = (request.params as { "*": string })["*"];
    return retrieve(dialectNamed("gemini"), request, reply, rest.replace(/^models\//, ""));
  });
}

/**
 * The models a key can use through `dialect`: those of its group's platform (every platform, for a mixed
 * group) whose provider serves one of the dialect's operations.
 */
export function modelsFor(providers: ProviderRegistry, grant: ApiKeyGrant, dialect: ClientDialect): ListedModel[] {
  const chosen = grant.mode === "mixed" ? providers.all() : [providers.get(grant.platform)].filter((p) => p !== undefined);
  return chosen
    .filter((provider) =>
      dialect.routes.some((route) => providers.supports(provider.platform, route.operation, "apikey") || providers.supports(provider.platform, route.operation, "oauth")),
    )
    .flatMap((provider) => provider.models().map((model) => ({ ...model, platform: provider.platform })));
}
