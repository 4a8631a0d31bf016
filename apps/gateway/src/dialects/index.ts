import type { Dialect, IncomingHeaders } from "@subrelay/providers-core";
import { anthropic } from "./anthropic";
import type { ClientDialect } from "./client-dialect";
import { gemini } from "./gemini";
import { openai } from "./openai";

export type { ClientDialect, DialectRequest, DialectRoute, ListedModel } from "./client-dialect";
export { forwardedQueryOf } from "./client-dialect";

/** Every client API the gateway serves, in the order `claims` is asked (the last claims the rest). */
export const dialects: readonly ClientDialect[] = [gemini, anthropic, openai];

const byName = new Map<Dialect, ClientDialect>(dialects.map((dialect) => [dialect.name, dialect]));

export function dialectNamed(name: Dialect): ClientDialect {
  return byName.get(name)!;
}

/** The dialect a request that no single route decides belongs to (unknown paths, shared model lists). */
export function dialectOf(request: { url: string; headers: IncomingHeaders }, among: readonly ClientDialect[] = dialects): ClientDialect {
  return among.find((dialect) => dialect.claims(request)) ?? among.at(-1)!;
}
