/** Functions that stop and remove what was started; run them in reverse order when done. */
export type Cleanups = Array<() => void>;
export function freePort(): Promise<number>;
/** A throwaway redis-server; resolves to its URL. */
export function setUpRedis(cleanups: Cleanups): Promise<string>;
/** Starts redis-server on `port` with its data in `dir`; resolves to the child process once it accepts connections. */
export function startRedis(port: number, dir: string, cleanups: Cleanups, extraArgs?: string[]): Promise<import("node:child_process").ChildProcess>;
/** A throwaway 3-master Redis Cluster ("host:port,..."), or null when `redis-cli --cluster` is unavailable. */
export function setUpRedisCluster(cleanups: Cleanups): Promise<string | null>;
/** A throwaway Postgres 15 cluster: its URL, and stop/start for fault tests (synchronous). */
export function setUpPostgres(cleanups: Cleanups): Promise<{ url: string; stop(): void; start(): void }>;
