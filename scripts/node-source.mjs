// Arguments for spawning a TypeScript entry of this workspace in a child Node process,
// resolving workspace packages to their sources (no build needed).
import { fileURLToPath } from "node:url";

const luaHooks = fileURLToPath(new URL("./lua-hooks.mjs", import.meta.url));

/** `spawn(process.execPath, nodeSourceArgs(entry, ...args))` */
export function nodeSourceArgs(entry, ...args) {
  return ["--conditions=@subrelay/source", "--import", "tsx", "--import", luaHooks, entry, ...args];
}
