import {
  apiKeyInputProblems,
  apiKeyPatchProblems,
  modelPriceInputProblems,
  parseExpiresAt,
  USAGE_STEP_MS,
  type AccountRecord,
  type Database,
  type InputProblem,
  type ModelPriceInput,
} from "@subrelay/db";
import { ProviderError, type ProviderRegistry } from "@subrelay/providers-core";
import type { SchedulerBucket, SchedulerCache } from "@subrelay/scheduler-cache";
import { TokenRefreshError, type OAuthCredentials, type TokenManager } from "@subrelay/token-cache";
import type { AdminService } from "./admin-routes";
import type { QueueingSlots } from "./concurrency-slots";
import type { PriceBook } from "./price-book";
import { accountQueue, groupQueue } from "./slot-wait-queue";
import { GatewayError, invalidInput } from "./gateway-error";

const HOUR_MS = 3_600_000;
const DAY_MS = 24 * HOUR_MS;
/** The most buckets one usage series may have. */
const MAX_SERIES_BUCKETS = 2_000;

/** An operator's token is used for set-up calls only while it has this long left; otherwise it is refreshed first. */
const TOKEN_MARGIN_MS = 60_000;
/** A refresh made to set an account up may take this long. */
const SETUP_REFRESH_TIMEOUT_MS = 30_000;

export interface AdminServiceOptions {
  database: Database;
  scheduler: Pick<
    SchedulerCache,
    "beginSnapshot" | "commitSnapshot" | "tryLockBucket" | "unlockBucket" | "setAccount" | "deleteAccount"
  >;
  /** Drops what this process cached about an account. */
  onAccountChanged(id: string): void;
  /**
   * The shared token cache. After an operator replaces an OAuth account's credentials, the token cached for
   * the old ones is invalidated below the new credentials' `tokenVersion`, so no replica serves it again and
   * the next request uses the new credentials. Omitted: the old token is served until it leaves the cache.
   */
  tokens?: Pick<TokenManager, "invalidate">;
  /** Told when invalidating the shared token cache failed (the update itself stands). Never given a token. */
  onTokenInvalidationFailed?(id: string, error: unknown): void;
  /** The platforms' providers, by platform: their `prepareCredentials` completes an OAuth account's credentials. */
  providers?: Pick<ProviderRegistry, "get">;
  /**
   * What is wrong with an account's own base URL (`UpstreamAddressPolicy.baseUrlProblems`), one message
   * each. Omitted: any URL the input rules take.
   */
  baseUrlProblems?(url: string): Promise<string[]>;
  /** The platforms accounts may name (the provider registry's). Omitted: any. */
  platforms?: readonly string[];
  /** Clock, epoch ms. Default `Date.now`. */
  now?: () => number;
  /** Live load: slots held and waiters, shown on accounts and groups. Omitted (or failing): shown as null. */
  slots?: Pick<QueueingSlots, "countInFlight" | "countWaiting">;
  /** The prices in memory: `PUT` / `DELETE /admin/pricing` apply to it at once. Omitted: none are listed. */
  prices?: Pick<PriceBook, "entries" | "unpriced" | "override" | "removeOverride" | "overrideEntry">;
}

/** The live load of accounts and groups: null where it could not be read (Redis away). */
interface Load {
  inFlight: Map<string, number> | null;
  waiting: Map<string, number> | null;
}

/**
 * The admin API over the repositories. Every change is written with its outbox row (by the repository),
 * so the refresh worker brings every replica's snapshots along; the buckets it touches are also rebuilt
 * here at once, so an operator's change is visible to the very next request.
 */
