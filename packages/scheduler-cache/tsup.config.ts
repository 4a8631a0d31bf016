import { defineConfig } from "tsup";
import { packageConfig } from "../../tsup.shared.ts";

// splitting: code shared by the two entries lands in one chunk, so `./redis` throws the same error classes as ".".
export default defineConfig({ ...packageConfig({ entry: ["src/index.ts", "src/redis.ts"] }), splitting: true });
