import type { Cluster, Redis } from "ioredis";
import activateSnapshot from "./lua/activate-snapshot-8.lua";
import allocateVersion from "./lua/allocate-version-1.lua";
import deleteBucketAccount from "./lua/delete-bucket-account-3.lua";
import indexAccount from "./lua/index-account-2.lua";
import readSnapshot from "./lua/read-snapshot-3.lua";
import setAccount from "./lua/set-account-2.lua";
import setBucketAccount from "./lua/set-bucket-account-4.lua";
import setWatermark from "./lua/set-watermark-1.lua";
import stageSnapshot from "./lua/stage-snapshot-3.lua";
import tryLockBucket from "./lua/try-lock-bucket-1.lua";
import unlockBucket from "./lua/unlock-bucket-1.lua";
import updateAccountLastUsed from "./lua/update-account-last-used-2.lua";
import updateLastUsed from "./lua/update-last-used-2.lua";

/** The ioredis clients RedisSchedulerCache runs on: a single server or a Redis Cluster. */
export type SchedulerRedis = Redis | Cluster;

/** Every script, under a versioned command name: change the name when a script's contract changes. */
export const schedulerScripts = {
  activateSnapshot: { command: "subrelaySchedulerActivateSnapshotV2", keys: 8, lua: activateSnapshot },
  allocateVersion: { command: "subrelaySchedulerAllocateVersionV1", keys: 1, lua: allocateVersion },
  deleteBucketAccount: { command: "subrelaySchedulerDeleteBucketAccountV1", keys: 3, lua: deleteBucketAccount },
  indexAccount: { command: "subrelaySchedulerIndexAccountV1", keys: 2, lua: indexAccount },
  readSnapshot: { command: "subrelaySchedulerReadSnapshotV1", keys: 3, lua: readSnapshot },
  setAccount: { command: "subrelaySchedulerSetAccountV2", keys: 2, lua: setAccount },
  setBucketAccount: { command: "subrelaySchedulerSetBucketAccountV2", keys: 4, lua: setBucketAccount },
  setWatermark: { command: "subrelaySchedulerSetWatermarkV1", keys: 1, lua: setWatermark },
  stageSnapshot: { command: "subrelaySchedulerStageSnapshotV2", keys: 3, lua: stageSnapshot },
  tryLockBucket: { command: "subrelaySchedulerTryLockBucketV1", keys: 1, lua: tryLockBucket },
  unlockBucket: { command: "subrelaySchedulerUnlockBucketV1", keys: 1, lua: unlockBucket },
  updateAccountLastUsed: { command: "subrelaySchedulerUpdateAccountLastUsedV1", keys: 2, lua: updateAccountLastUsed },
  updateLastUsed: { command: "subrelaySchedulerUpdateLastUsedV1", keys: 2, lua: updateLastUsed },
} as const;

export type SchedulerScriptName = keyof typeof schedulerScripts;

type ScriptCommand = (...args: Array<string | number | Array<string | number>>) => Promise<unknown>;

const registered = new WeakSet<SchedulerRedis>();

/** Defines every script on the connection, once per connection. */
export function registerSchedulerScripts(redis: SchedulerRedis): void {
  if (registered.has(redis)) return;
  for (const script of Object.values(schedulerScripts)) {
    redis.defineCommand(script.command, { numberOfKeys: script.keys, lua: script.lua });
  }
  registered.add(redis);
}

/**
 * Runs a script. `keys` must all share one hash tag. `args` travel as one array, so large snapshots never
 * hit the engine's limit on spread arguments.
 */
export function callSchedulerScript(
  redis: SchedulerRedis,
  name: SchedulerScriptName,
  keys: readonly string[],
  args: ReadonlyArray<string | number>,
): Promise<unknown> {
  const script = schedulerScripts[name];
  if (keys.length !== script.keys) throw new TypeError(`${name} takes ${script.keys} keys, got ${keys.length}`);
  const command = (redis as unknown as Record<string, ScriptCommand>)[script.command];
  if (!command) throw new TypeError(`${name} is not registered on this connection`);
  return command.call(redis, ...keys, [...args]);
}
