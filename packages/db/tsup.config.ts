import { defineConfig } from "tsup";
import { packageConfig } from "../../tsup.shared.ts";
import { embeddedPostgresSettings, postgresSettingFlags } from "./src/embedded-postgres-settings.ts";
import { writePgliteTemplate } from "./src/pglite-template.ts";

// shims: the CJS build needs `import.meta.url` to locate the shipped migrations (migrations-folder.ts) and
// the PGlite template. onSuccess: dist/pglite-template.tar.gz, an initialised data directory for new embedded
// databases (pglite-template.ts says why).
export default defineConfig({
  ...packageConfig({ entry: ["src/index.ts"] }),
  shims: true,
  onSuccess: () => writePgliteTemplate("dist", postgresSettingFlags(embeddedPostgresSettings)),
});
