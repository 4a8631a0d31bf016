// Node module hooks that load `*.lua` files as a default-exported string, as tsup and vitest do.
// Used by test helpers that spawn TypeScript sources in child processes:
//   node --conditions=@subrelay/source --import tsx --import ./scripts/lua-hooks.mjs child.ts
import { register } from "node:module";

register(
  "data:text/javascript," +
    encodeURIComponent(`
      import { readFile } from "node:fs/promises";
      export async function load(url, context, nextLoad) {
        if (!url.endsWith(".lua")) return nextLoad(url, context);
        const text = await readFile(new URL(url), "utf8");
        return { format: "module", source: "export default " + JSON.stringify(text) + ";", shortCircuit: true };
      }
    `),
);
