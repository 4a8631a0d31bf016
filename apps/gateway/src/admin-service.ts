import type { Database } from "@subrelay/db";
import type { SchedulerBucket, SchedulerCache } from "@subrelay/scheduler-cache";
import type { AdminService } from "./admin-routes";
import { GatewayError } from "./dialect-error";

export interface AdminServiceOptions {
  database: Database;
  scheduler: Pick<SchedulerCache, "setSnapshot" | "tryLockBucket" | "unlockBucket" | "setAccount" | "deleteAccount">;
  /** Drops what this process cached about an account. */
  onAccountChanged(id: string): void;
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
        await scheduler.setSnapshot(bucket, await database.accounts.listBucketAccounts(bucket));
      } catch {
        // Best effort: the outbox consumer rebuilds it in any case.
      } finally {
        await scheduler.unlockBucket(bucket, lock).catch(() => false);
      }
    }
  };
  const bucketsOf = async (id: string) => database.accounts.bucketsOfAccount(id);

  return {
    createGroup: (input) => database.groups.create({ name: input.name, platform: input.platform, mode: input.mode ?? "single" }),
    listGroups: () => database.groups.list(),

    async createAccount(input) {
      const created = await database.accounts.create({
        name: input.name,
        platform: input.platform,
        groupIds: input.groupIds,
        priority: input.priority,
        concurrency: input.concurrency,
        baseUrl: input.baseUrl ?? null,
        models: input.models ?? null,
        ...(input.type === "oauth"
          ? { type: "oauth" as const, credentials: input.credentials }
          : { type: "apikey" as const, credentials: { apiKey: String(input.credentials.apiKey) } }),
      });
      await rebuild(await bucketsOf(created.id));
      return created;
    },
    listAccounts: () => database.accounts.list(),

    async updateAccount(id, patch) {
      const before = await bucketsOf(id);
      const updated = await database.accounts.update(id, {
        ...patch,
        credentials: patch.credentials,
      });
      if (!updated) return null;
      options.onAccountChanged(id);
      const after = await bucketsOf(id);
      await rebuild(dedupe([...before, ...after]));
      return updated;
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
      return reset;
    },

    async createApiKey(input) {
      const expiresAt =
        input.expiresAt === undefined || input.expiresAt === null
          ? null
          : typeof input.expiresAt === "number"
            ? input.expiresAt
            : Date.parse(input.expiresAt);
      if (expiresAt !== null && Number.isNaN(expiresAt)) {
        throw new GatewayError("invalid_request", "expiresAt must be an ISO 8601 date or epoch ms.");
      }
      if (!(await database.groups.get(input.groupId))) throw new GatewayError("invalid_request", "groupId names no group.");
      return database.apiKeys.create({ name: input.name, groupId: input.groupId, expiresAt });
    },
    listApiKeys: () => database.apiKeys.list(),
    deleteApiKey: (id) => database.apiKeys.delete(Number(id)),

    async usage(query) {
      const to = query.to?.getTime() ?? Date.now();
      const from = query.from?.getTime() ?? to - 24 * 60 * 60_000;
      return { from, to, groupBy: query.groupBy, data: await database.usage.totals({ from, to, groupBy: query.groupBy }) };
    },
  };

  function dedupe(buckets: SchedulerBucket[]): SchedulerBucket[] {
    const seen = new Map(buckets.map((bucket) => [`${bucket.groupId}:${bucket.platform}:${bucket.mode}`, bucket]));
    return [...seen.values()];
  }
}
