/**
 * What an upstream rate limit applies to:
 * - `"account"`: every request through the account (the default);
 * - `"family:opus"` / `"family:sonnet"` / `"family:haiku"`: requests for a model of that Claude family;
 * - `"model:<id>"`: requests for that one model (a Gemini per-model quota).
 */
export type RateLimitScope = "account" | `family:${ModelFamily}` | `model:${string}`;

/** The Claude model families that subscriptions limit separately. */
export type ModelFamily = "opus" | "sonnet" | "haiku";

/** One exhausted upstream window of an account: what it limits, its name, and when it resets (epoch ms). */
export interface RateLimitEntry {
  scope: string;
  /** The upstream window's name (`5h`, `7d`, `7d_opus`, `7d_sonnet`, `1d`, ...), when the upstream named one. */
  window?: string;
  /** Epoch ms. */
  until: number;
  reason?: string;
}

const familyPattern = /(?:^|[-_./:@])(opus|sonnet|haiku)(?=$|[-_.@\d])/;

/**
 * The family of a Claude model by its name: `claude-opus-4-5`, `claude-sonnet-4-5-20250929`, the legacy
 * `claude-3-opus-20240229` / `claude-3-5-sonnet-latest` / `claude-3-5-haiku`, and names with a vendor prefix
 * (`anthropic/claude-opus-4`, `us.anthropic.claude-sonnet-4`). Undefined for any other model.
 */
export function modelFamily(model: string): ModelFamily | undefined {
  const name = model.trim().toLowerCase();
  if (!name.includes("claude") && !/^(opus|sonnet|haiku)\b/.test(name)) return undefined;
  return familyPattern.exec(name)?.[1] as ModelFamily | undefined;
}

/**
 * Whether a limit of `scope` stops a request for `model`: an account-wide limit stops every request, a family
 * limit the models of that family, a model limit that model (compared without a `models/` prefix or case). A
 * request naming no model (`""`, a retrieval by id) is stopped by account-wide limits only. An unknown scope
 * is taken as account-wide: a limit is never ignored because its name is new.
 */
export function scopeCovers(scope: string, model: string): boolean {
  if (scope === "account") return true;
  if (scope.startsWith("family:")) return model !== "" && modelFamily(model) === scope.slice("family:".length);
  if (scope.startsWith("model:")) return model !== "" && bareModel(scope.slice("model:".length)) === bareModel(model);
  return true;
}

function bareModel(model: string): string {
  return model.trim().toLowerCase().replace(/^models\//, "");
}
