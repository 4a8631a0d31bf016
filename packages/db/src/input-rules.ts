import { isIP } from "node:net";
import { DatabaseError } from "./database-error";

/**
 * The rules for the accounts and API keys an operator configures: the one place they are written. The
 * repositories apply them to every create and update; the admin API applies them (with `admin: true`) to
 * the request body before anything else happens, so both refuse the same things with the same words.
 */

/** One thing wrong with an input: the field (`name`, `credentials.apiKey`, `models[2]`) and what is wrong with it. */
export interface InputProblem {
  field: string;
  message: string;
}

export interface InputRuleOptions {
  /**
   * The admin API's rules on top of the repository's: only known fields, at least one group (an account or
   * key in no group is never used), an OAuth refresh token, and no API key expiry in the past. Default false.
   */
  admin?: boolean;
  /** The clock for `admin` expiry rules, epoch ms. Default `Date.now()`. */
  now?: number;
  /** The platforms an account may name (the provider registry's). Omitted: any non-empty string. */
  platforms?: readonly string[];
}

/** Bounds of the configurable fields. Ids are Postgres `integer`s. */
export const inputLimits = {
  maxId: 2_147_483_647,
  maxNameLength: 200,
  maxPriority: 1_000_000,
  maxConcurrency: 100_000,
  maxGroups: 1000,
  maxModels: 1000,
  maxModelLength: 200,
  /** Most entries of an account's `modelMap`. */
  maxModelMapEntries: 200,
  maxSecretLength: 16_384,
  maxBaseUrlLength: 2048,
  /** Longest cool-down an account's `cooldowns` may set, ms: 30 days. */
  maxCooldownMs: 30 * 86_400_000,
  /** Latest timestamp accepted: the end of year 9999 (what a Postgres timestamp holds and a person means). */
  maxTimeMs: Date.UTC(9999, 11, 31, 23, 59, 59, 999),
} as const;

/** Account priority when none is given (lower is preferred). */
export const DEFAULT_PRIORITY = 50;
/** Account concurrency when none is given. */
export const DEFAULT_CONCURRENCY = 3;

const accountFields = ["name", "platform", "type", "credentials", "groupIds", "priority", "concurrency", "baseUrl", "models", "modelMap", "cooldowns"];
const patchFields = ["name", "credentials", "groupIds", "priority", "concurrency", "baseUrl", "models", "modelMap", "cooldowns", "status", "schedulable", "rateLimits"];

/** An account's exhausted upstream windows as a patch sets them: `[{scope, window?, until}]`, `until` epoch ms. */
export interface RateLimitInput {
  scope: string;
  window?: string;
  until: number;
  reason?: string;
}

/** The scopes a rate limit may name: the whole account, a Claude model family, one model. */
export const rateLimitScopePattern = /^(?:account|family:(?:opus|sonnet|haiku)|model:\S{1,200})$/;
const maxRateLimits = 64;

/**
 * An account's own cool-downs, in milliseconds (integers), each optional; a field given replaces the gateway's
 * `COOLDOWN_*` for this account: `overloaded` (an overload naming no retry time), `serverError` (a 5xx; 0 leaves
 * the account alone), `timeout` (a network failure or timeout; 0 leaves it alone), `rateLimit` (a 429 naming no
 * reset time), `max` (the cap on every cool-down and upstream reset of this account, >= 1).
 */
export interface AccountCooldowns {
  overloaded?: number;
  serverError?: number;
  timeout?: number;
  rateLimit?: number;
  max?: number;
}

/** The fields of AccountCooldowns. */
export const cooldownFields = ["overloaded", "serverError", "timeout", "rateLimit", "max"] as const;
const apiKeyFields = ["name", "groupId", "expiresAt", "limits"];
const apiKeyPatchFields = ["name", "expiresAt", "limits"];

/**
 * What one API key may do, each limit optional (absent: no such limit). Rates are per sliding minute; budgets are
 * USD per calendar day, week (from Monday) and month in the gateway's `BUDGET_TIMEZONE`, and over the key's life.
 */
