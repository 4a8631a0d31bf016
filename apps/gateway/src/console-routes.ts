import { readFile, stat } from "node:fs/promises";
import { extname, resolve, sep } from "node:path";
import type { FastifyInstance, FastifyReply } from "fastify";
import { GatewayError } from "./gateway-error";

const CONTENT_TYPES: Readonly<Record<string, string>> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".mjs": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".json": "application/json; charset=utf-8",
  ".map": "application/json; charset=utf-8",
  ".txt": "text/plain; charset=utf-8",
  ".svg": "image/svg+xml",
  ".png": "image/png",
  ".jpg": "image/jpeg",
  ".jpeg": "image/jpeg",
  ".gif": "image/gif",
  ".webp": "image/webp",
  ".ico": "image/x-icon",
  ".woff": "font/woff",
  ".woff2": "font/woff2",
  ".wasm": "application/wasm",
};

/** Vite's hashed output: a file's name changes with its content, so it may be kept for good. */
const IMMUTABLE = "public, max-age=31536000, immutable";

/**
 * The operator console's static files at `/console/` (and `GET /` sent there with `redirectRoot`), from `dir`: a file when one
 * has the path, else `index.html` for a path without an extension (the app routes it), else a 404. Nothing
 * outside `dir` is ever read. Without `dir` (or `dir/index.html`) every console path is a 404 saying so.
 */
export function registerConsoleRoutes(app: FastifyInstance, options: { dir: string | undefined; redirectRoot: boolean }): void {
  const root = options.dir === undefined ? undefined : resolve(options.dir);
  const notBuilt = () => new GatewayError("not_found", "Console not built; run pnpm build");

  const send = async (reply: FastifyReply, file: string, relative: string) => {
    const body = await readFile(file);
    const cacheControl = relative.startsWith(`assets${sep}`) ? IMMUTABLE : "no-cache";
    return reply
      .header("cache-control", cacheControl)
      .header("x-content-type-options", "nosniff")
      .type(CONTENT_TYPES[extname(file).toLowerCase()] ?? "application/octet-stream")
      .send(body);
  };
  const isFile = (path: string) => stat(path).then((found) => found.isFile(), () => false);

  const serve = async (rest: string, reply: FastifyReply) => {
    if (root === undefined) throw notBuilt();
    const index = resolve(root, "index.html");
    if (!(await isFile(index))) throw notBuilt();
    if (rest === "" || rest === "index.html") return send(reply, index, "index.html");
    // Fastify has decoded the path once (`%2e%2e` is `..` by now); a NUL or a path that leaves the root is refused.
    const file = resolve(root, `.${sep}${rest}`);
    if (rest.includes("\0") || !file.startsWith(`${root}${sep}`)) throw new GatewayError("not_found", "No such console file.");
    if (await isFile(file)) return send(reply, file, file.slice(root.length + 1));
    const last = rest.split("/").at(-1) ?? "";
    if (extname(last) === "") return send(reply, index, "index.html");
    throw new GatewayError("not_found", "No such console file.");
  };

  if (options.redirectRoot) app.get("/", (_request, reply) => reply.redirect("/console/", 302));
  app.get("/console", (_request, reply) => serve("", reply));
  app.get("/console/*", (request, reply) => serve((request.params as { "*": string })["*"], reply));
}
