import type { ServerResponse } from "node:http";
import type { Dispatcher } from "undici";
import {
  createSseParser,
  formatSseEvent,
  type ClientRequest,
  type Dialect,
  type Provider,
  type ResponseShaper,
  type SseEvent,
  type UpstreamAccount,
  type UpstreamRequest,
  type UsageTracker,
  type Verdict,
} from "@subrelay/providers-core";
import type { AccountSnapshot, SchedulerBucket } from "@subrelay/scheduler-cache";
import { TokenRefreshError, type Logger } from "@subrelay/token-cache";
import { rankCandidates, servesModel } from "./account-selection";
import type { AccountDirectory } from "./account-directory";
import type { AccountStateRecorder } from "./account-state-recorder";
import type { ApiKeyGrant } from "./api-key-authenticator";
import type { BucketAccounts } from "./bucket-accounts";
import type { ConcurrencySlots, SlotCandidate, SlotLease } from "./concurrency-slots";
import { GatewayError, errorEvent } from "./dialect-error";
import type { GatewayMetrics } from "./gateway-metrics";
import type { LastUsedTracker } from "./last-used-tracker";
import { describeError } from "./redis-support";
import { sessionKeyOf, type StickySessions } from "./sticky-sessions";
import type { AccessTokens } from "./access-tokens";
import { Cancellation } from "./cancellation";
import type { UsageRecorder } from "./usage-recorder";

/** Accounts tried for one request: the first plus up to three switches. */
const MAX_ACCOUNTS = 4;
/** Upstream error bodies are read up to this size to judge them. */
const ERROR_BODY_LIMIT = 64 * 1024;
/** After a client hangs up mid-stream, the upstream is drained this long more to read its usage. */
const USAGE_DRAIN_MS = 10_000;
/** A sticky account outranks every priority tier. */
const STICKY_PRIORITY = Number.MIN_SAFE_INTEGER;

export interface RelayDependencies {
  providers: ReadonlyMap<string, Provider>;
  buckets: BucketAccounts;
  accounts: AccountDirectory;
  tokens: AccessTokens;
  slots: ConcurrencySlots;
  sticky: StickySessions;
  states: AccountStateRecorder;
  lastUsed: LastUsedTracker;
  usage: UsageRecorder;
  metrics: GatewayMetrics;
  dispatcher: Dispatcher;
  headersTimeoutMs: number;
  bodyTimeoutMs: number;
  logger: Logger;
  now?: () => number;
}

/** One client call, parsed and authenticated. */
export interface RelayCall {
  requestId: string;
  route: string;
  dialect: Dialect;
  platform: string;
  grant: ApiKeyGrant;
  request: ClientRequest;
  /** The raw Node response; the relay writes status, headers and body itself. */
  response: ServerResponse;
  /** Aborts when the client disconnects. */
  clientGone: Cancellation;
  startedAt: number;
}

interface UpstreamAnswer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Dispatcher.ResponseData["body"];
}

/** The last refusal seen, relayed to the client when every account refused. */
type Refusal = { status: number; headers: Record<string, string | string[] | undefined>; bodyText: string } | GatewayError;

/**
 * The request path after authentication and parsing: choose an account, get its credentials, shape
 * the upstream request through the platform's provider, judge the answer, fail over while nothing has
 * reached the client yet, then stream the answer through as it arrives.
 */
export class Relay {
  private readonly now: () => number;

  constructor(private readonly deps: RelayDependencies) {
    this.now = deps.now ?? Date.now;
  }

  /** The platform's provider, or a 404 for a platform this gateway does not serve. */
  provider(platform: string): Provider {
    const provider = this.deps.providers.get(platform);
    if (!provider) throw new GatewayError("not_found", `Platform "${platform}" is not served by this gateway.`);
    return provider;
  }

