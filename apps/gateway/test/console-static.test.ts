import { request as httpRequest } from "node:http";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestGateway, type TestGateway } from "./harness";

const INDEX = "<!doctype html><title>subrelay console</title>";
const ASSET = "console.log('asset');";
const SECRET = "outside the console directory";

/** A request with its path sent exactly as written (fetch would resolve `..` before sending it). */
function rawGet(base: string, path: string, headers: Record<string, string> = {}): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: string }> {
  const url = new URL(base);
  return new Promise((resolve, reject) => {
    const request = httpRequest({ host: url.hostname, port: url.port, path, method: "GET", headers }, (response) => {
      const chunks: Buffer[] = [];
      response.on("data", (chunk: Buffer) => chunks.push(chunk));
      response.on("end", () => resolve({ status: response.statusCode ?? 0, headers: response.headers, body: Buffer.concat(chunks).toString("utf8") }));
      response.on("error", reject);
    });
    request.on("error", reject);
    request.end();
  });
}

/** The console's static files at /console/, from CONSOLE_DIR. */
describe("the console's static files", () => {
  let harness: TestGateway;
  let root: string;

  beforeAll(async () => {
    root = mkdtempSync(join(tmpdir(), "subrelay-console-test-"));
    const consoleDir = join(root, "console");
    mkdirSync(join(consoleDir, "assets"), { recursive: true });
    writeFileSync(join(consoleDir, "index.html"), INDEX);
    writeFileSync(join(consoleDir, "assets", "x.js"), ASSET);
    writeFileSync(join(consoleDir, "favicon.svg"), "<svg/>");
    // Beside the console directory: what a path traversal would reach.
    writeFileSync(join(root, "secret.txt"), SECRET);
    harness = await startTestGateway({ env: { CONSOLE_DIR: consoleDir } });
  });
  afterAll(async () => {
    await harness?.close();
    rmSync(root, { recursive: true, force: true });
  });

  it("serves index.html at /console and /console/, not to be cached", async () => {
    for (const path of ["/console", "/console/", "/console/index.html"]) {
      const response = await rawGet(harness.url, path);
      expect(response.status, path).toBe(200);
      expect(response.headers["content-type"]).toBe("text/html; charset=utf-8");
      expect(response.headers["cache-control"]).toBe("no-cache");
      expect(response.body).toBe(INDEX);
    }
  });

  it("serves assets with their content type, cached for good", async () => {
    const asset = await rawGet(harness.url, "/console/assets/x.js");
    expect(asset.status).toBe(200);
    expect(asset.headers["content-type"]).toBe("text/javascript; charset=utf-8");
    expect(asset.headers["cache-control"]).toBe("public, max-age=31536000, immutable");
    expect(asset.body).toBe(ASSET);
    const icon = await rawGet(harness.url, "/console/favicon.svg");
    expect(icon.headers["content-type"]).toBe("image/svg+xml");
    expect(icon.headers["cache-control"]).toBe("no-cache");
  });

  it("answers index.html for the app's own routes, and 404 for a missing file", async () => {
    const route = await rawGet(harness.url, "/console/accounts/12");
    expect(route.status).toBe(200);
    expect(route.body).toBe(INDEX);
    const missing = await rawGet(harness.url, "/console/assets/missing.js");
    expect(missing.status).toBe(404);
  });

  it("never reads outside the console directory", async () => {
    for (const path of [
      "/console/../secret.txt",
      "/console/../../secret.txt",
      "/console/%2e%2e/secret.txt",
      "/console/assets/%2e%2e/%2e%2e/secret.txt",
      "/console/..%2fsecret.txt",
      "/console/%2e%2e%2fsecret.txt",
      "/console/..%5csecret.txt",
      "/console/../../../../../../etc/passwd",
      "/console/%2e%2e/%2e%2e/%2e%2e/%2e%2e/etc/passwd",
      "/console/%00",
    ]) {
      const response = await rawGet(harness.url, path);
      expect(response.body, path).not.toContain(SECRET);
      expect(response.body, path).not.toContain("root:");
      expect([400, 404], path).toContain(response.status);
    }
  });

  it("sends a browser at / to the console, while API clients keep the product info", async () => {
    const browser = await rawGet(harness.url, "/", { accept: "text/html,application/xhtml+xml" });
    expect(browser.status).toBe(302);
    expect(browser.headers.location).toBe("/console/");
    const client = await rawGet(harness.url, "/");
    expect(client.status).toBe(200);
    expect(JSON.parse(client.body)).toMatchObject({ name: "subrelay" });
  });
});

describe("the console with an admin listener (ADMIN_PORT)", () => {
  let harness: TestGateway;
  let root: string;

  beforeAll(async () => {
    root = mkdtempSync(join(tmpdir(), "subrelay-console-test-"));
    writeFileSync(join(root, "index.html"), INDEX);
    harness = await startTestGateway({ env: { CONSOLE_DIR: root, ADMIN_PORT: "0" } });
  });
  afterAll(async () => {
    await harness?.close();
    rmSync(root, { recursive: true, force: true });
  });

  it("is served on the admin listener only, whose / redirects to it", async () => {
    expect(harness.adminUrl).not.toBe(harness.url);
    const served = await rawGet(harness.adminUrl, "/console/");
    expect(served.status).toBe(200);
    expect(served.body).toBe(INDEX);
    const root_ = await rawGet(harness.adminUrl, "/");
    expect(root_.status).toBe(302);
    expect(root_.headers.location).toBe("/console/");
    expect((await rawGet(harness.url, "/console/")).status).toBe(404);
    expect((await rawGet(harness.url, "/", { accept: "text/html" })).status).toBe(200);
  });
});

describe("without a built console", () => {
  let harness: TestGateway;

  beforeAll(async () => {
    harness = await startTestGateway({ env: { CONSOLE_DIR: join(tmpdir(), "subrelay-no-console-here") } });
  });
  afterAll(async () => harness?.close());

  it("answers /console with a 404 that says how to build it", async () => {
    for (const path of ["/console", "/console/", "/console/accounts"]) {
      const response = await rawGet(harness.url, path);
      expect(response.status, path).toBe(404);
      expect(JSON.parse(response.body)).toMatchObject({ error: { message: "Console not built; run pnpm build" } });
    }
  });
});
