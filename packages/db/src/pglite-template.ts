import {
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmdirSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { createRequire } from "node:module";
import { dirname, join, resolve, sep } from "node:path";
import { fileURLToPath } from "node:url";
import { gunzipSync } from "node:zlib";

/**
 * An initialised PGlite data directory made when this package is built (tsup.config.ts), shipped in dist/.
 *
 * Why: PGlite runs initdb inside the process that opens a new data directory, with a second PGlite instance
 * and a full copy of its 128 MB heap, and the process keeps most of that: the embedded gateway peaked at
 * ~750 MB on a new data directory against ~240 MB on an initialised one. Unpacking this template (the same
 * initdb, run once at build time) and resuming it costs what a restart costs.
 *
 * The template is `pglite-template.tar.gz` (a tar of the data directory, as PGlite's `dumpDataDir` writes it)
 * beside `pglite-template.json` (`{ "pglite": "<version that made it>" }`). It is used only when that version
 * is the PGlite version installed beside this package; otherwise, or when dist/ has none (tests from source
 * before a build), PGlite runs initdb itself as before.
 */
export interface PgliteTemplate {
  /** The gzipped tar. */
  archive: Uint8Array;
  /** The PGlite version that made it. */
  pgliteVersion: string;
}

const ARCHIVE = "pglite-template.tar.gz";
const MANIFEST = "pglite-template.json";

/** dist/ from both src/ and dist/ (each one level below the package root; the CJS build gets tsup's shim). */
function templateFolder(): string {
  return fileURLToPath(new URL("../dist", import.meta.url));
}

/** The installed @electric-sql/pglite's version (its package.json is not in its exports, so it is read as a file). */
export function installedPgliteVersion(): string {
  const entry = createRequire(import.meta.url).resolve("@electric-sql/pglite");
  for (let folder = dirname(entry); folder !== dirname(folder); folder = dirname(folder)) {
    const manifest = join(folder, "package.json");
    if (!existsSync(manifest)) continue;
    const parsed = JSON.parse(readFileSync(manifest, "utf8")) as { name?: string; version?: string };
    if (parsed.name === "@electric-sql/pglite" && parsed.version) return parsed.version;
  }
  throw new Error("@electric-sql/pglite's package.json not found");
}

/** The shipped template when it was made by the installed PGlite; undefined otherwise. */
export function shippedPgliteTemplate(folder = templateFolder()): PgliteTemplate | undefined {
  const manifestPath = join(folder, MANIFEST);
  const archivePath = join(folder, ARCHIVE);
  if (!existsSync(manifestPath) || !existsSync(archivePath)) return undefined;
  const { pglite } = JSON.parse(readFileSync(manifestPath, "utf8")) as { pglite?: string };
  if (pglite !== installedPgliteVersion()) return undefined;
  return { archive: readFileSync(archivePath), pgliteVersion: pglite };
}

/** Writes the template for the installed PGlite into `folder` (the build's dist/), initdb run with `initDbStartParams`. */
export async function writePgliteTemplate(folder: string, initDbStartParams: string[]): Promise<void> {
  const { PGlite } = await import("@electric-sql/pglite");
  const pglite = await PGlite.create({ initDbStartParams });
  try {
    const dump = await pglite.dumpDataDir("gzip");
    mkdirSync(folder, { recursive: true });
    writeFileSync(join(folder, ARCHIVE), new Uint8Array(await dump.arrayBuffer()));
    writeFileSync(join(folder, MANIFEST), `${JSON.stringify({ pglite: installedPgliteVersion() })}\n`);
  } finally {
    await pglite.close();
  }
}

/**
 * Unpacks `template` as the data directory `dataDir` when `dataDir` is missing or empty, and returns true;
 * leaves anything else alone (false). Unpacks beside it and renames, so a crash mid-way never leaves a
 * directory that looks initialised.
 */
export function unpackPgliteTemplate(template: PgliteTemplate, dataDir: string): boolean {
  const target = resolve(dataDir);
  if (existsSync(target) && readdirSync(target).length > 0) return false;
  const partial = `${target}.partial-${process.pid}`;
  rmSync(partial, { recursive: true, force: true });
  try {
    extractTar(gunzipSync(template.archive), partial);
    if (existsSync(target)) rmdirSync(target);
    renameSync(partial, target);
  } catch (error) {
    rmSync(partial, { recursive: true, force: true });
    throw error;
  }
  return true;
}

const BLOCK = 512;

/** Regular files and directories of a ustar archive into `folder`; any other entry, or a path leaving it, throws. */
function extractTar(tar: Buffer, folder: string): void {
  mkdirSync(folder, { recursive: true, mode: 0o700 });
  for (let offset = 0; offset + BLOCK <= tar.length;) {
    const header = tar.subarray(offset, offset + BLOCK);
    if (header.every((byte) => byte === 0)) break;
    const text = (start: number, length: number) => {
      const field = header.subarray(start, start + length);
      const end = field.indexOf(0);
      return field.subarray(0, end < 0 ? length : end).toString("utf8");
    };
    const octal = (start: number, length: number) => parseInt(text(start, length).trim() || "0", 8);
    const prefix = text(345, 155);
    const name = prefix ? `${prefix}/${text(0, 100)}` : text(0, 100);
    const size = octal(124, 12);
    const mode = octal(100, 8) & 0o777;
    const type = String.fromCharCode(header[156] ?? 0);
    const path = resolve(folder, `.${sep}${name}`);
    if (path !== folder && !path.startsWith(`${folder}${sep}`))
      throw new Error(`template entry outside the data directory: ${name}`);
    const body = offset + BLOCK;
    if (type === "5") mkdirSync(path, { recursive: true, mode: mode || 0o700 });
    else if (type === "0" || type === "\0") {
      mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
      writeFileSync(path, tar.subarray(body, body + size), { mode: mode || 0o600 });
    } else throw new Error(`template entry of tar type ${JSON.stringify(type)}: ${name}`);
    offset = body + Math.ceil(size / BLOCK) * BLOCK;
  }
}
