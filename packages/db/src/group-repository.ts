import type { SchedulerMode } from "@subrelay/scheduler-cache";
import { asc, eq } from "drizzle-orm";
import { DatabaseError, translateConstraintError } from "./database-error";
import { writeOutboxEvents } from "./outbox-repository";
import { groups } from "./schema";
import type { SqlExecutor } from "./sql-executor";

/** A group as stored. Its scheduling bucket is `{ groupId: id, platform, mode }`. */
export interface GroupRecord {
  id: number;
  name: string;
  platform: string;
  mode: SchedulerMode;
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
}

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
          .values({ name: input.name, platform: input.platform, mode })
          .returning();
        if (!row) throw new Error("insert returned no row");
        await writeOutboxEvents(transaction, [{ event: "group.created", groupId: row.id }]);
        return toGroupRecord(row);
      });
    } catch (error) {
      return translateConstraintError(error, `Group "${input.name}"`);
    }
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

function invalid(message: string): DatabaseError {
  return new DatabaseError(`Group ${message}`, { code: "invalid_input" });
}

function toGroupRecord(row: typeof groups.$inferSelect): GroupRecord {
  return {
    id: row.id,
    name: row.name,
    platform: row.platform,
    mode: row.mode,
    createdAt: row.createdAt.getTime(),
  };
}
