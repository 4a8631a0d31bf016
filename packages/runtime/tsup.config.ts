import { defineConfig } from "tsup";
import { packageConfig } from "../../tsup.shared.ts";

// Private (used by the apps only): ESM with declarations, no CJS.
export default defineConfig({ ...packageConfig({ entry: ["src/index.ts"] }), format: ["esm"] });
