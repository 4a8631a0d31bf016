#!/usr/bin/env node
// The publish check: `node scripts/check-packages.mjs`. For every publishable package it builds (turbo,
// cached), packs with `pnpm pack` (the tarball `pnpm publish` uploads: workspace:^ rewritten,
// publishConfig applied) and checks the tarball as an outside user gets it:
//   - `publint --strict` and `attw --profile node16` on the tarball;
//   - every file the manifest names (main, module, types, bin, every exports target) is in the tarball, no
//     export condition points into unshipped source, publishConfig.exports is exports minus @subrelay/source;
//   - every relative README link resolves to a shipped file; no README names a machine path;
//   - no file an entry loads imports a module that entry must not load (providers-core's main entry: no
//     server or test modules, which belong to ./testing);
//   - a consumer project outside the workspace installs all tarballs together (from the local store where it can: a fresh machine after `pnpm install --frozen-lockfile` has no registry metadata cached, so a strict --offline install fails there), without ioredis;
//     compiles an ESM and a CJS file importing every entry (but db, see notTypeChecked) with
//     `module: node16`, `strict`, `skipLibCheck: false`; the `/redis` subpaths are what needs ioredis;
//   - it loads every entry with import() and require() and compares its exports with the lists below,
//     then runs a smoke test per package (db: migrationsFolder() finds the shipped drizzle journal and SQL).
// Runs first in `pnpm test`; it replaced the per-package package-exports tests, which checked dist/ in place.
// Prints one line per failure and exits 1 if there is any.
import { execFile } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, relative, resolve } from "node:path";
import { promisify } from "node:util";

const run = promisify(execFile);
const root = resolve(import.meta.dirname, "..");
const bin = (name) => join(root, "node_modules", ".bin", name);
const sourceCondition = "@subrelay/source";

/**
 * Publishable packages and every run-time export of each entry, by `typeof`, as the built entry must expose
 * them to import() and require(): a missing name, a wrong type or a name not listed here is a failure, so
 * these lists are the public value API (type-only exports are checked by the consumer's tsc instead).
 *   absent         names that must not be on this entry (they live on another one): a clearer message
 *   needsIoredis   the entry's types need ioredis (an optional peer), so the consumer's tsc leaves it out
 *   forbidImports  modules nothing loaded by this entry may import (followed through relative imports)
 */