export function createAdminService(options: AdminServiceOptions): AdminService {
  const { database, scheduler } = options;

  const rebuild = async (buckets: SchedulerBucket[]) => {
    for (const bucket of buckets) {
      const lock = await scheduler.tryLockBucket(bucket, 30_000).catch(() => null);
      if (!lock) continue; // someone else is rebuilding it; the outbox brings this change too
      try {
        // Allocated before the read, so this activates only over snapshots read before it.
        const ticket = await scheduler.beginSnapshot(bucket);
        await scheduler.commitSnapshot(ticket, await database.accounts.listBucketAccounts(bucket));
      } catch {
        // Best effort: the outbox consumer rebuilds it in any case.
      } finally {
        await scheduler.unlockBucket(bucket, lock).catch(() => false);
      }
    }
  };
  const bucketsOf = async (id: string) => database.accounts.bucketsOfAccount(id);
  const now = options.now ?? Date.now;
  /** The problems of a given base URL (a string of sane length: the input rules report anything else). */
  const baseUrlProblems = async (input: { baseUrl?: unknown }): Promise<InputProblem[]> => {
    const { baseUrl } = input;
    if (!options.baseUrlProblems || typeof baseUrl !== "string" || baseUrl === "" || baseUrl.length > 2048) return [];
    return (await options.baseUrlProblems(baseUrl)).map((message) => ({ field: "baseUrl", message }));
  };

  /**
   * The credentials to store for an OAuth account: what the platform's `prepareCredentials` makes of them
   * (Gemini Code Assist finds or provisions the account's project), with the tokens of any refresh that
   * took, so a rotated refresh token is kept. Failures are the operator's to see: 400 when the platform
   * refuses the account, 502 when it could not be asked.
   */
  const prepareCredentials = async (
    accountId: string,
    platform: string,
    credentials: Record<string, unknown>,
  ): Promise<Record<string, unknown>> => {
    const provider = options.providers?.get(platform);
    if (!provider?.prepareCredentials) return credentials;
    const given = credentials as unknown as OAuthCredentials;
    let refreshed: OAuthCredentials | undefined;
    const accessToken = async () => {
      const current = refreshed ? { ...given, ...refreshed } : given;
      if (current.accessToken && (current.expiresAt === undefined || current.expiresAt > now() + TOKEN_MARGIN_MS)) {
        return current.accessToken;
      }
      const signal = AbortSignal.timeout(SETUP_REFRESH_TIMEOUT_MS);
      refreshed = await provider.refresher.refresh({ id: accountId, platform, credentials: current }, signal);
      return refreshed.accessToken;
    };
    try {
      const prepared = await provider.prepareCredentials({ accountId, credentials: given, accessToken });
      if (prepared === given && refreshed === undefined) return credentials;
      return { ...prepared, ...refreshed };
    } catch (error) {
      throw setupError(error);
    }
  };

  return {
    createGroup(input) {
      refuseProblems(defaultModelProblems(input.defaultModel));
      return database.groups.create({ name: input.name, platform: input.platform, mode: input.mode ?? "single", defaultModel: input.defaultModel ?? null });
    },
    async listGroups() {
      const [groups, accounts] = await Promise.all([database.groups.list(), database.accounts.list()]);
      const load = await loadOf(accounts.map((account) => account.id), groups.map((group) => groupQueue(group.id)));
      return groups.map((group) => {
        const members = accounts.filter((account) => account.groupIds.includes(group.id));
        return {
          ...group,
          inFlight: load.inFlight ? members.reduce((sum, account) => sum + (load.inFlight!.get(account.id) ?? 0), 0) : null,
          waiters: load.waiting?.get(groupQueue(group.id)) ?? null,
        };
      });
    },
    async updateGroup(id, patch) {
      refuseProblems(defaultModelProblems(patch.defaultModel));
      return database.groups.update(Number(id), { name: patch.name, defaultModel: patch.defaultModel });
    },
    async deleteGroup(id) {
      const group = await database.groups.get(Number(id));
      if (!group) return false;
      const members = (await database.accounts.list()).filter((account) => account.groupIds.includes(group.id));
      const deletion = await database.groups.delete(group.id);
      if (deletion.outcome === "not_found") return false;
      if (deletion.outcome === "in_use") {
        throw new GatewayError("conflict", `Group is used by ${deletion.keys} API key(s); revoke or move them first.`);
      }
      for (const account of members) options.onAccountChanged(account.id);
      // The group's own bucket is rebuilt empty (its accounts are gone from it); the members' other buckets anew.
      const buckets = [{ groupId: group.id, platform: group.platform, mode: group.mode }, ...(await Promise.all(members.map((account) => bucketsOf(account.id)))).flat()];
      await rebuild(dedupe(buckets));
      return true;
    },

    async createAccount(input) {
      refuseProblems([
        ...(await database.accounts.problemsOfNew(input, { admin: true, platforms: options.platforms })),
        ...(await baseUrlProblems(input)),
      ]);
      const credentials =
        input.type === "oauth" ? await prepareCredentials("(new)", input.platform, input.credentials) : input.credentials;
      const created = await database.accounts.create({
        name: input.name,
        platform: input.platform,
        groupIds: input.groupIds,
        priority: input.priority,
        concurrency: input.concurrency,
        baseUrl: input.baseUrl ?? null,
        models: input.models ?? null,
        modelMap: input.modelMap ?? null,
        cooldowns: input.cooldowns ?? null,
        ...(input.type === "oauth"
          ? { type: "oauth" as const, credentials }
          : { type: "apikey" as const, credentials: { apiKey: String(credentials.apiKey) } }),
      });
      await rebuild(await bucketsOf(created.id));
      return shown(created, now());
    },
    async listAccounts() {
      const accounts = await database.accounts.list();
      const load = await loadOf(accounts.map((account) => account.id), accounts.map((account) => accountQueue(account.id)));
      return accounts.map((account) => ({
        ...shown(account, now()),
        inFlight: load.inFlight?.get(account.id) ?? null,
        waiters: load.waiting?.get(accountQueue(account.id)) ?? null,
      }));
    },

    async updateAccount(id, patch) {
      refuseProblems([...(await database.accounts.problemsOfPatch(id, patch, { admin: true })), ...(await baseUrlProblems(patch))]);
      let credentials = patch.credentials;
      if (credentials !== undefined) {
        const account = await database.accounts.getById(id);
        if (!account) return null;
        if (account.type === "oauth") credentials = await prepareCredentials(id, account.platform, credentials);
      }
      const before = await bucketsOf(id);
      const updated = await database.accounts.update(id, { ...patch, credentials });
      if (!updated) return null;
      if (credentials !== undefined && updated.type === "oauth") await invalidateReplacedToken(id);
      options.onAccountChanged(id);
      const after = await bucketsOf(id);
      await rebuild(dedupe([...before, ...after]));
      return shown(updated, now());
    },

    async deleteAccount(id) {
      const buckets = await bucketsOf(id);
      const deleted = await database.accounts.delete(id);
      if (!deleted) return false;
      options.onAccountChanged(id);
      await scheduler.deleteAccount(id).catch(() => undefined);
      await rebuild(buckets);
      return true;
    },

    async resetAccount(id) {
      const reset = await database.accounts.reset(id);
      if (!reset) return null;
      options.onAccountChanged(id);
      const snapshot = await database.accounts.getAccountSnapshot(id);
      if (snapshot) await scheduler.setAccount(snapshot).catch(() => undefined);
      return shown(reset, now());
    },

    async createApiKey(input) {
      const problems = apiKeyInputProblems(input, { admin: true, now: now() });
      if (!problems.some((problem) => problem.field === "groupId") && !(await database.groups.get(input.groupId))) {
        problems.push({ field: "groupId", message: `groupId: no group has the id ${input.groupId}.` });
      }
      refuseProblems(problems);
      return database.apiKeys.create({ name: input.name, groupId: input.groupId, expiresAt: parseExpiresAt(input.expiresAt), limits: input.limits ?? null });
    },
    listApiKeys: () => database.apiKeys.list(),
    async updateApiKey(id, patch) {
      refuseProblems(apiKeyPatchProblems(patch, { admin: true, now: now() }));
      return database.apiKeys.update(Number(id), patch);
    },
    deleteApiKey: (id) => database.apiKeys.delete(Number(id)),

    async usage(query) {
      const to = query.to?.getTime() ?? now();
      const from = query.from?.getTime() ?? to - DAY_MS;
      const [totals, nameOf] = await Promise.all([database.usage.totals({ from, to, groupBy: query.groupBy }), namesOf(query.groupBy)]);
      return { from, to, groupBy: query.groupBy, data: totals.map((row) => ({ ...row, name: nameOf(row.key) })) };
    },
    async listPrices() {
      // Every replica's unpriced rows of the last day (its own of the last second are in memory).
      const to = now();
      const logged = await database.usage.unpricedModels({ from: to - DAY_MS, to: to + 1, limit: 100 }).catch(() => []);
      const models = logged.map((row) => row.model);
      return { data: options.prices?.entries() ?? [], unpriced: options.prices?.unpriced(models) ?? models };
    },
    async setPrice(given, body) {
      refuseProblems(modelPriceInputProblems(given, body));
      // Matching is case-insensitive: one override per model whatever its spelling.
      const model = given.toLowerCase();
      const stored = await database.modelPrices.upsert({ ...(body as Omit<ModelPriceInput, "model">), model });
      options.prices?.override(stored);
      return options.prices?.overrideEntry(stored) ?? { ...stored, source: "override", platform: null };
    },
    async deletePrice(given) {
      const model = given.toLowerCase();
      const deleted = await database.modelPrices.delete(model);
      if (deleted) options.prices?.removeOverride(model);
      return deleted;
    },
    async usageSeries(query) {
      const to = query.to?.getTime() ?? now();
      const from = query.from?.getTime() ?? to - DAY_MS;
      if (!(to > from)) throw new GatewayError("invalid_request", "from must be before to.");
      const step = query.step ?? (to - from <= 6 * HOUR_MS ? "minute" : to - from <= 7 * DAY_MS ? "hour" : "day");
      const bucketCount = Math.ceil((to - Math.floor(from / USAGE_STEP_MS[step]) * USAGE_STEP_MS[step]) / USAGE_STEP_MS[step]);
      if (bucketCount > MAX_SERIES_BUCKETS) {
        throw new GatewayError(
          "invalid_request",
          `The range holds ${bucketCount} buckets of one ${step}, more than ${MAX_SERIES_BUCKETS}; choose a longer step or a shorter range.`,
        );
      }
      const groupBy = query.groupBy ?? null;
      const [series, nameOf] = await Promise.all([
        database.usage.series({ from, to, step, maxBuckets: MAX_SERIES_BUCKETS, ...(groupBy ? { groupBy } : {}) }),
        groupBy ? namesOf(groupBy) : () => "total",
      ]);
      return {
        from,
        to,
        step,
        groupBy,
        buckets: series.buckets,
        series: series.series.map(({ key, ...values }) => ({ key, name: nameOf(key), ...values })),
      };
    },
  };

  /** The name of an account, key or model by its usage key (ids as strings): null for one deleted since, or none. */
  async function namesOf(groupBy: "account" | "key" | "model"): Promise<(key: string | null) => string | null> {
    if (groupBy === "model") return (key) => key;
    const named =
      groupBy === "account"
        ? (await database.accounts.list()).map((account) => [String(account.id), account.name] as const)
        : (await database.apiKeys.list()).map((key) => [String(key.id), key.name] as const);
    const names = new Map(named);
    return (key) => (key === null ? null : (names.get(key) ?? null));
  }

  /**
   * The repository stamped the replaced credentials with a `tokenVersion` above every token cached or saved
   * for the old ones: invalidating at one below it drops those from the shared cache (every replica reads it)
   * and keeps them out, while the new credentials, read from the database, are cached on the next request.
   */
  async function loadOf(accountIds: string[], queues: string[]): Promise<Load> {
    const slots = options.slots;
    if (!slots) return { inFlight: null, waiting: null };
    const [inFlight, waiting] = await Promise.all([
      slots.countInFlight(accountIds).catch(() => null),
      slots.countWaiting(queues).catch(() => null),
    ]);
    return { inFlight, waiting };
  }

  async function invalidateReplacedToken(id: string): Promise<void> {
    if (!options.tokens) return;
    try {
      const account = await database.accounts.get(id);
      const version = account?.credentials.tokenVersion;
      if (!account || version === undefined) return;
      await options.tokens.invalidate(account, version - 1);
    } catch (error) {
      options.onTokenInvalidationFailed?.(id, error);
    }
  }

  function dedupe(buckets: SchedulerBucket[]): SchedulerBucket[] {
    const seen = new Map(buckets.map((bucket) => [`${bucket.groupId}:${bucket.platform}:${bucket.mode}`, bucket]));
    return [...seen.values()];
  }
}

