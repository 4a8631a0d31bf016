import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";
import { expect, vi } from "vitest";
import type { AccountSnapshot } from "@subrelay/scheduler-cache";
import { FakeUpstream, readFixture, type RecordedRequest } from "@subrelay/providers-core/testing";
import type { UsageTotals } from "@subrelay/db";
import { loadConfig } from "@subrelay/runtime";
import { createGateway, type Gateway, type GatewayOverrides } from "../src/index";

export const ADMIN_TOKEN = "test-admin-token-0123456789abcdef0123";

const claudeFixtures = new URL("../../../packages/providers-claude/src/__fixtures__/", import.meta.url);
const openaiFixtures = new URL("../../../packages/providers-openai/src/__fixtures__/", import.meta.url);
const geminiFixtures = new URL("../../../packages/providers-gemini/src/__fixtures__/", import.meta.url);

/** Both backends, for `describe.each`. */
export const backends = ["embedded", "postgres-redis"] as const;
export type Backend = (typeof backends)[number];

/** The upstream paths the harness scripts, per platform. */
export const paths = {
  claudeToken: "/claude/oauth/token",
  claudeMessages: "/v1/messages",
  openaiToken: "/openai/oauth/token",
  openaiChat: "/v1/chat/completions",
  openaiResponses: "/v1/responses",
  codexResponses: "/backend-api/codex/responses",
  geminiToken: "/gemini/oauth/token",
  geminiGenerate: /^\/v1beta\/models\/[^/]+:generateContent$/,
  geminiStream: /^\/v1beta\/models\/[^/]+:streamGenerateContent$/,
  codeAssistGenerate: "/v1internal:generateContent",
  codeAssistStream: "/v1internal:streamGenerateContent",
} as const;

export interface TestGateway {
  gateway: Gateway;
  url: string;
  /** Where the admin API and /metrics answer: `url`, or the admin listener's with ADMIN_PORT. */
  adminUrl: string;
  upstream: FakeUpstream;
  admin<T = Record<string, unknown>>(method: string, path: string, body?: unknown): Promise<{ status: number; body: T }>;
  /** Creates a group, an account in it and a key for it; returns the key and ids. */
  seed(options: SeedOptions): Promise<Seeded>;
  /** Flushes queued usage rows and returns the totals of one account (undefined when it has none). */
  usageOf(accountId: string): Promise<UsageTotals | undefined>;
  close(): Promise<void>;
}

export interface Seeded {
  key: string;
  keyId: number;
  groupId: number;
  accountIds: string[];
}

export type { UsageTotals } from "@subrelay/db";

/** One account as `GET /admin/accounts` lists it (asserting the listing answered and holds it). */
export async function listedAccount<T extends { id: string }>(harness: Pick<TestGateway, "admin">, id: string): Promise<T> {
  const listed = await harness.admin<{ data: T[] }>("GET", "/admin/accounts");
  expect(listed.status).toBe(200);
  const found = listed.body.data.find((account) => account.id === id);
  expect(found).toBeDefined();
  return found!;
}

export interface SeedOptions {
  platform: "claude" | "openai" | "gemini";
  mode?: "single" | "mixed";
  /** The group's default model. */
  defaultModel?: string;
  accounts: Array<{
    name?: string;
    /** The account's platform when it is not the group's (a mixed group holds several). */
    platform?: "claude" | "openai" | "gemini";
    type: "oauth" | "apikey";
    credentials: Record<string, unknown>;
    priority?: number;
    concurrency?: number;
    models?: string[];
    modelMap?: Record<string, string>;
    baseUrl?: string;
  }>;
}

export interface StartOptions {
  /** Postgres (a fresh database per call) + Redis (a fresh prefix per call) instead of the embedded default. */
  backend?: "embedded" | "postgres-redis";
  env?: Record<string, string>;
  overrides?: GatewayOverrides;
  upstream?: FakeUpstream;
}