const packages = {
  singleflight: { ".": { functions: ["Group"] } },
  "token-cache": {
    ".": {
      functions: ["TokenManager", "MemoryTokenStore", "TokenKeys", "TokenRefreshError", "TokenStoreError", "expectationOf", "matchesExpectation"],
      absent: ["RedisTokenStore"],
    },
    "./redis": { functions: ["RedisTokenStore"], needsIoredis: true },
  },
  "scheduler-cache": {
    ".": {
      functions: ["MemorySchedulerCache", "formatBucket", "parseBucket", "CachedSchedulerReader", "SchedulerCacheError"],
      absent: ["RedisSchedulerCache"],
    },
    "./redis": { functions: ["RedisSchedulerCache"], needsIoredis: true },
  },
  "providers-core": {
    ".": {
      functions: [
        "ProviderError", "createProviderRegistry", "createSseParser", "formatSseEvent", "createSseUsageTracker", "parseSseJson",
        "requestToken", "credentialsFromTokenResponse", "requireRefreshToken", "networkErrorCode", "isRecord",
        "forwardableHeaders", "mergeCommaList", "parseRetryAfter", "isBlockedHeader", "headerValue", "emptyUsage",
        "returnableHeaders", "withQuery", "modelFamily", "scopeCovers", "createPriceIndex", "costOf",
      ],
      absent: ["FakeUpstream", "describeProviderContract"],
      // The testing kit (FakeUpstream's HTTP server, the contract suite's TCP server and node:assert) is
      // on ./testing so that a gateway loading the main entry never loads a server or test code; the main
      // entry only makes requests (undici's `request`).
      forbidImports: ["http", "https", "http2", "net", "assert", "assert/strict"],
    },
    "./testing": { functions: ["FakeUpstream", "readFixture", "sseEvents", "describeProviderContract"] },
  },
  "providers-claude": {
    ".": {
      functions: ["createClaudeProvider", "ClaudeTokenRefresher", "buildClaudeRequest", "classifyClaudeResponse", "exhaustedWindow", "rateLimitEnd", "createClaudeUsageTracker"],
      objects: ["defaultClaudeModels", "claudeModels", "claudeModelAliases", "claudeForwardedHeaders", "claudePrices"],
      strings: ["defaultClaudeClientId", "claudeOAuthBeta", "defaultAnthropicVersion", "defaultClaudeBaseUrl", "defaultClaudeTokenUrl"],
    },
  },
  "providers-openai": {
    ".": {
      functions: ["createOpenAIProvider", "OpenAITokenRefresher", "createCodexResponseCollector", "chatToResponsesBody", "createResponsesToChatShaper", "responseToChatCompletion", "codexExhaustedWindow"],
      objects: ["defaultOpenAIModels", "openaiModelAliases", "openaiPrices"],
      strings: ["codexClientId"],
    },
  },
  "providers-gemini": {
    ".": {
      functions: ["createGeminiProvider", "GeminiTokenRefresher", "setupCodeAssistProject"],
      objects: ["defaultGeminiModels", "geminiModelAliases", "codeAssistClientMetadata", "geminiCliOAuthClient", "geminiPrices"],
    },
  },
  db: {
    ".": {
      functions: [
        "createDatabase", "migrationsFolder", "CredentialCipher", "generateSecretKey", "parseSecretKey", "DatabaseError",
        "AccountRepository", "ApiKeyRepository", "hashApiKey", "isApiKeyShaped", "apiKeyInputProblems", "apiKeyPatchProblems", "parseExpiresAt", "GroupRepository", "OutboxRepository", "UsageRepository", "AdminSessionRepository",
        "ModelPriceRepository", "modelPriceInputProblems",
      ],
      objects: ["schema", "embeddedPostgresSettings", "USAGE_STEP_MS", "modelPriceFields"],
    },
  },
};

/**
 * Packages the consumer's tsc leaves out (they are still packed, publint- and attw-checked, installed and
 * loaded by both runtime probes). db: its declarations import drizzle-orm's, and drizzle-orm 0.45's own
 * .d.ts files do not compile with `skipLibCheck: false` under node16 (TS2344 in
 * sqlite-core/query-builders/select.d.ts, TS1542 missing resolution-mode in utils.d.cts, TS2749 TextDecoder).
 * Those errors are in drizzle-orm, not in what we ship, and a consumer avoids them only with
 * `skipLibCheck: true`, under which this step would re-check no more than attw's resolution check does.
 */
const notTypeChecked = new Set(["db"]);

/** Behaviour smoke tests run on the installed tarballs, as `m` the loaded main entry; each returns true or a message. */
const smokes = {
  singleflight: `new m.Group().size === 0 || "new Group().size is not 0"`,
  "providers-claude": `(m.claudeModels === m.defaultClaudeModels && m.defaultClaudeModels.length > 0) || "claudeModels is not the deprecated alias of a non-empty defaultClaudeModels"`,
  "scheduler-cache": `(m.formatBucket({ groupId: 1, platform: "claude", mode: "single" }) === "1:claude:single" && m.parseBucket("1:claude") === null) || "formatBucket/parseBucket"`,
  "providers-gemini": `await (async () => {
    const provider = m.createGeminiProvider();
    const refresher = new m.GeminiTokenRefresher();
    const credentials = { accessToken: "a", projectId: "p" };
    const prepared = await provider.prepareCredentials({ accountId: "3", credentials, accessToken: async () => "a" });
    const url = provider.buildRequest({ account: { id: "1", platform: "gemini", type: "apikey", credentials: { apiKey: "k" } },
      request: { operation: "stream_generate_content", model: "models/gemini-2.5-pro", stream: true, body: {}, headers: {} } }).url;
    const got = { prepared: prepared === credentials, platform: provider.platform,
      cacheKey: refresher.cacheKey({ id: "3", platform: "gemini", credentials: { accessToken: "a" } }), url };
    const want = { prepared: true, platform: "gemini", cacheKey: "gemini:account:3",
      url: "https://generativelanguage.googleapis.com/v1beta/models/gemini-2.5-pro:streamGenerateContent?alt=sse" };
    return JSON.stringify(got) === JSON.stringify(want) || "gemini provider: " + JSON.stringify(got);
  })()`,
  db: `(() => {
    const folder = m.migrationsFolder();
    const want = path.join(path.dirname(requireFrom.resolve("@subrelay/db/package.json")), "drizzle");
    if (folder !== want) return "migrationsFolder() is " + folder + ", not " + want;
    if (!fs.existsSync(path.join(folder, "meta", "_journal.json"))) return "no drizzle/meta/_journal.json";
    return fs.readdirSync(folder).some((file) => file.endsWith(".sql")) || "no SQL migration in drizzle/";
  })()`,
};

