import type { Options } from "tsup";

/**
 * The one tsup setup every package builds with: ESM + CJS + d.ts for libraries published to npm,
 * ESM only for apps. Lua scripts are imported as text, so they are bundled, not copied.
 */
export function packageConfig(options: { entry?: Options["entry"]; app?: boolean } = {}): Options {
  return {
    entry: options.entry ?? ["src/index.ts"],
    format: options.app ? ["esm"] : ["esm", "cjs"],
    dts: !options.app,
    target: "node20",
    platform: "node",
    sourcemap: true,
    clean: true,
    splitting: false,
    treeshake: true,
    shims: false,
    loader: { ".lua": "text" },
  };
}