export interface ApiKeyLimits {
  /** Requests per sliding minute, an integer >= 1. */
  requestsPerMinute?: number;
  /** Tokens (input + output + cache) per sliding minute, an integer >= 1. */
  tokensPerMinute?: number;
  /** Requests in flight at once, an integer >= 1; more wait (`WAIT_TIMEOUT`). */
  concurrency?: number;
  costPerDayUsd?: number;
  costPerWeekUsd?: number;
  costPerMonthUsd?: number;
  costTotalUsd?: number;
  /** The only models the key may ask for (the client's name or the name an account maps it to). */
  models?: string[];
  /** The only client addresses the key may be used from: addresses or CIDR ranges, IPv4 or IPv6. */
  allowedIps?: string[];
}

/** The integer limits of ApiKeyLimits. */
const apiKeyRateFields = ["requestsPerMinute", "tokensPerMinute", "concurrency"] as const;
/** The USD budgets of ApiKeyLimits. */
const apiKeyBudgetFields = ["costPerDayUsd", "costPerWeekUsd", "costPerMonthUsd", "costTotalUsd"] as const;
const apiKeyLimitFields = [...apiKeyRateFields, ...apiKeyBudgetFields, "models", "allowedIps"] as const;
const maxAllowedIps = 1000;
const maxRate = 1_000_000_000;
const maxBudgetUsd = 1_000_000_000;
const statuses = ["active", "error", "disabled"];
const adminStatuses = ["active", "disabled"];

/** The problems of a new account; empty when it may be created. Group existence and platforms are the repository's to check. */
export function accountInputProblems(input: unknown, options: InputRuleOptions = {}): InputProblem[] {
  const problems: InputProblem[] = [];
  if (!isObject(input)) return [{ field: "(body)", message: "The account must be a JSON object." }];
  if (options.admin) unknownFields(input, accountFields, problems);
  nameProblems(input.name, true, problems);
  if (typeof input.platform !== "string" || input.platform.trim() === "") {
    problems.push({ field: "platform", message: "platform must be a non-empty string." });
  } else if (options.platforms && !options.platforms.includes(input.platform)) {
    problems.push({ field: "platform", message: `platform must be one of ${options.platforms.join(", ")}.` });
  }
  if (input.type !== "oauth" && input.type !== "apikey") {
    problems.push({ field: "type", message: "type must be oauth or apikey." });
  } else {
    credentialProblems(input.type, input.credentials, options.admin === true, problems);
  }
  groupIdProblems(input.groupIds, options.admin === true, options.admin !== true, problems);
  commonProblems(input, problems);
  if (!options.admin) {
    if (input.status !== undefined && !statuses.includes(input.status as string)) {
      problems.push({ field: "status", message: `status must be one of ${statuses.join(", ")}.` });
    }
    if (input.schedulable !== undefined && typeof input.schedulable !== "boolean") {
      problems.push({ field: "schedulable", message: "schedulable must be true or false." });
    }
  }
  return problems;
}

/**
 * The problems of a patch to an account of `type` (its credentials are checked by that type; omitted: the
 * credentials are not checked here). Omitted fields are left alone; `null` clears only `baseUrl` and `models`.
 */
export function accountPatchProblems(
  patch: unknown,
  type: "oauth" | "apikey" | undefined,
  options: InputRuleOptions = {},
): InputProblem[] {
  const problems: InputProblem[] = [];
  if (!isObject(patch)) return [{ field: "(body)", message: "The patch must be a JSON object." }];
  if (options.admin) unknownFields(patch, patchFields, problems);
  if (patch.name !== undefined) nameProblems(patch.name, true, problems);
  if (patch.credentials !== undefined && type !== undefined) credentialProblems(type, patch.credentials, options.admin === true, problems);
  if (patch.groupIds !== undefined) groupIdProblems(patch.groupIds, options.admin === true, false, problems);
  commonProblems(patch, problems);
  const allowed = options.admin ? adminStatuses : statuses;
  if (patch.status !== undefined && !allowed.includes(patch.status as string)) {
    problems.push({ field: "status", message: `status must be one of ${allowed.join(", ")}.` });
  }
  if (patch.schedulable !== undefined && typeof patch.schedulable !== "boolean") {
    problems.push({ field: "schedulable", message: "schedulable must be true or false." });
  }
  if (patch.rateLimits !== undefined && patch.rateLimits !== null) rateLimitProblems(patch.rateLimits, problems);
  return problems;
}

