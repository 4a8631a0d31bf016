#!/usr/bin/env node
// The layering rule, checked over every workspace's imports and manifest:
//   - a package depends only on packages in a lower layer (so two adapters never import each other);
//   - no library imports an app, and no app imports another app;
//   - nothing reaches into another workspace's files by a relative path: it imports the package;
//   - a workspace imports only the @subrelay packages its package.json declares.
// `node scripts/check-layers.mjs [--root <dir>]`: exit 0 when clean, 1 listing every violation.
import { readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, relative, resolve, sep } from "node:path";
import { fileURLToPath } from "node:url";

/** Lowest first. A workspace may depend on workspaces of a strictly lower layer; apps on any library. */
export const layers = [
  ["singleflight"],
  ["token-cache"],
  ["scheduler-cache"],
  ["providers-core"],
  ["providers-claude", "providers-openai", "providers-gemini"],
  ["db"],
  ["runtime"],
  ["worker"],
];

const sourceExtensions = /\.(?:[cm]?[jt]sx?)$/;
const skippedDirectories = new Set(["node_modules", "dist", "coverage", ".turbo"]);
const importPatterns = [
  /\b(?:import|export)\s+(?:type\s+)?[^;'"]*?\bfrom\s*["']([^"']+)["']/g,
  /\bimport\s*["']([^"']+)["']/g,
  /\bimport\(\s*["']([^"']+)["']\s*\)/g,
  /\brequire\(\s*["']([^"']+)["']\s*\)/g,
];

function workspacesOf(root) {
  const workspaces = [];
  for (const kind of ["packages", "apps"]) {
    let names;
    try {
      names = readdirSync(join(root, kind));
    } catch {
      continue;
    }
    for (const name of names) {
      const dir = join(root, kind, name);
      let manifest;
      try {
        manifest = JSON.parse(readFileSync(join(dir, "package.json"), "utf8"));
      } catch {
        continue;
      }
      workspaces.push({ kind: kind === "apps" ? "app" : "library", name, dir, manifest });
    }
  }
  return workspaces;
}

function* sourceFiles(dir) {
  for (const entry of readdirSync(dir)) {
    if (skippedDirectories.has(entry)) continue;
    const path = join(dir, entry);
    if (statSync(path).isDirectory()) yield* sourceFiles(path);
    else if (sourceExtensions.test(entry)) yield path;
  }
}

function lineOf(text, index) {
  let line = 1;
  for (let i = 0; i < index; i += 1) if (text.charCodeAt(i) === 10) line += 1;
  return line;
}

/** Every violation in the monorepo at `root`, as "file:line message" strings (paths relative to root). */
export function checkLayers(root) {
  const workspaces = workspacesOf(root);
  const byPackage = new Map(workspaces.map((workspace) => [workspace.manifest.name, workspace]));
  const layerOf = new Map(layers.flatMap((names, index) => names.map((name) => [name, index])));
  const violations = [];

  /** Why `from` may not depend on `to`, or undefined when it may. */
  const refusal = (from, to) => {
    if (to.kind === "app") {
      return from.kind === "app"
        ? `an app may not import another app (${to.name} is an app; move what both need into a package)`
        : `a library may not import an app (${to.name} is an app)`;
    }
    if (from.kind === "app") return undefined;
    const own = layerOf.get(from.name);
    const theirs = layerOf.get(to.name);
    if (theirs === undefined) return `${to.name} has no layer in scripts/check-layers.mjs`;
    if (theirs >= own) return `${from.name} (layer ${own}) may depend only on lower layers; ${to.name} is layer ${theirs}`;
    return undefined;
  };

  for (const workspace of workspaces) {
    const where = relative(root, workspace.dir);
    if (workspace.kind === "library" && !layerOf.has(workspace.name)) {
      violations.push(`${where}/package.json: ${workspace.name} has no layer: add it to the list in scripts/check-layers.mjs`);
      continue;
    }
    const declared = new Set(
      Object.keys({
        ...workspace.manifest.dependencies,
        ...workspace.manifest.devDependencies,
        ...workspace.manifest.peerDependencies,
        ...workspace.manifest.optionalDependencies,
      }),
    );
    for (const name of declared) {
      const target = byPackage.get(name);
      if (!target || target === workspace) continue;
      const why = refusal(workspace, target);
      if (why) violations.push(`${where}/package.json depends on ${name}: ${why}`);
    }
    for (const file of sourceFiles(workspace.dir)) {
      const text = readFileSync(file, "utf8");
      for (const pattern of importPatterns) {
        for (const match of text.matchAll(pattern)) {
          const specifier = match[1];
          const at = `${relative(root, file)}:${lineOf(text, match.index)}`;
          if (specifier.startsWith(".")) {
            const target = resolve(dirname(file), specifier);
            if (target === workspace.dir || target.startsWith(workspace.dir + sep)) continue;
            const other = workspaces.find((candidate) => target === candidate.dir || target.startsWith(candidate.dir + sep));
            if (other) {
              violations.push(
                `${at} imports ${specifier}: reaches into ${relative(root, other.dir)} by path; import ${other.manifest.name} instead` +
                  (refusal(workspace, other) ? ` (and ${refusal(workspace, other)})` : ""),
              );
            }
            continue;
          }
          const name = /^@subrelay\/[^/]+/.exec(specifier)?.[0];
          const target = name && byPackage.get(name);
          if (!target || target === workspace) continue;
          const why = refusal(workspace, target);
          if (why) violations.push(`${at} imports ${specifier}: ${why}`);
          else if (!declared.has(name)) violations.push(`${at} imports ${specifier}: ${name} is not in ${where}/package.json`);
        }
      }
    }
  }
  return violations;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const rootFlag = process.argv.indexOf("--root");
  const root = resolve(rootFlag === -1 ? join(dirname(fileURLToPath(import.meta.url)), "..") : process.argv[rootFlag + 1]);
  const violations = checkLayers(root);
  if (violations.length > 0) {
    process.stderr.write(`check-layers: ${violations.length} violation(s) of the layering rule\n`);
    for (const violation of violations) process.stderr.write(`  ${violation}\n`);
    process.exit(1);
  }
  process.stdout.write(`check-layers: ${workspacesOf(root).length} workspaces, layering holds\n`);
}