  async handle(call: RelayCall): Promise<void> {
    const provider = this.provider(call.platform);
    const bucket: SchedulerBucket = { groupId: call.grant.groupId, platform: call.platform, mode: call.grant.mode };
    const accounts = await this.deps.buckets.get(bucket);
    const { operation, model } = call.request;
    if (accounts.length === 0) {
      throw new GatewayError("unavailable", "This key's group has no upstream accounts yet.");
    }
    const serving = accounts.filter((account) => servesModel(account, model));
    if (serving.length === 0) {
      throw new GatewayError("not_found", `The model "${model}" is not available for this key.`);
    }
    const eligible = serving.filter((account) => provider.supports(operation, accountType(account)));
    if (eligible.length === 0) {
      // A provider may say an account type cannot serve an operation; the built-in ones serve them all.
      throw new GatewayError("invalid_request", `No account of this key can serve this endpoint for "${model}".`);
    }

    const sessionKey = sessionKeyOf(`${bucket.groupId}:${bucket.platform}`, call.request.headers, call.request.body);
    const stickyAccountId = sessionKey ? await this.deps.sticky.get(sessionKey) : null;
    const excluded = new Set<string>();
    const authRetried = new Set<string>();
    let lastRefusal: Refusal | undefined;

    for (let tried = 0; tried < MAX_ACCOUNTS; ) {
      const now = this.now();
      const ranked = rankCandidates(eligible, { now, model, exclude: excluded });
      if (ranked.length === 0) break;
      const lease = await this.deps.slots.acquire(slotCandidates(ranked, stickyAccountId), call.requestId);
      if (!lease) {
        lastRefusal ??= new GatewayError("rate_limited", "Every upstream account is busy; retry shortly.");
        break;
      }
      const snapshot = ranked.find((account) => account.id === lease.accountId)!;
      const outcome = await this.attempt(call, provider, snapshot, lease, authRetried);
      if (outcome.kind === "done") {
        if (sessionKey && stickyAccountId !== snapshot.id) void this.deps.sticky.set(sessionKey, snapshot.id);
        return;
      }
      if (outcome.kind === "retry_same") continue;
      lastRefusal = outcome.refusal;
      excluded.add(snapshot.id);
      if (sessionKey && stickyAccountId === snapshot.id) void this.deps.sticky.delete(sessionKey);
      tried += 1;
      if (tried < MAX_ACCOUNTS) this.deps.metrics.failovers.inc({ platform: call.platform, reason: outcome.reason });
    }

    if (lastRefusal === undefined) {
      // Every account is cooling down: say when the first comes back, so clients retry then rather than now.
      const comeback = earliestComeback(eligible, this.now());
      lastRefusal =
        comeback === undefined
          ? new GatewayError("unavailable", "No upstream account is available for this request right now.")
          : new GatewayError("rate_limited", "Every upstream account is rate limited or cooling down; retry later.", {
              retryAfterSeconds: Math.max(1, Math.ceil((comeback - this.now()) / 1000)),
            });
    }
    if (lastRefusal instanceof GatewayError) {
      // Failed requests are accounted too: the usage log is where an operator sees them.
      this.recordUsage(call, null, lastRefusal.status, null, undefined);
      throw lastRefusal;
    }
    this.finishWith(call, lastRefusal.status, lastRefusal.headers, lastRefusal.bodyText);
    this.recordUsage(call, null, lastRefusal.status, null, undefined);
  }

  /** Tries one account. Everything up to the first byte sent can still fail over. */
  private async attempt(
    call: RelayCall,
    provider: Provider,
    snapshot: AccountSnapshot,
    lease: SlotLease,
    authRetried: Set<string>,
  ): Promise<
    | { kind: "done" }
    | { kind: "retry_same" }
    | { kind: "failover"; reason: string; refusal: Refusal }
  > {
    let released = false;
    let stopFollowingClient = () => {};
    const release = () => {
      stopFollowingClient();
      if (!released) {
        released = true;
        void lease.release();
      }
    };
    try {
      const account = await this.deps.accounts.get(snapshot.id);
      if (!account) return { kind: "failover", reason: "gone", refusal: new GatewayError("unavailable", "Account removed.") };

      let accessToken: string | undefined;
      if (account.type === "oauth") {
        try {
          accessToken = await this.deps.tokens.get(account, call.clientGone);
        } catch (error) {
          return this.tokenFailure(call, account, error);
        }
      }

      const input = { account, accessToken, request: call.request };
      const upstreamRequest = provider.buildRequest(input);
      // The upstream call follows the client until its answer is being delivered: a client that leaves
      // before then takes the call with it; after, `deliver` drains the stream a while for its usage.
      const upstreamAbort = new Cancellation();
      stopFollowingClient = call.clientGone.propagateTo(upstreamAbort);
      const sentAt = this.now();
      const answer = await this.send(upstreamRequest, upstreamAbort).catch((error: unknown) => error);
      if (!isAnswer(answer)) {
        if (call.clientGone.aborted) return { kind: "done" };
        const verdict = provider.classifyNetworkError(answer);
        this.deps.logger.warn({ accountId: account.id, error: describeError(answer) }, "upstream request failed");
        this.observeUpstream(call, sentAt, "network");
        return this.refuse(call, account, verdict, new GatewayError("upstream", "The upstream request failed."));
      }

      this.observeUpstream(call, sentAt, String(answer.status));
      if (answer.status >= 400) {
        const bodyText = await readText(answer.body, ERROR_BODY_LIMIT);
        const verdict = provider.classify({ status: answer.status, headers: answer.headers, bodyText }, this.now());
        if (verdict.kind === "auth" && account.type === "oauth" && !authRetried.has(account.id)) {
          authRetried.add(account.id);
          await this.deps.tokens.invalidate(account);
          return { kind: "retry_same" };
        }
        const refusal = { status: answer.status, headers: answer.headers, bodyText };
        if (verdict.kind === "auth" && account.type === "apikey") {
          // No refresh can mend a refused API key: the account needs an operator.
          return this.refuse(call, account, { kind: "forbidden", reason: "upstream rejected the API key" }, refusal);
        }
        if (verdict.kind === "client" || verdict.kind === "ok") {
          this.finishWith(call, answer.status, answer.headers, bodyText);
          this.recordUsage(call, account.id, answer.status, null, undefined);
          return { kind: "done" };
        }
        return this.refuse(call, account, verdict, refusal);
      }

      const verdict = provider.classify({ status: answer.status, headers: answer.headers }, this.now());
      if (verdict.kind !== "ok") {
        const bodyText = await readText(answer.body, ERROR_BODY_LIMIT);
        return this.refuse(call, account, verdict, { status: 502, headers: answer.headers, bodyText });
      }
      this.deps.lastUsed.touch(account.id, this.now());
      stopFollowingClient();
      await this.deliver(call, provider, input, answer, sentAt);
      return { kind: "done" };
    } finally {
      release();
    }
  }