/**
 * An account as the admin API shows it: a base URL stored before user names and passwords were refused in
 * it is shown without them.
 */
function shown(account: AccountRecord, now: number): AccountRecord {
  // Rate limits that ended are history: the admin view lists the ones in force only.
  const rateLimits = (account.rateLimits ?? [])
    .filter((limit) => limit.until > now)
    .map((limit) => ({ scope: limit.scope, ...(limit.window !== undefined ? { window: limit.window } : {}), until: limit.until }));
  return withoutUrlCredentials({ ...account, rateLimits });
}

function withoutUrlCredentials(account: AccountRecord): AccountRecord {
  if (account.baseUrl === null || !account.baseUrl.includes("@")) return account;
  try {
    const url = new URL(account.baseUrl);
    if (url.username === "" && url.password === "") return account;
    url.username = "";
    url.password = "";
    return { ...account, baseUrl: url.toString() };
  } catch {
    return { ...account, baseUrl: null };
  }
}

/** What is wrong with a group's `defaultModel` as given (omitted and null are fine). */
function defaultModelProblems(defaultModel: unknown): InputProblem[] {
  if (defaultModel === undefined || defaultModel === null) return [];
  if (typeof defaultModel === "string" && defaultModel.trim() !== "" && defaultModel.length <= 200) return [];
  return [{ field: "defaultModel", message: "defaultModel must be a model name of 1 to 200 characters, or null for none." }];
}

/** Throws the 400 listing `problems`, if there are any. */
function refuseProblems(problems: readonly InputProblem[]): void {
  if (problems.length > 0) throw invalidInput(problems);
}

/** What an operator is told when an account could not be set up; never a token. */
function setupError(error: unknown): unknown {
  if (ProviderError.isInstance(error)) {
    return error.code === "upstream"
      ? new GatewayError("upstream", `Could not set the account up: ${error.message}`, { cause: error })
      : new GatewayError("invalid_request", `Could not set the account up: ${error.message}`, { cause: error });
  }
  if (TokenRefreshError.isInstance(error)) {
    return error.permanent
      ? new GatewayError("invalid_request", `The refresh token was refused (${error.code}).`, { cause: error })
      : new GatewayError("upstream", `Could not refresh the access token (${error.code}); try again.`, { cause: error });
  }
  return error;
}
