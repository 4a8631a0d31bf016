/**
 * The Postgres settings embedded PGlite starts with. PGlite's WASM heap is 128 MB and can only grow; initdb's
 * `shared_buffers` of 128 MB does not fit beside the rest, so the heap grows to ~190 MB and every page of the
 * buffer pool is touched at start. 16 MB keeps the heap at its initial size: the gateway's tables are small,
 * and pages evicted from the pool are still in the OS page cache (PGlite reads the data directory through
 * Node's fs). The memory each setting costs is measured in the gateway README (`pnpm bench:memory`).
 */
export const embeddedPostgresSettings: Readonly<Record<string, string>> = Object.freeze({
  shared_buffers: "16MB",
});

/** `-c name=value` pairs, as postgres and initdb take them. */
export function postgresSettingFlags(settings: Readonly<Record<string, string>>): string[] {
  return Object.entries(settings).flatMap(([name, value]) => ["-c", `${name}=${value}`]);
}