/** A gateway on a free port against a FakeUpstream that plays all three platforms. */
export async function startTestGateway(options: StartOptions = {}): Promise<TestGateway> {
  const upstream = options.upstream ?? (await FakeUpstream.start());
  const cleanups: Array<() => Promise<void> | void> = [];
  const dataDir = mkdtempSync(join(tmpdir(), "subrelay-gateway-test-"));
  cleanups.push(() => rmSync(dataDir, { recursive: true, force: true }));
  const env: Record<string, string> = {
    PORT: "0",
    HOST: "127.0.0.1",
    DATA_DIR: dataDir,
    ADMIN_TOKEN,
    LOG_LEVEL: "silent",
    SUBRELAY_CLAUDE_BASE_URL: upstream.url,
    SUBRELAY_CLAUDE_TOKEN_URL: `${upstream.url}${paths.claudeToken}`,
    SUBRELAY_OPENAI_BASE_URL: upstream.url,
    SUBRELAY_OPENAI_TOKEN_URL: `${upstream.url}${paths.openaiToken}`,
    SUBRELAY_GEMINI_BASE_URL: upstream.url,
    SUBRELAY_GEMINI_TOKEN_URL: `${upstream.url}${paths.geminiToken}`,
    // Every test client is 127.0.0.1: tests of refusals must not lock each other out (the throttle's own test lowers it).
    ADMIN_LOGIN_BURST: "100000",
    // The fake upstreams listen on loopback over plain http: accounts' own base URLs may point there.
    UPSTREAM_ALLOWLIST: "127.0.0.1",
    ...options.env,
  };
  if (options.backend === "postgres-redis") {
    // A replica of another test gateway names that one's database, secret and prefix in `env`.
    if (!env.DATABASE_URL) {
      const database = await createTestDatabase();
      cleanups.push(() => database.drop());
      env.DATABASE_URL = database.url;
    }
    env.SUBRELAY_SECRET_KEY ??= randomBytes(32).toString("hex");
    env.REDIS_URL ??= requiredEnv("REDIS_URL");
    env.REDIS_PREFIX ??= `test-${randomBytes(6).toString("hex")}:`;
  }
  const gateway = await createGateway(loadConfig(env), options.overrides);
  const address = await gateway.listen();
  const url = address.replace("[::1]", "127.0.0.1");

  // With ADMIN_PORT the admin API is on its own listener.
  const adminUrl = gateway.adminApp ? listenerUrl(gateway.adminApp) : url;
  const admin = async <T,>(method: string, path: string, body?: unknown) => {
    const response = await fetch(`${adminUrl}${path}`, {
      method,
      headers: {
        authorization: `Bearer ${ADMIN_TOKEN}`,
        ...(body === undefined ? {} : { "content-type": "application/json" }),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await response.text();
    return { status: response.status, body: (text ? JSON.parse(text) : {}) as T };
  };

  return {
    gateway,
    url,
    adminUrl,
    upstream,
    admin,
    seed: (seed) => seedThrough(admin, seed),
    async usageOf(accountId) {
      await gateway.usage.flush();
      const totals = await admin<{ data: UsageTotals[] }>("GET", "/admin/usage?groupBy=account");
      if (totals.status !== 200) throw new Error(`usage: ${JSON.stringify(totals.body)}`);
      return totals.body.data.find((row) => row.key === accountId);
    },
    async close() {
      await gateway.close();
      if (!options.upstream) await upstream.close();
      for (const cleanup of cleanups.reverse()) await cleanup();
    },
  };
}

/** `http://host:port` of a listening Fastify instance. */
export function listenerUrl(app: { server: { address(): unknown } }): string {
  const address = app.server.address() as { address: string; port: number } | null;
  if (!address) throw new Error("the listener is not listening");
  return `http://${address.address.includes(":") ? `[${address.address}]` : address.address}:${address.port}`;
}

function requiredEnv(name: string): string {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set: run the tests through scripts/test-env.mjs`);
  return value;
}

/** What the admin API of a gateway under test answers. */
export type AdminCall = <T>(method: string, path: string, body?: unknown) => Promise<{ status: number; body: T }>;

/** Creates a group, its accounts and a key through the admin API. */
export async function seedThrough(
  admin: AdminCall,
  seed: SeedOptions,
  options: { defaultConcurrency?: number; keyName?: string } = {},
): Promise<Seeded> {
  const group = await admin<{ id: number }>("POST", "/admin/groups", {
    name: `group-${randomBytes(4).toString("hex")}`,
    platform: seed.platform,
    mode: seed.mode,
    defaultModel: seed.defaultModel,
  });
  if (group.status !== 201) throw new Error(`group: ${JSON.stringify(group.body)}`);
  const accountIds: string[] = [];
  for (const [index, account] of seed.accounts.entries()) {
    const created = await admin<{ id: string }>("POST", "/admin/accounts", {
      name: account.name ?? `account-${index}`,
      platform: account.platform ?? seed.platform,
      type: account.type,
      credentials: account.credentials,
      groupIds: [group.body.id],
      priority: account.priority,
      concurrency: account.concurrency ?? options.defaultConcurrency ?? 100,
      models: account.models,
      modelMap: account.modelMap,
      baseUrl: account.baseUrl,
    });
    if (created.status !== 201) throw new Error(`account: ${JSON.stringify(created.body)}`);
    accountIds.push(created.body.id);
  }
  const key = await admin<{ id: number; key: string }>("POST", "/admin/api-keys", {
    name: options.keyName ?? "test",
    groupId: group.body.id,
  });
  if (key.status !== 201) throw new Error(`key: ${JSON.stringify(key.body)}`);
  return { key: key.body.key, keyId: key.body.id, groupId: group.body.id, accountIds };
}

/** A fresh database on the DATABASE_URL server, dropped by `drop()`. */
export async function createTestDatabase(): Promise<{ url: string; drop(): Promise<void> }> {
  const base = requiredEnv("DATABASE_URL");
  const name = `gateway_test_${randomBytes(6).toString("hex")}`;
  const client = new pg.Client({ connectionString: base });
  await client.connect();
  await client.query(`CREATE DATABASE ${name}`);
  await client.end();
  const url = new URL(base);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    async drop() {
      const admin = new pg.Client({ connectionString: base });
      await admin.connect();
      await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await admin.end();
    },
  };
}

/** An Anthropic message reply for a request (JSON, or the fixture's SSE transcript when it asked to stream). */
export function claudeReply(request: RecordedRequest) {
  const body = request.json<{ stream?: boolean }>();
  if (body.stream) {
    return { sse: [readFixture(claudeFixtures, "messages-stream.sse")], headers: { "content-type": "text/event-stream" } };
  }
  return { json: JSON.parse(readFixture(claudeFixtures, "message.json")) as unknown };
}

/** The Claude message fixture, for comparing what clients receive. */
export function claudeMessage(): Record<string, unknown> {
  return JSON.parse(readFixture(claudeFixtures, "message.json")) as Record<string, unknown>;
}

/** A token endpoint reply that issues `access-<n>` / `refresh-<n>` tokens valid for an hour. */
export function tokenReply(counter: { count: number }) {
  return () => {
    counter.count += 1;
    return {
      json: {
        access_token: `access-${counter.count}`,
        refresh_token: `refresh-${counter.count}`,
        expires_in: 3600,
        token_type: "Bearer",
      },
    };
  };
}

/** A promise with its resolve function, for synchronising with the fake upstream without sleeping. */
export function deferred<T = void>(): { promise: Promise<T>; resolve(value: T): void } {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((done) => (resolve = done));
  return { promise, resolve };
}

/** The OpenAI chat completion fixture (JSON) or its streamed transcript, as the request asked. */
export function openaiChatReply(request: RecordedRequest) {
  if (request.json<{ stream?: boolean }>().stream) {
    return { sse: splitSse(readFixture(openaiFixtures, "chat-stream-with-usage.sse")) };
  }
  return { json: JSON.parse(readFixture(openaiFixtures, "chat-completion.json")) as unknown };
}

/** The OpenAI Responses fixture (JSON) or its streamed transcript, as the request asked. */
export function openaiResponsesReply(request: RecordedRequest) {
  if (request.json<{ stream?: boolean }>().stream) {
    return { sse: splitSse(readFixture(openaiFixtures, "responses-stream.sse")) };
  }
  return { json: JSON.parse(readFixture(openaiFixtures, "response.json")) as unknown };
}

/** The ChatGPT Codex backend's streamed Responses transcript; the connection is cut after 4 events for input "cut". */
export function codexReply(request: RecordedRequest) {
  const sse = splitSse(readFixture(openaiFixtures, "codex-stream.sse"));
  return request.json<{ input?: unknown }>().input === "cut" ? { sse, dropAfter: 4 } : { sse };
}

/** A public Gemini API answer: JSON, or the SSE transcript for `:streamGenerateContent`. */
export function geminiReply(request: RecordedRequest) {
  if (request.path.endsWith(":streamGenerateContent")) return { sse: splitSse(readFixture(geminiFixtures, "stream.sse")) };
  return { json: JSON.parse(readFixture(geminiFixtures, "generate-content.json")) as unknown };
}

/** A Code Assist answer, wrapped in its `{response, traceId}` envelope. */
export function codeAssistReply(request: RecordedRequest) {
  if (request.path.endsWith(":streamGenerateContent")) {
    return { sse: splitSse(readFixture(geminiFixtures, "code-assist-stream.sse")) };
  }
  return { json: JSON.parse(readFixture(geminiFixtures, "code-assist-generate-content.json")) as unknown };
}

/** A fixture of any platform, parsed as JSON. */
export function jsonFixture(platform: "claude" | "openai" | "gemini", name: string): Record<string, unknown> {
  const dir = platform === "claude" ? claudeFixtures : platform === "openai" ? openaiFixtures : geminiFixtures;
  return JSON.parse(readFixture(dir, name)) as Record<string, unknown>;
}

/** The Claude streaming transcript, one chunk per SSE event (for cutting a stream after some events). */
export function claudeStreamEvents(): string[] {
  return splitSse(readFixture(claudeFixtures, "messages-stream.sse"));
}

/** Splits an SSE transcript into its events, so the fake upstream writes each as its own chunk. */
export function splitSse(transcript: string): string[] {
  return transcript
    .replace(/\r\n/g, "\n")
    .split(/\n\n/)
    .filter((event) => event.trim() !== "")
    .map((event) => `${event}\n\n`);
}

/**
 * A token endpoint for every platform: issues `fresh-<refresh token>-<n>` access tokens valid for an hour
 * and counts the refreshes per refresh token (JSON bodies for Claude and OpenAI, form bodies for Google).
 */
export class TokenEndpoint {
  private readonly counts = new Map<string, number>();
  /** Resolved replies wait for this, when set (to hold a refresh in flight). */
  gate: Promise<unknown> | undefined;

  readonly reply = async (request: RecordedRequest) => {
    const refreshToken = refreshTokenOf(request);
    const count = (this.counts.get(refreshToken) ?? 0) + 1;
    this.counts.set(refreshToken, count);
    if (this.gate) await this.gate;
    return {
      json: {
        access_token: `fresh-${refreshToken}-${count}`,
        refresh_token: refreshToken,
        expires_in: 3600,
        token_type: "Bearer",
      },
    };
  };

  /** Refreshes asked for with this refresh token. */
  calls(refreshToken: string): number {
    return this.counts.get(refreshToken) ?? 0;
  }

  /** Answers every platform's token path of the harness upstream. */
  install(upstream: FakeUpstream): this {
    upstream.on("POST", paths.claudeToken, this.reply).on("POST", paths.openaiToken, this.reply).on("POST", paths.geminiToken, this.reply);
    return this;
  }
}

function refreshTokenOf(request: RecordedRequest): string {
  const contentType = String(request.headers["content-type"] ?? "");
  if (contentType.includes("json")) return String(request.json<{ refresh_token?: unknown }>().refresh_token);
  return new URLSearchParams(request.body).get("refresh_token") ?? "";
}

/** A clock the test moves by hand (epoch ms), injected as `overrides.now`. */
export class ManualClock {
  constructor(private time = Date.now()) {}
  readonly now = () => this.time;
  advance(ms: number): void {
    this.time += ms;
  }
}

/** Asserts that none of `secrets` appears in `text` (error bodies sent to clients). */
export function leakedSecrets(text: string, secrets: readonly string[]): string[] {
  return secrets.filter((secret) => secret !== "" && text.includes(secret));
}

/** Resolves once `gateway` pushed a snapshot of `accountId` matching `predicate` to the scheduler cache. */
export function schedulerSnapshotPushed(
  gateway: Gateway,
  accountId: string,
  predicate: (snapshot: AccountSnapshot) => boolean,
): Promise<AccountSnapshot> {
  const pushed = deferred<AccountSnapshot>();
  const scheduler = gateway.scheduler;
  const original = scheduler.setAccount.bind(scheduler);
  const spy = vi.spyOn(scheduler, "setAccount").mockImplementation(async (snapshot) => {
    await original(snapshot);
    if (snapshot.id === accountId && predicate(snapshot)) pushed.resolve(snapshot);
  });
  return pushed.promise.finally(() => spy.mockRestore());
}