const failures = [];
const fail = (message) => {
  failures.push(message);
  console.log(`check-packages: FAIL ${message}`);
};

async function attempt(label, command, args, options = {}) {
  try {
    return (await run(command, args, { maxBuffer: 64 << 20, ...options })).stdout;
  } catch (error) {
    const output = `${error.stdout ?? ""}${error.stderr ?? ""}`.split("\n").filter((line) => line.trim() && !line.startsWith("npm warn"));
    fail(`${label}${output.length ? `:\n    ${output.slice(-25).join("\n    ")}` : `: ${error.message}`}`);
    return null;
  }
}

/** Runs the tasks two at a time (the machine is shared). */
async function inParallel(items, task, limit = 2) {
  const queue = [...items];
  await Promise.all(Array.from({ length: limit }, async () => {
    while (queue.length) await task(queue.shift());
  }));
}

function targetsOf(value, into = []) {
  if (typeof value === "string") into.push(value);
  else if (value && typeof value === "object") for (const inner of Object.values(value)) targetsOf(inner, into);
  return into;
}

function conditionsOf(value, into = new Set()) {
  if (value && typeof value === "object") {
    for (const [key, inner] of Object.entries(value)) {
      if (!key.startsWith(".")) into.add(key);
      conditionsOf(inner, into);
    }
  }
  return into;
}

function withoutSourceCondition(value) {
  if (!value || typeof value !== "object") return value;
  return Object.fromEntries(Object.entries(value).filter(([key]) => key !== sourceCondition).map(([key, inner]) => [key, withoutSourceCondition(inner)]));
}

