// `pnpm soak` in apps/gateway (not part of CI): a long run of mixed streaming / non-streaming Anthropic
// traffic through 3 gateway processes and 1 refresh worker on one Postgres + Redis, against a fake upstream
// that answers with random 429s, 500s and slow streams and issues short-lived, rotating OAuth tokens.
// Reports request count, error rate, refreshes per token expiry, p50/p99 latency and each process's RSS.
//   cd /work/main && node scripts/test-env.mjs -- pnpm --filter @subrelay/gateway soak
// Knobs (environment): SOAK_DURATION (default 10m), SOAK_CONCURRENCY (24), SOAK_ACCOUNTS (8 OAuth accounts),
// SOAK_TOKEN_TTL (expires_in of issued tokens, default 200s; the worker refreshes them 10 s after issue).
import { cpus } from "node:os";
import { setTimeout as delay } from "node:timers/promises";
import { FakeUpstream, type RecordedRequest, type Reply } from "@subrelay/providers-core/testing";
import { parseDuration } from "@subrelay/runtime";
import { claudeReply, claudeStreamEvents, paths } from "../test/harness";
import { startDeployment, type Deployment } from "../test/deployment/deployment";
import { LoadRun } from "../test/deployment/load-run";
import { closeMessageClient, sendMessage } from "../test/deployment/message-client";
import type { ServiceProcess } from "../test/deployment/service-process";

function durationOf(name: string, fallback: string): number {
  const value = parseDuration(process.env[name] ?? fallback);
  if (value === undefined || value <= 0) throw new Error(`${name} must be a duration such as 30s or 10m`);
  return value;
}
function countOf(name: string, fallback: number): number {
  const value = Number(process.env[name] ?? fallback);
  if (!Number.isInteger(value) || value <= 0) throw new Error(`${name} must be a positive integer`);
  return value;
}

const durationMs = durationOf("SOAK_DURATION", "10m");
const concurrency = countOf("SOAK_CONCURRENCY", 24);
const accountCount = countOf("SOAK_ACCOUNTS", 8);
const tokenTtlMs = durationOf("SOAK_TOKEN_TTL", "200s");
/** The worker refreshes a token once it has less than this left: 10 s after it was issued. */
const refreshWindowMs = Math.max(1_000, tokenTtlMs - 10_000);
const memorySamples = 10;

/** Upstream behaviour per request, by chance. */
// A 429 puts its account out for `retry-after` (1 s): rarer than 500s, or at hundreds of requests a
// second every account would be out at once and the run would measure the pool size, not the gateway.
const chances = { rateLimited: 0.001, serverError: 0.01, slowStream: 0.1 };

/**
 * The OAuth token endpoint: refresh tokens rotate (`rt-<account>-<n>` buys `rt-<account>-<n+1>`), a refresh
 * token presented twice is refused with invalid_grant (as real providers do), and every access token is
 * remembered with its expiry so requests made with an expired one are counted.
 */
class RotatingTokens {
  readonly uses = new Map<string, number>();
  readonly expiries = new Map<string, number>();
  refused = 0;

  readonly reply = (request: RecordedRequest): Reply => {
    const presented = request.json<{ refresh_token: string }>().refresh_token;
    const uses = (this.uses.get(presented) ?? 0) + 1;
    this.uses.set(presented, uses);
    if (uses > 1) {
      this.refused += 1;
      return { status: 400, json: { error: "invalid_grant", error_description: "refresh token already used" } };
    }
    const [, account, generation] = /^rt-(\d+)-(\d+)$/.exec(presented) ?? [];
    const next = `rt-${account}-${Number(generation) + 1}`;
    const accessToken = `at-${account}-${Number(generation) + 1}`;
    this.expiries.set(accessToken, Date.now() + tokenTtlMs);
    return { json: { access_token: accessToken, refresh_token: next, expires_in: tokenTtlMs / 1000, token_type: "Bearer" } };
  };

  /** Token endpoint calls, successful issues, and calls per refresh token (1 each when exactly once). */
  stats(): { calls: number; issued: number; maxPerToken: number } {
    const counts = [...this.uses.values()];
    return {
      calls: counts.reduce((sum, count) => sum + count, 0),
      issued: counts.length,
      maxPerToken: Math.max(0, ...counts),
    };
  }
}

function messagesReply(tokens: RotatingTokens, counters: { expiredTokenUsed: number; upstreamCalls: number }) {
  return (request: RecordedRequest): Reply => {
    counters.upstreamCalls += 1;
    const bearer = String(request.headers.authorization ?? "").replace(/^Bearer /, "");
    const expiresAt = tokens.expiries.get(bearer);
    if (expiresAt !== undefined && expiresAt <= Date.now()) counters.expiredTokenUsed += 1;
    const roll = Math.random();
    if (roll < chances.rateLimited) {
      return {
        status: 429,
        headers: { "retry-after": "1" },
        json: { type: "error", error: { type: "rate_limit_error", message: "soak: rate limited" } },
      };
    }
    if (roll < chances.rateLimited + chances.serverError) {
      return { status: 500, json: { type: "error", error: { type: "api_error", message: "soak: internal error" } } };
    }
    const streaming = request.json<{ stream?: boolean }>().stream === true;
    if (streaming && roll < chances.rateLimited + chances.serverError + chances.slowStream) {
      return { sse: claudeStreamEvents(), chunkDelayMs: 50 };
    }
    return claudeReply(request);
  };
}

