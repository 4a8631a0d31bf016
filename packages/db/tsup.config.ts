import { defineConfig } from "tsup";
import { packageConfig } from "../../tsup.shared.ts";

// shims: the CJS build needs `import.meta.url` to locate the shipped migrations (migrations-folder.ts).
export default defineConfig({ ...packageConfig({ entry: ["src/index.ts"] }), shims: true });