const machinePath = /(?:^|[\s`'"(=])(\/(?:work|tmp|root|home|Users|var\/folders)\/|[A-Z]:\\)/m;

function checkManifest(name, source, packed, unpacked) {
  const label = `@subrelay/${name}`;
  const named = [packed.main, packed.module, packed.types, packed.typings, ...targetsOf(packed.bin), ...targetsOf(packed.exports)].filter(Boolean);
  for (const target of named) {
    if (target.includes("*")) fail(`${label}: exports pattern ${target} (not checked; list files explicitly)`);
    else if (!existsSync(join(unpacked, target))) fail(`${label}: package.json names ${target}, which is not in the tarball`);
  }
  if (conditionsOf(packed.exports).has(sourceCondition)) fail(`${label}: the packed exports keep the ${sourceCondition} condition (src is not shipped)`);
  if (JSON.stringify(source.publishConfig?.exports) !== JSON.stringify(withoutSourceCondition(source.exports))) {
    fail(`${label}: publishConfig.exports differs from exports without the ${sourceCondition} condition`);
  }
  for (const field of ["dependencies", "peerDependencies", "optionalDependencies"]) {
    for (const [dependency, range] of Object.entries(packed[field] ?? {})) {
      if (String(range).startsWith("workspace:")) fail(`${label}: packed ${field}.${dependency} is ${range}`);
    }
  }
  for (const dependency of ["ioredis"]) {
    if (packed.dependencies?.[dependency]) fail(`${label}: ${dependency} is a dependency; it must be an optional peer`);
    if (packed.peerDependencies?.[dependency] && !packed.peerDependenciesMeta?.[dependency]?.optional) {
      fail(`${label}: peer ${dependency} is not optional`);
    }
  }
  const readmes = readdirSync(unpacked).filter((file) => /^readme/i.test(file));
  if (readmes.length === 0) fail(`${label}: no README in the tarball`);
  for (const readme of readmes) {
    const text = readFileSync(join(unpacked, readme), "utf8");
    const hit = text.match(machinePath);
    if (hit) fail(`${label}: ${readme} names a machine path (${hit[1]}...)`);
    for (const [, link] of text.matchAll(/\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/g)) {
      if (/^[a-z][a-z0-9+.-]*:/i.test(link) || link.startsWith("#")) continue;
      const file = decodeURIComponent(link.split("#")[0]);
      const target = resolve(unpacked, file);
      if (relative(unpacked, target).startsWith("..") || !existsSync(target)) fail(`${label}: ${readme} links ${link}, which is not in the tarball`);
    }
  }
}

// `from "x"`, `import "x"`, `import("x")`, `require("x")`: over-matches (a string that looks like one), never under.
const importSpecifier = /(?:\bfrom\s*|\bimport\s*\(?\s*|\brequire\s*\(\s*)(["'])([^"'\n]+)\1/g;

/** Fails when a file an entry loads (its import and require targets and their relative imports) imports a module in `forbidImports`. */
function checkImports(name, packed, unpacked) {
  for (const [entry, expected] of Object.entries(packages[name])) {
    if (!expected.forbidImports) continue;
    const label = `@subrelay/${name}${entry.slice(1)}`;
    const forbidden = new Set(expected.forbidImports);
    const targets = targetsOf(packed.exports?.[entry]).filter((target) => /\.[cm]?js$/.test(target));
    if (targets.length === 0) fail(`${label}: no JavaScript target in exports to check the imports of`);
    const queue = targets.map((target) => resolve(unpacked, target));
    const seen = new Set();
    while (queue.length) {
      const file = queue.shift();
      // A missing file is checkManifest's failure to report.
      if (seen.has(file) || !existsSync(file)) continue;
      seen.add(file);
      for (const [, , specifier] of readFileSync(file, "utf8").matchAll(importSpecifier)) {
        if (specifier.startsWith(".")) queue.push(resolve(dirname(file), specifier));
        else if (forbidden.has(specifier.replace(/^node:/, ""))) fail(`${label}: ${relative(unpacked, file)} imports ${specifier}, which this entry must not load`);
      }
    }
  }
}

/** The consumer's TypeScript: every entry imported (ESM) and required (CJS), but those that need ioredis. */
function consumerSources() {
  const typeChecked = Object.keys(packages).filter((name) => !notTypeChecked.has(name));
  const specifiers = (needsIoredis) => typeChecked.flatMap((name) =>
    Object.entries(packages[name]).filter(([, expected]) => Boolean(expected.needsIoredis) === needsIoredis).map(([entry]) => `@subrelay/${name}${entry.slice(1)}`));
  const entries = specifiers(false);
  const binding = (index) => `entry${index}`;
  const all = `export const all = [${entries.map((_, index) => binding(index)).join(", ")}];`;
  const esm = [
    ...entries.map((specifier, index) => `import * as ${binding(index)} from "${specifier}";`),
    'import { MemoryTokenStore, type TokenStore } from "@subrelay/token-cache";',
    'import { MemorySchedulerCache, type SchedulerCache } from "@subrelay/scheduler-cache";',
    "export const tokenStore: TokenStore = new MemoryTokenStore();",
    "export const scheduler: SchedulerCache = new MemorySchedulerCache();",
    all,
    "",
  ].join("\n");
  const cjs = [...entries.map((specifier, index) => `import ${binding(index)} = require("${specifier}");`), all, ""].join("\n");
  const redis = specifiers(true).map((specifier) => `export * from "${specifier}";`).join("\n");
  return { esm, cjs, redis };
}

/** A node script that loads every entry with `loader` and checks its exports and smoke tests. */
function runtimeProbe(loader) {
  const lines = [
    'const fs = require("node:fs"); const path = require("node:path");',
    'const requireFrom = require("node:module").createRequire(path.join(process.cwd(), "package.json"));',
    "(async () => { const problems = [];",
  ];
  for (const [name, entries] of Object.entries(packages)) {
    for (const [entry, expected] of Object.entries(entries)) {
      const specifier = `@subrelay/${name}${entry.slice(1)}`;
      const load = loader === "require" ? `requireFrom(${JSON.stringify(specifier)})` : `await import(${JSON.stringify(specifier)})`;
      lines.push(`try { const m = ${load}; const label = ${JSON.stringify(`${loader} ${specifier}`)};`);
      for (const [kind, type] of [["functions", "function"], ["objects", "object"], ["strings", "string"]]) {
        for (const member of expected[kind] ?? []) {
          lines.push(`if (typeof m[${JSON.stringify(member)}] !== ${JSON.stringify(type)}) problems.push(label + ": ${member} is " + typeof m[${JSON.stringify(member)}] + ", not ${type}");`);
        }
      }
      for (const member of expected.absent ?? []) lines.push(`if (${JSON.stringify(member)} in m) problems.push(label + ": exports ${member}, which belongs elsewhere");`);
      const known = JSON.stringify([...(expected.functions ?? []), ...(expected.objects ?? []), ...(expected.strings ?? []), ...(expected.absent ?? [])]);
      lines.push(`for (const member of Object.keys(m)) if (!${known}.includes(member)) problems.push(label + ": exports " + member + ", which scripts/check-packages.mjs does not list");`);
      if (entry === "." && smokes[name]) lines.push(`{ const result = ${smokes[name]}; if (result !== true) problems.push(label + ": " + result); }`);
      lines.push(`} catch (error) { problems.push(${JSON.stringify(`${loader} ${specifier}`)} + ": " + String(error && error.message || error).split("\\n")[0]); }`);
    }
  }
  lines.push("console.log(JSON.stringify(problems)); })();");
  return lines.join("\n");
}

async function main() {
  const started = Date.now();
  const work = mkdtempSync(join(tmpdir(), "subrelay-check-packages-"));
  try {
    const filters = Object.keys(packages).map((name) => `--filter=@subrelay/${name}`);
    if ((await attempt("build", bin("turbo"), ["run", "build", ...filters, "--output-logs=errors-only"], { cwd: root })) === null) return;

    const tarballs = {};
    await inParallel(Object.keys(packages), async (name) => {
      const directory = join(root, "packages", name);
      const destination = join(work, "tarballs");
      mkdirSync(destination, { recursive: true });
      if ((await attempt(`@subrelay/${name}: pnpm pack`, "pnpm", ["pack", "--pack-destination", destination], { cwd: directory })) === null) return;
      const source = JSON.parse(readFileSync(join(directory, "package.json"), "utf8"));
      const tarball = join(destination, `subrelay-${name}-${source.version}.tgz`);
      if (!existsSync(tarball)) return fail(`@subrelay/${name}: pnpm pack made no ${tarball}`);
      tarballs[name] = tarball;
      const unpackTo = join(work, "unpacked", name);
      mkdirSync(unpackTo, { recursive: true });
      await run("tar", ["-xzf", tarball, "-C", unpackTo]);
      const unpacked = join(unpackTo, "package");
      const packed = JSON.parse(readFileSync(join(unpacked, "package.json"), "utf8"));
      checkManifest(name, source, packed, unpacked);
      checkImports(name, packed, unpacked);
      await attempt(`@subrelay/${name}: publint --strict`, bin("publint"), ["run", "--strict", tarball], { cwd: work });
      await attempt(`@subrelay/${name}: attw --profile node16`, bin("attw"), [tarball, "--profile", "node16", "--no-definitely-typed", "--format", "ascii", "--no-color"], { cwd: work });
    });
    if (Object.keys(tarballs).length !== Object.keys(packages).length) return;

    // The consumer: outside the workspace, every tarball installed together (their @subrelay dependencies
    // resolve to the sibling tarballs through overrides), TypeScript and @types/node from the local store when cached.
    const consumer = join(work, "consumer");
    mkdirSync(join(consumer, "redis"), { recursive: true });
    const rootManifest = JSON.parse(readFileSync(join(root, "package.json"), "utf8"));
    const files = Object.fromEntries(Object.entries(tarballs).map(([name, tarball]) => [`@subrelay/${name}`, `file:${tarball}`]));
    writeFileSync(join(consumer, "package.json"), JSON.stringify({
      name: "consumer", private: true, type: "module",
      dependencies: files,
      devDependencies: { typescript: rootManifest.devDependencies.typescript, "@types/node": rootManifest.devDependencies["@types/node"] },
      pnpm: { overrides: files },
    }, null, 2));
    writeFileSync(join(consumer, ".npmrc"), "auto-install-peers=false\n");
    const { esm, cjs, redis } = consumerSources();
    writeFileSync(join(consumer, "esm.ts"), esm);
    writeFileSync(join(consumer, "cjs.cts"), cjs);
    writeFileSync(join(consumer, "redis", "redis.ts"), redis);
    const compilerOptions = { module: "node16", moduleResolution: "node16", target: "ES2022", lib: ["ES2023"], types: ["node"], strict: true, skipLibCheck: false, noEmit: true };
    writeFileSync(join(consumer, "tsconfig.json"), JSON.stringify({ compilerOptions, files: ["esm.ts", "cjs.cts"] }, null, 2));
    writeFileSync(join(consumer, "tsconfig.redis.json"), JSON.stringify({ compilerOptions, files: ["redis/redis.ts"] }, null, 2));
    writeFileSync(join(consumer, "probe.cjs"), runtimeProbe("require"));
    writeFileSync(join(consumer, "probe-esm.cjs"), runtimeProbe("import"));

    const env = { ...process.env, NODE_OPTIONS: "" };
    const installed = await attempt("consumer: pnpm install of the tarballs", "pnpm", ["install", "--prefer-offline", "--ignore-workspace", "--config.confirmModulesPurge=false"], { cwd: consumer, env });
    if (installed === null) return;
    if (existsSync(join(consumer, "node_modules", "ioredis")) || existsSync(join(consumer, "node_modules", ".pnpm", "node_modules", "ioredis"))) {
      fail("consumer: ioredis got installed; it must stay an optional peer");
    }
    const tsc = join(consumer, "node_modules", "typescript", "bin", "tsc");
    await attempt("consumer: tsc (node16, strict, skipLibCheck false, no ioredis) over every entry but notTypeChecked and the /redis subpaths", process.execPath, [tsc, "-p", "tsconfig.json"], { cwd: consumer, env });
    try {
      await run(process.execPath, [tsc, "-p", "tsconfig.redis.json"], { cwd: consumer, env });
      fail("consumer: the /redis subpaths compiled without ioredis installed; they should be what needs it");
    } catch (error) {
      if (!/ioredis/.test(`${error.stdout}${error.stderr}`)) fail(`consumer: the /redis subpaths failed for another reason than ioredis: ${String(error.stdout).split("\n")[0]}`);
    }
    for (const probe of ["probe.cjs", "probe-esm.cjs"]) {
      const output = await attempt(`consumer: ${probe}`, process.execPath, [probe], { cwd: consumer, env });
      if (output !== null) for (const problem of JSON.parse(output)) fail(`consumer: ${problem}`);
    }
  } finally {
    rmSync(work, { recursive: true, force: true });
    const seconds = ((Date.now() - started) / 1000).toFixed(1);
    console.log(failures.length
      ? `check-packages: ${failures.length} failure(s) over ${Object.keys(packages).length} packages (${seconds}s)`
      : `check-packages: ${Object.keys(packages).length} packages ok (${seconds}s)`);
    process.exitCode = failures.length ? 1 : 0;
  }
}

await main();