/**
 * The problems of a new API key. `expiresAt` is epoch milliseconds (a number) or an ISO 8601 date-time
 * string (`2030-01-31`, `2030-01-31T12:00:00Z`, `2030-01-31T12:00:00+02:00`); digits in a string are not
 * read as a date. Group existence is the repository's to check.
 */
export function apiKeyInputProblems(input: unknown, options: InputRuleOptions = {}): InputProblem[] {
  const problems: InputProblem[] = [];
  if (!isObject(input)) return [{ field: "(body)", message: "The API key must be a JSON object." }];
  if (options.admin) unknownFields(input, apiKeyFields, problems);
  nameProblems(input.name, true, problems);
  if (input.groupId === undefined || input.groupId === null) {
    problems.push({ field: "groupId", message: "groupId is required: a key serves the accounts of one group." });
  } else if (!isId(input.groupId)) {
    problems.push({ field: "groupId", message: `groupId must be a group id (an integer from 1 to ${inputLimits.maxId}).` });
  }
  expiryProblems(input.expiresAt, options, problems);
  if (input.limits !== undefined && input.limits !== null) apiKeyLimitsProblems(input.limits, problems);
  return problems;
}

/** The problems of a patch to an API key (`name`, `expiresAt`, `limits`); omitted fields are left alone, `null` clears `expiresAt` and `limits`. */
export function apiKeyPatchProblems(patch: unknown, options: InputRuleOptions = {}): InputProblem[] {
  const problems: InputProblem[] = [];
  if (!isObject(patch)) return [{ field: "(body)", message: "The patch must be a JSON object." }];
  if (options.admin) unknownFields(patch, apiKeyPatchFields, problems);
  if (patch.name !== undefined) nameProblems(patch.name, true, problems);
  expiryProblems(patch.expiresAt, options, problems);
  if (patch.limits !== undefined && patch.limits !== null) apiKeyLimitsProblems(patch.limits, problems);
  return problems;
}

function expiryProblems(value: unknown, options: InputRuleOptions, problems: InputProblem[]): void {
  const expiresAt = expiryOf(value);
  if (typeof expiresAt === "string") problems.push({ field: "expiresAt", message: expiresAt });
  else if (options.admin && expiresAt !== null && expiresAt <= (options.now ?? Date.now())) {
    problems.push({ field: "expiresAt", message: `expiresAt is in the past (${new Date(expiresAt).toISOString()}): a key must expire later than now.` });
  }
}

/** A key's limits, one problem per wrong field (`limits.requestsPerMinute`, `limits.allowedIps[1]`). */
function apiKeyLimitsProblems(limits: unknown, problems: InputProblem[]): void {
  if (!isObject(limits)) {
    problems.push({ field: "limits", message: `limits must be an object (${apiKeyLimitFields.join(", ")}), or null for none.` });
    return;
  }
  unknownFields(limits, apiKeyLimitFields, problems, "limits.");
  for (const field of apiKeyRateFields) {
    const value = limits[field];
    if (value !== undefined && !isIntegerIn(value, 1, maxRate)) {
      problems.push({ field: `limits.${field}`, message: `limits.${field} must be an integer from 1 to ${maxRate}; omit it for no limit.` });
    }
  }
  for (const field of apiKeyBudgetFields) {
    const value = limits[field];
    if (value !== undefined && !(typeof value === "number" && Number.isFinite(value) && value >= 0 && value <= maxBudgetUsd)) {
      problems.push({ field: `limits.${field}`, message: `limits.${field} must be a number of US dollars from 0 to ${maxBudgetUsd}; omit it for no budget.` });
    }
  }
  const { models, allowedIps } = limits;
  if (models !== undefined) {
    if (!Array.isArray(models) || models.length > inputLimits.maxModels) {
      problems.push({ field: "limits.models", message: `limits.models must be a list of at most ${inputLimits.maxModels} model names; omit it for any.` });
    } else {
      models.forEach((model: unknown, index) => {
        if (typeof model !== "string" || model.trim() === "" || model.length > inputLimits.maxModelLength) {
          problems.push({ field: `limits.models[${index}]`, message: `limits.models[${index}] must be a model name of 1 to ${inputLimits.maxModelLength} characters.` });
        }
      });
    }
  }
  if (allowedIps !== undefined) {
    if (!Array.isArray(allowedIps) || allowedIps.length > maxAllowedIps) {
      problems.push({ field: "limits.allowedIps", message: `limits.allowedIps must be a list of at most ${maxAllowedIps} addresses or CIDR ranges; omit it for any.` });
    } else {
      allowedIps.forEach((entry: unknown, index) => {
        if (typeof entry !== "string" || !isAddressOrRange(entry)) {
          problems.push({
            field: `limits.allowedIps[${index}]`,
            message: `limits.allowedIps[${index}] must be an IP address or CIDR range (203.0.113.7, 10.0.0.0/8, 2001:db8::/32).`,
          });
        }
      });
    }
  }
}