function percentile(sorted: readonly number[], fraction: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor(fraction * sorted.length))]!;
}

function rssOf(services: readonly ServiceProcess[]): Record<string, number> {
  return Object.fromEntries(services.map((service) => [service.name, service.running ? service.rssKb() : Number.NaN]));
}

const mb = (kb: number) => `${(kb / 1024).toFixed(1)} MB`;

async function main(): Promise<void> {
  const tokens = new RotatingTokens();
  const counters = { expiredTokenUsed: 0, upstreamCalls: 0 };
  const upstream = await FakeUpstream.start();
  upstream.on("POST", paths.claudeToken, tokens.reply);
  let deployment: Deployment | undefined;
  try {
    deployment = await startDeployment({
      gateways: 3,
      workers: 1,
      upstream,
      env: { REFRESH_INTERVAL: "5s", REFRESH_WINDOW: `${refreshWindowMs}ms`, LOG_LEVEL: "error" },
    });
    const base = `${upstream.url}/soak`;
    upstream.on("POST", /^\/soak-\d+\/v1\/messages$/, messagesReply(tokens, counters));
    const seeded = await deployment.seed({
      platform: "claude",
      accounts: Array.from({ length: accountCount }, (_, index) => ({
        name: `soak-${index}`,
        type: "oauth" as const,
        concurrency: 50,
        // Half start expired (the gateways refresh them on first use), half fresh (the worker takes them over).
        credentials: {
          accessToken: `at-${index}-0`,
          refreshToken: `rt-${index}-0`,
          expiresAt: index % 2 === 0 ? Date.now() - 1_000 : Date.now() + tokenTtlMs,
        },
        baseUrl: `${base}-${index}`,
      })),
    });
    const { gateways } = deployment;
    const services = [...gateways, ...deployment.workers];
    const rssStart = rssOf(services);
    const rssSamples: Array<Record<string, number>> = [rssStart];
    process.stdout.write(
      `soak: ${durationMs / 1000} s, concurrency ${concurrency}, ${accountCount} OAuth accounts, token TTL ${tokenTtlMs / 1000} s, ` +
        `3 gateways + 1 worker (pids ${services.map((service) => service.pid).join(", ")})\n`,
    );

    const load = new LoadRun(concurrency, (index) =>
      sendMessage(gateways[index % gateways.length]!.url, seeded.key, { stream: index % 2 === 0 }),
    );
    const started = performance.now();
    for (let sample = 1; sample <= memorySamples; sample++) {
      await delay(durationMs / memorySamples);
      rssSamples.push(rssOf(services));
      const elapsed = Math.round((performance.now() - started) / 1000);
      process.stdout.write(`  ${elapsed} s: ${load.completed} requests\n`);
    }
    const summary = await load.stop();
    const elapsedS = (performance.now() - started) / 1000;
    const rssEnd = rssOf(services);
    const accounts = await deployment.admin<{ data: Array<{ status: string; errorMessage?: string | null }> }>("GET", "/admin/accounts");
    const states = accounts.body.data.map((account) => (account.status === "active" ? "active" : `${account.status} (${account.errorMessage ?? ""})`));
    const refreshes = tokens.stats();
    const sorted = [...summary.latencies].sort((a, b) => a - b);

    const lines = [
      "",
      `requests:            ${summary.sent} in ${elapsedS.toFixed(1)} s (${(summary.sent / elapsedS).toFixed(0)} req/s), upstream calls ${counters.upstreamCalls}`,
      `errors:              ${summary.failed} (${(summary.errorRate * 100).toFixed(3)} %) ${JSON.stringify(summary.failures)}`,
      `latency:             p50 ${percentile(sorted, 0.5).toFixed(1)} ms, p99 ${percentile(sorted, 0.99).toFixed(1)} ms, max ${percentile(sorted, 1).toFixed(1)} ms`,
      `token refreshes:     ${refreshes.calls} calls for ${refreshes.issued} expiring tokens = ${(refreshes.calls / Math.max(1, refreshes.issued)).toFixed(2)} refreshes per expiry ` +
        `(max ${refreshes.maxPerToken} on one refresh token; ${tokens.refused} refused as reused)`,
      `expired tokens used: ${counters.expiredTokenUsed} upstream requests`,
      `accounts at the end: ${JSON.stringify(states)}`,
      "memory (RSS):",
      ...services.map((service) => {
        const trend = rssSamples.map((sample) => (sample[service.name]! / 1024).toFixed(0)).join(" ");
        return `  ${service.name.padEnd(10)} start ${mb(rssStart[service.name]!)}, end ${mb(rssEnd[service.name]!)}  (samples MB: ${trend})`;
      }),
      `machine:             ${cpus()[0]?.model ?? "unknown"}, ${cpus().length} cores, node ${process.version}`,
    ];
    process.stdout.write(`${lines.join("\n")}\n`);
    const dead = services.filter((service) => !service.running);
    if (dead.length > 0) {
      throw new Error(`processes died during the soak: ${dead.map((service) => `${service.name}\n${service.output}`).join("\n")}`);
    }
  } finally {
    await deployment?.close();
    await upstream.close();
    await closeMessageClient();
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`soak failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exitCode = 1;
});
