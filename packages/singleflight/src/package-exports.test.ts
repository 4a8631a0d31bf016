import { existsSync } from "node:fs";
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

// Checks the BUILT package (turbo runs `build` before `test`), as npm users get it from `import` and `require`.
const distDirectory = fileURLToPath(new URL("../dist/", import.meta.url));
const missingBuild = `${distDirectory} is missing its build output: run \`pnpm --filter @subrelay/singleflight build\` first`;

interface BuiltModule {
  Group: new () => { do: unknown; forget: unknown; has: unknown; size: number };
}

describe("built package", () => {
  it("ships ESM and CJS type declarations", () => {
    for (const file of ["index.js", "index.cjs", "index.d.ts", "index.d.cts"]) {
      expect(existsSync(`${distDirectory}${file}`), `${file}: ${missingBuild}`).toBe(true);
    }
  });

  it("works from require", () => {
    const require = createRequire(import.meta.url);
    const built = require("../dist/index.cjs") as BuiltModule;
    expect(typeof built.Group).toBe("function");
    expect(new built.Group().size).toBe(0);
  });

  it("works from import", async () => {
    // A computed specifier: `tsc` must not resolve dist/, which `typecheck` may run before `build` creates.
    const built = (await import(/* @vite-ignore */ `${distDirectory}index.js`)) as BuiltModule;
    expect(typeof built.Group).toBe("function");
    expect(new built.Group().size).toBe(0);
  });
});