/** An IPv4 or IPv6 address, with an optional `/prefix` of at most its width. */
function isAddressOrRange(entry: string): boolean {
  const [address = "", prefix, ...rest] = entry.trim().split("/");
  if (rest.length > 0) return false;
  const family = isIP(address);
  if (family === 0) return false;
  return prefix === undefined || (/^\d{1,3}$/.test(prefix) && Number(prefix) <= (family === 4 ? 32 : 128));
}

/**
 * `expiresAt` as epoch ms (null: never). Call after `apiKeyInputProblems` found none; throws DatabaseError
 * `invalid_input` otherwise.
 */
export function parseExpiresAt(value: unknown): number | null {
  const parsed = expiryOf(value);
  if (typeof parsed === "string") throw problemsError("API key", [{ field: "expiresAt", message: parsed }]);
  return parsed;
}

/**
 * A DatabaseError `invalid_input` carrying `problems`; its message is theirs, joined. A single problem's
 * message is the error's message as it is.
 */
export function problemsError(what: string, problems: readonly InputProblem[]): DatabaseError {
  const message = problems.length === 1 ? problems[0]!.message : `${what} has ${problems.length} problems: ${problems.map((problem) => problem.message).join(" ")}`;
  return new DatabaseError(message, { code: "invalid_input", problems });
}

const isoDate = /^\d{4}-\d{2}-\d{2}(?:T\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?(?:Z|[+-]\d{2}:\d{2}))?$/;

/** Epoch ms, null, or what is wrong. */
function expiryOf(value: unknown): number | null | string {
  if (value === undefined || value === null) return null;
  const wrong = `expiresAt must be epoch milliseconds (a number) or an ISO 8601 date-time string such as 2030-01-31T00:00:00Z, between 1970 and 9999.`;
  let time: number;
  if (typeof value === "number") {
    if (!Number.isSafeInteger(value)) return wrong;
    time = value;
  } else if (typeof value === "string") {
    if (!isoDate.test(value)) return wrong;
    time = Date.parse(value);
  } else {
    return wrong;
  }
  return Number.isNaN(time) || time < 0 || time > inputLimits.maxTimeMs ? wrong : time;
}

