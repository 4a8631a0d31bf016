import { basename } from "node:path";
import type { ViteUserConfig } from "vitest/config";

type Plugin = Extract<NonNullable<ViteUserConfig["plugins"]>[number], { name: string }>;

/** Workspace packages resolve to their TypeScript source through this exports condition. */
export const sourceCondition = "@subrelay/source";

/** Loads `*.lua` as a string, as tsup's text loader does for builds. */
export function luaText(): Plugin {
  return {
    name: "subrelay:lua-text",
    transform(code: string, id: string) {
      if (!id.endsWith(".lua")) return null;
      return { code: `export default ${JSON.stringify(code)};`, map: null };
    },
  };
}

/**
 * The vitest setup every package tests with. When the test launcher sets SUBRELAY_TEST_REPORT_DIR,
 * a JSON report per package lands there so the launcher can print one summary line.
 */
export function packageTestConfig(packageDir: string, overrides: ViteUserConfig["test"] = {}): ViteUserConfig {
  const reportDir = process.env.SUBRELAY_TEST_REPORT_DIR;
  const conditions = [sourceCondition, "module", "node", "development|production"];
  return {
    plugins: [luaText()],
    resolve: { conditions },
    ssr: { resolve: { conditions, externalConditions: [sourceCondition, "node"] } },
    test: {
      include: ["src/**/*.test.ts", "test/**/*.test.ts"],
      testTimeout: 30_000,
      hookTimeout: 60_000,
      reporters: reportDir
        ? ["default", ["json", { outputFile: `${reportDir}/${basename(packageDir)}.json` }]]
        : ["default"],
      ...overrides,
    },
  };
}