  private tokenFailure(
    call: RelayCall,
    account: UpstreamAccount,
    error: unknown,
  ): { kind: "failover"; reason: string; refusal: Refusal } {
    if (TokenRefreshError.isInstance(error) && error.permanent) {
      this.deps.states.record(account.id, { kind: "forbidden", reason: `token refresh failed: ${error.code}` });
    }
    this.deps.logger.warn(
      { accountId: account.id, requestId: call.requestId, error: describeError(error) },
      "no access token for account; failing over",
    );
    return {
      kind: "failover",
      reason: "token",
      refusal: new GatewayError("unavailable", "No upstream account could be authorised for this request."),
    };
  }

  private refuse(
    call: RelayCall,
    account: UpstreamAccount,
    verdict: Verdict,
    refusal: Refusal,
  ): { kind: "failover"; reason: string; refusal: Refusal } {
    if (verdict.kind === "rate_limited" || verdict.kind === "overloaded" || verdict.kind === "forbidden") {
      this.deps.states.record(account.id, verdict);
    }
    this.deps.logger.info(
      { accountId: account.id, requestId: call.requestId, verdict: verdict.kind },
      "upstream refused; failing over",
    );
    return { kind: "failover", reason: verdict.kind, refusal };
  }

  private async send(upstream: UpstreamRequest, signal: Cancellation): Promise<UpstreamAnswer> {
    const { origin, path } = splitUrl(upstream.url);
    const response = await this.deps.dispatcher.request({
      origin,
      path,
      method: upstream.method,
      headers: upstream.headers,
      body: upstream.body,
      // undici accepts an EventEmitter-shaped signal and uses only on/once/removeListener/aborted/reason.
      signal,
      headersTimeout: this.deps.headersTimeoutMs,
      bodyTimeout: this.deps.bodyTimeoutMs,
    });
    return { status: response.statusCode, headers: response.headers, body: response.body };
  }