function commonProblems(input: Record<string, unknown>, problems: InputProblem[]): void {
  if (input.priority !== undefined && !isIntegerIn(input.priority, 0, inputLimits.maxPriority)) {
    problems.push({
      field: "priority",
      message: `priority must be an integer from 0 (most preferred) to ${inputLimits.maxPriority}; omit it for the default, ${DEFAULT_PRIORITY}.`,
    });
  }
  if (input.concurrency !== undefined && !isIntegerIn(input.concurrency, 1, inputLimits.maxConcurrency)) {
    problems.push({
      field: "concurrency",
      message: `concurrency must be an integer from 1 to ${inputLimits.maxConcurrency}; omit it for the default, ${DEFAULT_CONCURRENCY}.`,
    });
  }
  if (input.baseUrl !== undefined && input.baseUrl !== null) {
    if (typeof input.baseUrl !== "string" || input.baseUrl === "" || input.baseUrl.length > inputLimits.maxBaseUrlLength) {
      problems.push({ field: "baseUrl", message: `baseUrl must be a URL of at most ${inputLimits.maxBaseUrlLength} characters, or null for the platform's.` });
    }
  }
  if (input.cooldowns !== undefined && input.cooldowns !== null) cooldownProblems(input.cooldowns, problems);
  if (input.modelMap !== undefined && input.modelMap !== null) modelMapProblems(input.modelMap, problems);
  if (input.models !== undefined && input.models !== null) {
    if (!Array.isArray(input.models) || input.models.length > inputLimits.maxModels) {
      problems.push({ field: "models", message: `models must be a list of at most ${inputLimits.maxModels} model names, or null for any.` });
    } else {
      input.models.forEach((model: unknown, index) => {
        if (typeof model !== "string" || model.trim() === "" || model.length > inputLimits.maxModelLength) {
          problems.push({ field: `models[${index}]`, message: `models[${index}] must be a model name of 1 to ${inputLimits.maxModelLength} characters.` });
        }
      });
    }
  }
}

/**
 * An account's `modelMap`: client model name -> upstream model name, each a model name of 1 to
 * `maxModelLength` characters; a key ending in `*` matches every name it is a prefix of.
 */
function modelMapProblems(modelMap: unknown, problems: InputProblem[]): void {
  if (!isObject(modelMap) || Object.keys(modelMap).length > inputLimits.maxModelMapEntries) {
    problems.push({
      field: "modelMap",
      message: `modelMap must be an object of at most ${inputLimits.maxModelMapEntries} entries (client model name -> upstream model name; a key ending in * matches by prefix), or null for none.`,
    });
    return;
  }
  for (const [from, to] of Object.entries(modelMap)) {
    if (from.trim() === "" || from.length > inputLimits.maxModelLength) {
      problems.push({ field: "modelMap", message: `modelMap's keys must be model names of 1 to ${inputLimits.maxModelLength} characters.` });
    } else if (typeof to !== "string" || to.trim() === "" || to.length > inputLimits.maxModelLength) {
      problems.push({
        field: `modelMap.${from}`,
        message: `modelMap.${from} must be an upstream model name of 1 to ${inputLimits.maxModelLength} characters.`,
      });
    }
  }
}

function rateLimitProblems(rateLimits: unknown, problems: InputProblem[]): void {
  if (!Array.isArray(rateLimits) || rateLimits.length > maxRateLimits) {
    problems.push({
      field: "rateLimits",
      message: `rateLimits must be a list of at most ${maxRateLimits} {scope, window?, until} (until in epoch milliseconds); [] or null clears them.`,
    });
    return;
  }
  rateLimits.forEach((limit: unknown, index) => {
    const field = `rateLimits[${index}]`;
    if (!isObject(limit)) {
      problems.push({ field, message: `${field} must be an object {scope, window?, until}.` });
      return;
    }
    unknownFields(limit, ["scope", "window", "until", "reason"], problems, `${field}.`);
    if (typeof limit.scope !== "string" || !rateLimitScopePattern.test(limit.scope)) {
      problems.push({ field: `${field}.scope`, message: `${field}.scope must be "account", "family:opus", "family:sonnet", "family:haiku" or "model:<id>".` });
    }
    if (limit.window !== undefined && (typeof limit.window !== "string" || limit.window === "" || limit.window.length > 64)) {
      problems.push({ field: `${field}.window`, message: `${field}.window must be a window name of 1 to 64 characters (5h, 7d, 7d_opus, ...).` });
    }
    if (limit.reason !== undefined && (typeof limit.reason !== "string" || limit.reason.length > 500)) {
      problems.push({ field: `${field}.reason`, message: `${field}.reason must be a string of at most 500 characters.` });
    }
    if (!isIntegerIn(limit.until, 0, inputLimits.maxTimeMs)) {
      problems.push({ field: `${field}.until`, message: `${field}.until must be an integer number of epoch milliseconds.` });
    }
  });
}

