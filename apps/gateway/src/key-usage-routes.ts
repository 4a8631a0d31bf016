import type { FastifyInstance, FastifyRequest } from "fastify";
import type { ApiKeyAuthenticator } from "./api-key-authenticator";
import { dialectOf, dialects } from "./dialects";
import type { GatewayError } from "./gateway-error";
import { checkClientAddress } from "./key-access";
import type { KeyLimits } from "./key-limits";

export interface KeyUsageRouteOptions {
  authenticator: ApiKeyAuthenticator;
  keyLimits: KeyLimits;
  /** The client's address as a key's allowedIps see it (TRUSTED_PROXIES applied). */
  addressOf(request: FastifyRequest): string;
  /** Turns a thrown error into the gateway's (the app's own mapping) and counts the refused request. */
  refused(request: FastifyRequest, error: unknown): GatewayError;
}

/**
 * `GET /v1/usage`: a key holder's own use, authenticated with the key in any dialect's header (`Authorization:
 * Bearer`, `x-api-key`, `x-goog-api-key` or `?key=`): its name and limits, its spend in the calendar day, week
 * (from Monday) and month of BUDGET_TIMEZONE and over its life, its requests today and in the last minute and its
 * tokens today. Nothing about other keys or the accounts. Errors come in the dialect whose header carried the key.
 */
export function registerKeyUsageRoute(app: FastifyInstance, options: KeyUsageRouteOptions): void {
  app.get("/v1/usage", async (request, reply) => {
    const read = { url: request.url, headers: request.headers, query: request.query as Record<string, unknown> };
    const dialect = dialects.find((each) => each.apiKey(read) !== undefined) ?? dialectOf(request);
    try {
      const grant = await options.authenticator.authenticate(dialect.apiKey(read));
      checkClientAddress(grant, options.addressOf(request));
      const figures = await options.keyLimits.usage(grant.apiKeyId);
      return {
        name: grant.name ?? null,
        limits: grant.limits ?? null,
        spend: { todayUsd: figures.dayUsd, weekUsd: figures.weekUsd, monthUsd: figures.monthUsd, totalUsd: figures.totalUsd },
        requests: { today: figures.requestsDay, minute: figures.requestsMinute },
        tokens: { today: figures.tokensDay },
      };
    } catch (error) {
      const gatewayError = options.refused(request, error);
      return reply.code(gatewayError.status).type("application/json").send(dialect.errorBody(gatewayError));
    }
  });
}
