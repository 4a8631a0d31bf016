import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import type { ModelInfo, ProviderRegistry } from "@subrelay/providers-core";
import type { AccountSnapshot, SchedulerBucket } from "@subrelay/scheduler-cache";
import type { ApiKeyAuthenticator, ApiKeyGrant } from "./api-key-authenticator";
import { dialectNamed, dialectOf, dialects, type ClientDialect, type ListedModel } from "./dialects";
import { GatewayError } from "./gateway-error";
import { mappedClientNames } from "./model-map";

export interface DiscoveryRouteOptions {
  authenticator: ApiKeyAuthenticator;
  providers: ProviderRegistry;
  /** The accounts of a key's group (the relay's candidates), for the models it can serve. */
  candidates: GroupAccounts;
  /** Turns a thrown error into the gateway's (the app's own mapping) and counts the refused request. */
  refused(request: FastifyRequest, error: unknown): GatewayError;
  /** Send a browser (a GET / that accepts text/html) to the console at `/console/`; API clients still get the product. */
  consoleAtRoot?: boolean;
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
  app.get("/", (request, reply) => {
    if (options.consoleAtRoot && request.method === "GET" && (request.headers.accept ?? "").includes("text/html")) {
      return reply.redirect("/console/", 302);
    }
    return productInfo;
  });

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
      .then(async (grant) => {
        const served = modelsFor(options.providers, grant, dialect, await accountsOf(options.candidates, grant));
        const model = served.find((listed) => listed.id === id);
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

/** Where the accounts of a key's group come from. */
export interface GroupAccounts {
  get(bucket: SchedulerBucket): Promise<AccountSnapshot[]>;
}

/** The accounts of `grant`'s group (its scheduling bucket). */
export function accountsOf(candidates: GroupAccounts, grant: ApiKeyGrant): Promise<AccountSnapshot[]> {
  return candidates.get({ groupId: grant.groupId, platform: grant.platform, mode: grant.mode });
}

/**
 * The models a key can use through `dialect`: those its group's accounts can serve, on the platforms (the
 * group's, or every platform for a mixed group) whose provider serves one of the dialect's operations. Per
 * platform: the union of its accounts' `models` lists and `modelMap` client names (exact keys), with the
 * platform's whole list when one of them has no `models` list (it serves any); plus the group's default model
 * on the group's platform. A platform without accounts in the group lists nothing.
 */
export function modelsFor(
  providers: ProviderRegistry,
  grant: ApiKeyGrant,
  dialect: ClientDialect,
  accounts: readonly AccountSnapshot[],
): ListedModel[] {
  const chosen = grant.mode === "mixed" ? providers.all() : [providers.get(grant.platform)].filter((p) => p !== undefined);
  return chosen
    .filter((provider) =>
      dialect.routes.some((route) => providers.supports(provider.platform, route.operation, "apikey") || providers.supports(provider.platform, route.operation, "oauth")),
    )
    .flatMap((provider) => {
      const own = accounts.filter((account) => account.platform === provider.platform);
      if (own.length === 0) return [];
      const known = provider.models();
      const listed = new Map<string, ModelInfo>();
      const add = (id: string) => {
        if (!listed.has(id)) listed.set(id, known.find((model) => model.id === id) ?? { id });
      };
      if (own.some((account) => !account.models || account.models.length === 0)) for (const model of known) add(model.id);
      for (const account of own) {
        for (const id of account.models ?? []) add(id);
        for (const id of mappedClientNames(account.modelMap)) add(id);
      }
      if (grant.defaultModel !== undefined && provider.platform === grant.platform) add(grant.defaultModel);
      return [...listed.values()].map((model) => ({ ...model, platform: provider.platform }));
    });
}
