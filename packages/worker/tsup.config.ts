import { defineConfig } from "tsup";
import { packageConfig } from "../../tsup.shared.ts";

// Private (used by the apps only): ESM with declarations, no CJS. `testing` holds the fixtures the apps' tests share.
export default defineConfig({
  ...packageConfig({ entry: { index: "src/index.ts", testing: "src/testing/worker-fixture.ts" } }),
  format: ["esm"],
});