  /** Streams (or sends) a successful answer to the client; from here on there is no failover. */
  private async deliver(
    call: RelayCall,
    provider: Provider,
    input: { account: UpstreamAccount; accessToken?: string; request: ClientRequest },
    answer: UpstreamAnswer,
    sentAt: number,
  ): Promise<void> {
    const tracker = provider.usageTracker(call.request);
    const shaper = provider.responseShaper(input);
    const contentType = headerValue(answer.headers["content-type"]) ?? "application/json";
    const isStream = contentType.includes("text/event-stream");
    if (!isStream) {
      const text = await answer.body.text();
      const ttfb = this.now() - sentAt;
      let out = text;
      try {
        const parsed: unknown = JSON.parse(text);
        tracker.json(parsed);
        if (shaper) out = JSON.stringify(shaper.json(parsed));
      } catch {
        // Not JSON: relay it as it came.
      }
      this.finishWith(call, answer.status, answer.headers, out);
      this.recordUsage(call, input.account.id, answer.status, ttfb, tracker);
      return;
    }

    const collector = call.request.stream ? undefined : shaper?.collector?.();
    if (collector) {
      // The platform only streams, and this client asked for one JSON body: assemble it from the stream.
      const parser = createSseParser((event) => collector.event(event));
      const read = await this.readUpstream(call, answer, sentAt, tracker, (chunk) => parser.push(chunk));
      if (read.failed) this.logStreamFailure(call, read.error);
      else parser.end();
      const collected = collector.finish();
      if (read.ttfb !== null) this.deps.metrics.timeToFirstByte.observe({ platform: call.platform }, read.ttfb / 1000);
      this.finishWith(call, collected.status, {}, JSON.stringify(collected.body));
      this.recordUsage(call, input.account.id, collected.status, read.ttfb, tracker);
      return;
    }

    const response = call.response;
    response.writeHead(answer.status, {
      "content-type": contentType,
      "cache-control": "no-cache",
      connection: "keep-alive",
      "x-accel-buffering": "no",
      "x-request-id": call.requestId,
    });
    response.flushHeaders();
    const write = this.streamWriter(response, shaper);
    const read = await this.readUpstream(call, answer, sentAt, tracker, async (chunk) => {
      if (!response.destroyed && !response.writableEnded) await write(chunk);
    });
    if (!read.failed) {
      write.end();
    } else if (!response.destroyed && !response.writableEnded) {
      this.logStreamFailure(call, read.error);
      response.write(errorEvent(call.dialect, new GatewayError("upstream", "The upstream stream was interrupted.")));
    }
    if (!response.writableEnded) response.end();
    if (read.ttfb !== null) this.deps.metrics.timeToFirstByte.observe({ platform: call.platform }, read.ttfb / 1000);
    this.recordUsage(call, input.account.id, answer.status, read.ttfb, tracker);
  }

  /**
   * Reads an upstream stream to its end, feeding the usage tracker and `onChunk`. A client that leaves
   * meanwhile does not stop it at once: reading goes on a while so the usage at the stream's end is counted.
   */
  private async readUpstream(
    call: RelayCall,
    answer: UpstreamAnswer,
    sentAt: number,
    tracker: UsageTracker,
    onChunk: (chunk: Buffer) => Promise<void> | void,
  ): Promise<{ ttfb: number | null; failed: boolean; error?: unknown }> {
    let ttfb: number | null = null;
    let drainDeadline: NodeJS.Timeout | undefined;
    const stopWatchingClient = call.clientGone.onAbort(() => {
      drainDeadline = setTimeout(() => answer.body.destroy(), USAGE_DRAIN_MS);
    });
    try {
      for await (const chunk of answer.body as AsyncIterable<Buffer>) {
        ttfb ??= this.now() - sentAt;
        tracker.push(chunk);
        await onChunk(chunk);
      }
      return { ttfb, failed: false };
    } catch (error) {
      return { ttfb, failed: true, error };
    } finally {
      clearTimeout(drainDeadline);
      stopWatchingClient();
    }
  }

  private logStreamFailure(call: RelayCall, error: unknown): void {
    this.deps.logger.warn({ requestId: call.requestId, error: describeError(error) }, "upstream stream failed mid-way");
  }

  /** Writes stream chunks with back-pressure, reshaping SSE events when the platform needs it. */
  private streamWriter(
    response: ServerResponse,
    shaper: ResponseShaper | null,
  ): ((chunk: Buffer) => Promise<void>) & { end(): void } {
    const writeRaw = async (data: string | Buffer) => {
      if (data.length === 0 || response.destroyed) return;
      if (!response.write(data)) await drainedOrClosed(response);
    };
    if (!shaper) return Object.assign(writeRaw, { end: () => undefined });
    let pending = "";
    const parser = createSseParser((event) => {
      const shaped = shaper.event(event);
      if (shaped === null) return;
      if (!isEventList(shaped)) pending += formatSseEvent(shaped);
      else for (const one of shaped) pending += formatSseEvent(one);
    });
    const write = async (chunk: Buffer) => {
      parser.push(chunk);
      const out = pending;
      pending = "";
      await writeRaw(out);
    };
    return Object.assign(write, {
      end: () => {
        parser.end();
        for (const one of shaper.end?.() ?? []) pending += formatSseEvent(one);
        if (pending && !response.destroyed) response.write(pending);
        pending = "";
      },
    });
  }

