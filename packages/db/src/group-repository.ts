import type { SchedulerMode } from "@subrelay/scheduler-cache";
import { and, asc, eq, inArray, ne, sql } from "drizzle-orm";
import { DatabaseError, translateConstraintError } from "./database-error";
import { writeOutboxEvents } from "./outbox-repository";
import { accountGroups, apiKeys, groups } from "./schema";
import type { SqlExecutor } from "./sql-executor";

/** A group as stored. Its scheduling bucket is `{ groupId: id, platform, mode }`. */
export interface GroupRecord {
  id: number;
  name: string;
  platform: string;
  mode: SchedulerMode;
  /** The model a request gets when it names none the group serves; null: none. */
  defaultModel: string | null;
  /** Epoch ms. */
  createdAt: number;
}

export interface NewGroup {
  /** Unique across groups; a duplicate throws DatabaseError `conflict`. */
  name: string;
  platform: string;
  /**
   * Default `"single"`: the group holds accounts of its `platform` only. `"mixed"`: accounts of every
   * platform. Anything else (including the removed `"forced"`) throws DatabaseError `invalid_input`.
   */
  mode?: SchedulerMode;
  /** The model a request gets when it names none the group serves; null or omitted: none. */
  defaultModel?: string | null;
}

/** What `update` changes; omitted fields stay as they are. */
export interface GroupPatch {
  /** Unique across groups; a duplicate throws DatabaseError `conflict`. */
  name?: string;
  /** A model name of 1 to 200 characters, or null to clear it. */
  defaultModel?: string | null;
}

/** What `delete` did: `deleted`, or nothing because no group has the id or keys still use it. */
export type GroupDeletion =
  | { outcome: "deleted" }
  | { outcome: "not_found" }
  /** `keys`: the API keys (not revoked) in the group; revoked ones are deleted with it. */
  | { outcome: "in_use"; keys: number };

/** The longest default model name (as an account's model names). */
const MAX_MODEL_LENGTH = 200;

const modes: readonly SchedulerMode[] = ["single", "mixed"];

export class GroupRepository {
  readonly #db: SqlExecutor;

  constructor(db: SqlExecutor) {
    this.#db = db;
  }

