import { randomUUID } from "node:crypto";
import type { Cluster, Redis } from "ioredis";
import releaseLeaseScript from "./lua/release-lease-1.lua";
import renewLeaseScript from "./lua/renew-lease-1.lua";
import type { OutboxLease } from "./outbox-lease";
import { WorkerKeys } from "./worker-keys";

export interface RedisOutboxLeaseOptions {
  /** The deployment's `REDIS_PREFIX`. Default `"subrelay:"`. */
  prefix?: string;
  /** Lease lifetime without renewal, ms. Default 10_000. Renew well within it (the consumer renews every third). */
  ttlMs?: number;
  /** This replica's owner token. Default `crypto.randomUUID()`. */
  owner?: string;
}

/** Lua commands, registered once per connection under versioned names. */
const scripts = {
  renew: { name: "subrelayWorkerRenewLeaseV1", lua: renewLeaseScript, keys: 1 },
  release: { name: "subrelayWorkerReleaseLeaseV1", lua: releaseLeaseScript, keys: 1 },
} as const;
type ScriptName = keyof typeof scripts;
type ScriptCommands = Record<string, (...args: (string | number)[]) => Promise<unknown>>;

/** The scripts answer 1 (done) or 0 (not the holder); anything else is a broken script or server. */
function parseFlagReply(script: ScriptName, reply: unknown): boolean {
  if (reply === 1) return true;
  if (reply === 0) return false;
  throw new Error(`unexpected reply from the ${script} lease script`);
}

/**
 * OutboxLease on Redis (standalone or Cluster): `SET key owner NX PX ttl` to take it, compare-and-pexpire
 * to renew, compare-and-delete to release. Redis errors reject (the consumer treats them as "not held").
 */
export class RedisOutboxLease implements OutboxLease {
  readonly #redis: Redis | Cluster;
  readonly #key: string;
  readonly #ttlMs: number;
  readonly #owner: string;

  constructor(redis: Redis | Cluster, options: RedisOutboxLeaseOptions = {}) {
    this.#redis = redis;
    this.#key = new WorkerKeys(options.prefix).outboxLease;
    this.#ttlMs = options.ttlMs ?? 10_000;
    if (!Number.isSafeInteger(this.#ttlMs) || this.#ttlMs < 1) throw new RangeError("ttlMs must be a positive integer");
    this.#owner = options.owner ?? randomUUID();
    const commands = redis as unknown as ScriptCommands;
    for (const script of Object.values(scripts)) {
      if (typeof commands[script.name] !== "function") {
        redis.defineCommand(script.name, { numberOfKeys: script.keys, lua: script.lua });
      }
    }
  }

  async tryAcquire(): Promise<boolean> {
    const reply = await this.#redis.set(this.#key, this.#owner, "PX", this.#ttlMs, "NX");
    if (reply === "OK") return true;
    // Already ours (a renewal raced the caller's view): renewing confirms it.
    return this.renew();
  }

  async renew(): Promise<boolean> {
    return parseFlagReply("renew", await this.#script("renew", [this.#key], [this.#owner, this.#ttlMs]));
  }

  async release(): Promise<void> {
    parseFlagReply("release", await this.#script("release", [this.#key], [this.#owner]));
  }

  #script(name: ScriptName, keys: readonly string[], args: ReadonlyArray<string | number>): Promise<unknown> {
    const command = (this.#redis as unknown as ScriptCommands)[scripts[name].name];
    if (command === undefined) throw new Error(`lease script ${name} is not registered`);
    return command.call(this.#redis, ...keys, ...args);
  }
}