  private finishWith(
    call: RelayCall,
    status: number,
    headers: Record<string, string | string[] | undefined>,
    body: string,
  ): void {
    const response = call.response;
    if (response.headersSent || response.destroyed) return;
    const extra: Record<string, string> = {};
    const retryAfter = headerValue(headers["retry-after"]);
    if (retryAfter) extra["retry-after"] = retryAfter;
    response.writeHead(status, {
      "content-type": headerValue(headers["content-type"]) ?? "application/json",
      "x-request-id": call.requestId,
      ...extra,
    });
    response.end(body);
  }

  private observeUpstream(call: RelayCall, sentAt: number, outcome: string): void {
    this.deps.metrics.upstreamLatency.observe({ platform: call.platform, outcome }, (this.now() - sentAt) / 1000);
  }

  private recordUsage(
    call: RelayCall,
    accountId: string | null,
    status: number,
    ttfbMs: number | null,
    tracker: UsageTracker | undefined,
  ): void {
    const usage = tracker?.result();
    this.deps.usage.record({
      requestId: call.requestId,
      apiKeyId: Number(call.grant.apiKeyId),
      accountId,
      groupId: call.grant.groupId,
      platform: call.platform,
      model: usage?.model ?? call.request.model,
      inputTokens: usage?.inputTokens ?? 0,
      outputTokens: usage?.outputTokens ?? 0,
      cacheReadTokens: usage?.cacheReadTokens ?? 0,
      cacheWriteTokens: usage?.cacheWriteTokens ?? 0,
      status,
      stream: call.request.stream,
      durationMs: this.now() - call.startedAt,
      ttfbMs,
      createdAt: call.startedAt,
    });
  }
}

/** The account's type as the snapshot carries it (an extra field); API key unless it says oauth. */
function accountType(account: AccountSnapshot): "oauth" | "apikey" {
  return account.type === "oauth" ? "oauth" : "apikey";
}

function slotCandidates(ranked: readonly AccountSnapshot[], stickyAccountId: string | null): SlotCandidate[] {
  const candidates = ranked.map((account) => ({
    id: account.id,
    priority: account.priority,
    concurrency: Math.max(1, account.concurrency),
  }));
  const sticky = stickyAccountId ? candidates.findIndex((candidate) => candidate.id === stickyAccountId) : -1;
  if (sticky >= 0) {
    const [chosen] = candidates.splice(sticky, 1);
    candidates.unshift({ ...chosen!, priority: STICKY_PRIORITY });
  }
  return candidates;
}

function isEventList(shaped: SseEvent | readonly SseEvent[]): shaped is readonly SseEvent[] {
  return Array.isArray(shaped);
}

function isAnswer(value: unknown): value is UpstreamAnswer {
  return typeof value === "object" && value !== null && "status" in value && "body" in value;
}

function headerValue(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

/** Upstream URLs parsed once: a platform has few, and parsing one on every request showed in profiles. */
const splitUrls = new Map<string, { origin: string; path: string }>();

function splitUrl(url: string): { origin: string; path: string } {
  let split = splitUrls.get(url);
  if (split === undefined) {
    const parsed = new URL(url);
    split = { origin: parsed.origin, path: `${parsed.pathname}${parsed.search}` };
    // Bounded: Gemini's URLs carry the model, and a model name is the client's to choose.
    if (splitUrls.size >= 1_000) splitUrls.clear();
    splitUrls.set(url, split);
  }
  return split;
}

/** Reads a body as UTF-8 up to `limit` bytes, then discards the rest. */
async function readText(body: Dispatcher.ResponseData["body"], limit: number): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of body as AsyncIterable<Buffer>) {
    if (size < limit) {
      chunks.push(chunk);
      size += chunk.length;
    }
  }
  const text = Buffer.concat(chunks).toString("utf8");
  return text.slice(0, limit);
}


/** Resolves when `response` drains or closes; both listeners are removed either way (streams hit this often). */
function drainedOrClosed(response: ServerResponse): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      response.off("drain", done);
      response.off("close", done);
      resolve();
    };
    response.on("drain", done);
    response.on("close", done);
  });
}

/** The earliest moment one of `accounts` stops cooling down, when all of them are (epoch ms). */
function earliestComeback(accounts: readonly AccountSnapshot[], now: number): number | undefined {
  let earliest: number | undefined;
  for (const account of accounts) {
    if (account.status !== "active" || !account.schedulable) return undefined;
    const until = Math.max(account.rateLimitedUntil ?? 0, account.tempUnschedulableUntil ?? 0, account.overloadedUntil ?? 0);
    if (until <= now) return undefined;
    earliest = earliest === undefined ? until : Math.min(earliest, until);
  }
  return earliest;
}