  /** Creates a group and writes a `group.created` outbox row in the same transaction. */
  async create(input: NewGroup): Promise<GroupRecord> {
    if (typeof input.name !== "string" || input.name.trim() === "")
      throw invalid("name must be a non-empty string");
    if (typeof input.platform !== "string" || input.platform.trim() === "")
      throw invalid("platform must be a non-empty string");
    const mode = input.mode ?? "single";
    const defaultModel = input.defaultModel ?? null;
    if (defaultModel !== null && !isModelName(defaultModel)) throw invalid(defaultModelRule);
    if (!modes.includes(mode))
      throw invalid(
        mode === ("forced" as string)
          ? `mode "forced" no longer exists: use ${modes.join(" or ")}`
          : `mode must be one of ${modes.join(", ")}`,
      );
    try {
      return await this.#db.transaction(async (transaction) => {
        const [row] = await transaction
          .insert(groups)
          .values({ name: input.name, platform: input.platform, mode, defaultModel })
          .returning();
        if (!row) throw new Error("insert returned no row");
        await writeOutboxEvents(transaction, [{ event: "group.created", groupId: row.id }]);
        return toGroupRecord(row);
      });
    } catch (error) {
      return translateConstraintError(error, `Group "${input.name}"`);
    }
  }

  /** Changes a group's name and default model; null when no group has the id. No outbox row: neither is scheduling state. */
  async update(id: number, patch: GroupPatch): Promise<GroupRecord | null> {
    if (!Number.isSafeInteger(id) || id <= 0) return null;
    const fields: Partial<typeof groups.$inferInsert> = {};
    if (patch.name !== undefined) {
      if (typeof patch.name !== "string" || patch.name.trim() === "") throw invalid("name must be a non-empty string");
      fields.name = patch.name;
    }
    if (patch.defaultModel !== undefined) {
      if (patch.defaultModel !== null && !isModelName(patch.defaultModel)) throw invalid(defaultModelRule);
      fields.defaultModel = patch.defaultModel;
    }
    if (Object.keys(fields).length === 0) return this.get(id);
    try {
      const [row] = await this.#db.update(groups).set(fields).where(eq(groups.id, id)).returning();
      return row ? toGroupRecord(row) : null;
    } catch (error) {
      return translateConstraintError(error, `Group "${patch.name ?? id}"`);
    }
  }

  /**
   * Deletes a group unless API keys that are not revoked belong to it (the foreign key would delete them
   * too). Its accounts lose the membership; each gets an `account.updated` outbox row naming its groups
   * before (so the snapshot consumer rebuilds those buckets), and the group a `group.deleted` row naming its
   * bucket's platform and mode (so the consumer empties it), all in
   * the same transaction. The group's row is locked first, so a key created meanwhile is either counted or
   * waits and then fails its foreign key.
   */
  async delete(id: number): Promise<GroupDeletion> {
    if (!Number.isSafeInteger(id) || id <= 0) return { outcome: "not_found" };
    return this.#db.transaction(async (transaction) => {
      const [group] = await transaction
        .select({ id: groups.id, platform: groups.platform, mode: groups.mode })
        .from(groups)
        .where(eq(groups.id, id))
        .for("update");
      if (!group) return { outcome: "not_found" as const };
      const [inUse] = await transaction
        .select({ keys: sql<number>`count(*)`.mapWith(Number) })
        .from(apiKeys)
        .where(and(eq(apiKeys.groupId, id), ne(apiKeys.status, "revoked")));
      if (inUse && inUse.keys > 0) return { outcome: "in_use" as const, keys: inUse.keys };
      const members = await transaction.select({ accountId: accountGroups.accountId }).from(accountGroups).where(eq(accountGroups.groupId, id));
      const memberIds = members.map((member) => member.accountId);
      const memberships =
        memberIds.length === 0
          ? []
          : await transaction
              .select({ accountId: accountGroups.accountId, groupId: accountGroups.groupId })
              .from(accountGroups)
              .where(inArray(accountGroups.accountId, memberIds));
      await transaction.delete(groups).where(eq(groups.id, id));
      await writeOutboxEvents(transaction, [
        ...memberIds.map((accountId) => ({
          event: "account.updated" as const,
          accountId,
          payload: { groupIds: memberships.filter((row) => row.accountId === accountId).map((row) => row.groupId) },
        })),
        { event: "group.deleted" as const, groupId: id, payload: { platform: group.platform, mode: group.mode } },
      ]);
      return { outcome: "deleted" as const };
    });
  }

  async list(): Promise<GroupRecord[]> {
    const rows = await this.#db.select().from(groups).orderBy(asc(groups.id));
    return rows.map(toGroupRecord);
  }

  async get(id: number): Promise<GroupRecord | null> {
    if (!Number.isSafeInteger(id) || id <= 0) return null;
    const [row] = await this.#db.select().from(groups).where(eq(groups.id, id));
    return row ? toGroupRecord(row) : null;
  }
}

const defaultModelRule = `defaultModel must be a model name of 1 to ${MAX_MODEL_LENGTH} characters, or null for none`;

function isModelName(value: unknown): value is string {
  return typeof value === "string" && value.trim() !== "" && value.length <= MAX_MODEL_LENGTH;
}

function invalid(message: string): DatabaseError {
  return new DatabaseError(`Group ${message}`, { code: "invalid_input" });
}

function toGroupRecord(row: typeof groups.$inferSelect): GroupRecord {
  return {
    id: row.id,
    name: row.name,
    platform: row.platform,
    mode: row.mode,
    defaultModel: row.defaultModel ?? null,
    createdAt: row.createdAt.getTime(),
  };
}
