// node --test scripts/check-layers.test.mjs: the layering check on a small planted monorepo.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { after, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { checkLayers } from "./check-layers.mjs";

const script = join(dirname(fileURLToPath(import.meta.url)), "check-layers.mjs");
const roots = [];
after(() => {
  for (const root of roots) rmSync(root, { recursive: true, force: true });
});

/** A monorepo of `files` (path → text); package.json files given as objects. */
function monorepo(files) {
  const root = mkdtempSync(join(tmpdir(), "check-layers-"));
  roots.push(root);
  for (const [path, content] of Object.entries(files)) {
    mkdirSync(dirname(join(root, path)), { recursive: true });
    writeFileSync(join(root, path), typeof content === "string" ? content : JSON.stringify(content));
  }
  return root;
}

const clean = {
  "packages/singleflight/package.json": { name: "@subrelay/singleflight" },
  "packages/singleflight/src/index.ts": "export const x = 1;\n",
  "packages/token-cache/package.json": { name: "@subrelay/token-cache", dependencies: { "@subrelay/singleflight": "workspace:^" } },
  "packages/token-cache/src/index.ts": 'import { x } from "@subrelay/singleflight";\nexport { x };\n',
  "packages/worker/package.json": { name: "@subrelay/worker", dependencies: { "@subrelay/token-cache": "workspace:^" } },
  "packages/worker/src/index.ts": 'export { x } from "@subrelay/token-cache";\n',
  "apps/gateway/package.json": { name: "@subrelay/gateway", dependencies: { "@subrelay/worker": "workspace:^" } },
  "apps/gateway/src/main.ts": 'import { x } from "@subrelay/worker";\nimport "./local";\n',
  "apps/gateway/src/local.ts": "export {};\n",
  "apps/refresh-worker/package.json": { name: "@subrelay/refresh-worker", dependencies: { "@subrelay/worker": "workspace:^" } },
  "apps/refresh-worker/src/main.ts": 'import { x } from "@subrelay/worker";\n',
};

describe("check-layers", () => {
  it("passes a tree that keeps the rule", () => {
    const result = spawnSync(process.execPath, [script, "--root", monorepo(clean)], { encoding: "utf8" });
    assert.equal(result.status, 0, result.stderr);
    assert.match(result.stdout, /5 workspaces, layering holds/);
  });

  it("fails the build on an app importing another app, naming the file and line", () => {
    const root = monorepo({
      ...clean,
      "apps/gateway/src/main.ts": 'import { x } from "@subrelay/worker";\nimport { startWorker } from "@subrelay/refresh-worker";\n',
    });
    const result = spawnSync(process.execPath, [script, "--root", root], { encoding: "utf8" });
    assert.equal(result.status, 1);
    assert.match(result.stderr, /apps\/gateway\/src\/main\.ts:2 imports @subrelay\/refresh-worker: an app may not import another app/);
  });

  it("refuses a library importing an app, an upward or sideways import, a path into another workspace and an undeclared package", () => {
    const root = monorepo({
      ...clean,
      "packages/singleflight/src/index.ts": 'export const x = 1;\nexport type T = import("@subrelay/token-cache").X;\n',
      "packages/token-cache/src/index.ts": 'import { x } from "@subrelay/singleflight";\nimport { y } from "@subrelay/gateway/app";\nexport { x };\n',
      "packages/worker/src/index.ts": 'export { x } from "../../token-cache/src/index";\n',
      "apps/refresh-worker/src/main.ts": 'import { x } from "@subrelay/worker";\nimport { y } from "@subrelay/token-cache";\n',
      "apps/gateway/package.json": {
        name: "@subrelay/gateway",
        dependencies: { "@subrelay/worker": "workspace:^", "@subrelay/refresh-worker": "workspace:^" },
      },
    });
    const violations = checkLayers(root);
    const expected = [
      /^apps\/gateway\/package\.json depends on @subrelay\/refresh-worker: an app may not import another app/,
      /^packages\/singleflight\/src\/index\.ts:2 imports @subrelay\/token-cache: singleflight \(layer 0\) may depend only on lower layers/,
      /^packages\/token-cache\/src\/index\.ts:2 imports @subrelay\/gateway\/app: a library may not import an app/,
      /^packages\/worker\/src\/index\.ts:1 imports \.\.\/\.\.\/token-cache\/src\/index: reaches into packages\/token-cache by path/,
      /^apps\/refresh-worker\/src\/main\.ts:2 imports @subrelay\/token-cache: @subrelay\/token-cache is not in apps\/refresh-worker\/package\.json/,
    ];
    for (const pattern of expected) assert.ok(violations.some((line) => pattern.test(line)), `${pattern} not in:\n${violations.join("\n")}`);
    assert.equal(violations.length, expected.length, violations.join("\n"));
  });

  it("asks for a layer for a new library", () => {
    const root = monorepo({ ...clean, "packages/console-kit/package.json": { name: "@subrelay/console-kit" } });
    assert.deepEqual(checkLayers(root), [
      "packages/console-kit/package.json: console-kit has no layer: add it to the list in scripts/check-layers.mjs",
    ]);
  });
});
