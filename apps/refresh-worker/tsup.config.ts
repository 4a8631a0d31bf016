import { defineConfig } from "tsup";
import { packageConfig } from "../../tsup.shared.ts";

export default defineConfig(packageConfig({ entry: ["src/main.ts"], app: true }));