function cooldownProblems(cooldowns: unknown, problems: InputProblem[]): void {
  if (!isObject(cooldowns)) {
    problems.push({
      field: "cooldowns",
      message: `cooldowns must be an object of milliseconds (${cooldownFields.join(", ")}), or null for the gateway's.`,
    });
    return;
  }
  unknownFields(cooldowns, cooldownFields, problems, "cooldowns.");
  for (const field of cooldownFields) {
    const value = cooldowns[field];
    if (value === undefined) continue;
    const min = field === "max" ? 1 : 0;
    if (!isIntegerIn(value, min, inputLimits.maxCooldownMs)) {
      problems.push({
        field: `cooldowns.${field}`,
        message: `cooldowns.${field} must be an integer number of milliseconds from ${min} to ${inputLimits.maxCooldownMs} (30 days); omit it for the gateway's.`,
      });
    }
  }
}

function nameProblems(name: unknown, required: boolean, problems: InputProblem[]): void {
  if (name === undefined && !required) return;
  if (typeof name !== "string" || name.trim() === "" || name.length > inputLimits.maxNameLength) {
    problems.push({ field: "name", message: `name must be a non-blank string of at most ${inputLimits.maxNameLength} characters.` });
  }
}

function groupIdProblems(groupIds: unknown, requireOne: boolean, optional: boolean, problems: InputProblem[]): void {
  if (groupIds === undefined && optional) return;
  if (!Array.isArray(groupIds) || groupIds.length > inputLimits.maxGroups) {
    problems.push({ field: "groupIds", message: `groupIds must be a list of at most ${inputLimits.maxGroups} group ids.` });
    return;
  }
  if (requireOne && groupIds.length === 0) {
    problems.push({ field: "groupIds", message: "groupIds must name at least one group: an account in no group is never used." });
    return;
  }
  groupIds.forEach((groupId: unknown, index) => {
    if (!isId(groupId)) {
      problems.push({ field: `groupIds[${index}]`, message: `groupIds[${index}] must be a group id (an integer from 1 to ${inputLimits.maxId}).` });
    }
  });
}

function credentialProblems(type: "oauth" | "apikey", credentials: unknown, admin: boolean, problems: InputProblem[]): void {
  if (!isObject(credentials)) {
    problems.push({ field: "credentials", message: "credentials must be an object." });
    return;
  }
  const secret = (field: string, required: boolean) => {
    const value = credentials[field];
    if (value === undefined && !required) return;
    if (typeof value !== "string" || value === "" || value.length > inputLimits.maxSecretLength) {
      problems.push({
        field: `credentials.${field}`,
        message: `credentials.${field} ${required ? "is required and " : ""}must be a non-empty string of at most ${inputLimits.maxSecretLength} characters.`,
      });
    }
  };
  if (type === "apikey") {
    secret("apiKey", true);
    return;
  }
  // An operator's OAuth account needs a refresh token: without one it dies with its first access token.
  // Stored ones may lack it (an access token of unknown expiry), but not both.
  secret("refreshToken", admin);
  secret("accessToken", false);
  if (!admin && !credentials.accessToken && !credentials.refreshToken) {
    problems.push({ field: "credentials", message: "credentials need an accessToken or a refreshToken." });
  }
  const { expiresAt } = credentials;
  if (expiresAt !== undefined && !isIntegerIn(expiresAt, 0, inputLimits.maxTimeMs)) {
    problems.push({ field: "credentials.expiresAt", message: "credentials.expiresAt must be epoch milliseconds (an integer)." });
  }
}

function unknownFields(input: Record<string, unknown>, known: readonly string[], problems: InputProblem[], prefix = ""): void {
  for (const field of Object.keys(input)) {
    if (!known.includes(field)) {
      problems.push({ field: `${prefix}${field}`, message: `${prefix}${field} is not a field here (known: ${known.join(", ")}).` });
    }
  }
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function isIntegerIn(value: unknown, min: number, max: number): boolean {
  return typeof value === "number" && Number.isSafeInteger(value) && value >= min && value <= max;
}

function isId(value: unknown): value is number {
  return isIntegerIn(value, 1, inputLimits.maxId);
}
