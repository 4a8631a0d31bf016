import {
  ProviderError,
  returnableHeaders,
  type AccountType,
  type ClientRequest,
  type Dialect,
  type Operation,
  type Provider,
  type ProviderRegistry,
  type UpstreamAccount,
  type Usage,
  type Verdict,
} from "@subrelay/providers-core";
import type { AccountSnapshot, SchedulerBucket } from "@subrelay/scheduler-cache";
import { TokenRefreshError, type Logger } from "@subrelay/token-cache";
import { rankCandidates, servesModel } from "./account-selection";
import type { AccountStateVerdict } from "./account-state-recorder";
import type { ApiKeyGrant } from "./api-key-authenticator";
import { availability, earliestComeback } from "./availability";
import { Cancellation } from "./cancellation";
import { CooldownPolicy } from "./cooldown-policy";
import type { ResponseSink } from "./client-response";
import type { SlotCandidate, SlotLease } from "./concurrency-slots";
import type { ClientDialect } from "./dialects";
import { GatewayError, codeOfStatus } from "./gateway-error";
import { keyAllowsModel, modelNotAllowed } from "./key-access";
import { isKeyVerdict, keyLeaseHolder, type KeyAdmission, type KeyVerdict } from "./key-counters";
import type { KeyLimits } from "./key-limits";
import { maskCredentials, secretsOf } from "./mask-credentials";
import { mappedRequest, ModelAliases, renamingShaper, withModel } from "./model-map";
import { describeError } from "@subrelay/runtime";
import { accountQueue, groupQueue, type SlotWaitQueue } from "./slot-wait-queue";
import { sessionKeyOf, type StickySessions } from "./sticky-sessions";
import { headerValue, readText, type AnswerHeaders, type UpstreamAnswer, type UpstreamClient } from "./upstream-client";
import type { UsageRow } from "./usage-recorder";
import { usageRow, type RowPricing } from "./usage-row";

/** Accounts tried for one request: the first plus up to three switches. */
export const MAX_ACCOUNTS = 4;
/** Upstream error bodies are read up to this size to judge them. */
const ERROR_BODY_LIMIT = 64 * 1024;
/** A sticky account outranks every priority tier. */
const STICKY_PRIORITY = Number.MIN_SAFE_INTEGER;
const ACCOUNT_TYPES: readonly AccountType[] = ["apikey", "oauth"];

/** What the relay learns as it goes, for metrics (or anything else) to follow. Every member is optional. */
export interface RelayEvents {
  /** An upstream answered (`outcome`: its status) or failed to (`"network"`), `seconds` after it was sent. */
  upstreamAnswered?(platform: string, outcome: string, seconds: number): void;
  /** A streamed answer's first byte arrived, `seconds` after the request was sent. */
  firstByte?(platform: string, seconds: number): void;
  /** An account refused and the relay moves to another; `reason` is the verdict kind (or `token`, `misconfigured`). */
  failedOver?(platform: string, reason: string): void;
}

/** The relay's collaborators, each as narrow as the relay uses it. */
export interface RelayPorts {
  /** Each attempt uses the provider of its account's platform. */
  providers: ProviderRegistry;
  /** The accounts of a scheduling bucket, from the scheduler cache. */
  candidates: { get(bucket: SchedulerBucket): Promise<AccountSnapshot[]> };
  /** An account with its decrypted credentials. */
  accounts: { get(id: string): Promise<UpstreamAccount | null> };
  /** Access tokens of OAuth accounts. */
  tokens: {
    get(account: UpstreamAccount, clientGone?: Cancellation): Promise<string>;
    /**
     * Every upstream 401 on `failedToken` (the access token the request sent), in memory: true when the
     * upstream keeps refusing tokens refreshed after a 401, so the account needs an operator.
     */
    recordRefusal(account: UpstreamAccount, failedToken: string | undefined): boolean;
    /** After a 401 on `failedToken`, before the request retries with a newer token. */
    invalidate(account: UpstreamAccount, failedToken?: string): Promise<void>;
    /** The upstream accepted the account's token (an answer other than a 401). */
    accepted(account: UpstreamAccount): void;
  };
  /**
   * Per-account concurrency: picks the least loaded of the best candidates and holds a slot; with a key's
   * admission, checks and counts the key's rates and budgets in the same step.
   */
  slots: {
    acquire(candidates: readonly SlotCandidate[], leaseId: string, admission: KeyAdmission | undefined): Promise<SlotLease | null | KeyVerdict>;
    /** Ends a key's lease on a request in flight (its `concurrency`); absent: keys' concurrency is not enforced. */
    releaseLease?(holder: string, leaseId: string): Promise<void>;
  };
  /** Rates and budgets per key; without it no key's rates or budgets are enforced. */
  keyLimits?: KeyLimits;
  /**
   * Sets a usage row's `costUsd` (USD) when it is built, before it is recorded and charged to its key. Absent:
   * the row keeps the cost it was built with (none: 0). Tests inject a price per request here.
   */
  costOf?: (row: UsageRow) => number;
  /** Waiting for a slot when every candidate is busy; without it a busy pool answers 429 at once. */
  waiting?: SlotWaiting;
  sticky: StickySessions;
  upstream: UpstreamClient;
  /** Learned account states (rate limits, overloads, refused credentials). */
  states: { record(accountId: string, verdict: AccountStateVerdict): void };
  /** How long refusals bench an account, per verdict class (COOLDOWN_*). Default: CooldownPolicy's defaults. */
  cooldowns?: CooldownPolicy;
  /** PREFER_SOONEST_RESET: among equal priorities, the account whose window resets soonest first. Default true. */
  preferSoonestReset?: boolean;
  lastUsed: { touch(accountId: string, at: number): void };
  usage: { record(row: UsageRow): void };
  /** Prices for each usage row's cost, in memory (the PriceBook). Omitted: rows cost 0 and are not flagged unpriced. */
  prices?: RowPricing;
  events?: RelayEvents;
  logger: Logger;
  now?: () => number;
}

/** How requests wait for slots (`STICKY_WAIT_*`, `WAIT_*`, `STREAM_PING_*`). */
export interface SlotWaiting {
  queue: SlotWaitQueue;
  /** Longest wait for the sticky account, ms (`STICKY_WAIT_TIMEOUT`); 0: none, any account at once. */
  stickyTimeoutMs: number;
  /** Most waiters per sticky account (`STICKY_WAIT_LIMIT`). */
  stickyLimit: number;
  /** Longest wait for any account of the group, ms (`WAIT_TIMEOUT`); 0: no waiting. */
  timeoutMs: number;
  /** Most waiters per group (`WAIT_QUEUE_LIMIT`). */
  limit: number;
  /** A streaming request waiting this long gets its first keep-alive, ms (`STREAM_PING_AFTER`); 0: none. */
  pingAfterMs: number;
  /** Then one keep-alive this often, ms (`STREAM_PING_INTERVAL`). */
  pingIntervalMs: number;
}

/** Retry-After of a 429 for a full queue or a wait that ran out, s. */
const BUSY_RETRY_AFTER_SECONDS = 5;

/** One client call, parsed and authenticated. */
export interface RelayCall {
  requestId: string;
  /** The route as registered, for messages. */
  route: string;
  dialect: ClientDialect;
  grant: ApiKeyGrant;
  request: ClientRequest;
  /** The client's conversation id, raw, when it sent one (see `ClientDialect.sessionId`). */
  sessionId: string | undefined;
  sink: ResponseSink;
  /** Aborts when the client disconnects. */
  clientGone: Cancellation;
  startedAt: number;
}

/** How a call ended, for the request metrics. */
export interface RelayResult {
  /** The platform of the account that answered last, or of the key's group when none did. */
  platform: string;
  /** The account that answered last (its answer relayed, a refusal included); null when none did. */
  accountId: string | null;
}

/**
 * An upstream refusal kept to be relayed when every account refused: the upstream's own answer (a client or
 * server error; `dialect` is the shape of its body, `secrets` what to mask in it), or the gateway's own error
 * (an account-level refusal, whose body is the upstream's business and may echo the account's credential).
 */
type Refusal = { status: number; headers: AnswerHeaders; bodyText: string; dialect: Dialect; secrets: readonly string[] } | GatewayError;

type Attempt = { kind: "done" } | { kind: "retry_same" } | { kind: "failover"; reason: string; refusal: Refusal };

/**
 * The request path after authentication and parsing, as a state machine over ports: choose an account
 * able to serve the call, get its credentials, have its platform's provider shape the upstream request,
 * judge the answer, fail over while nothing has reached the client yet, then hand the answer to the sink.
 */
export class Relay {
  private readonly now: () => number;
  private readonly cooldowns: CooldownPolicy;
  private readonly aliases: ModelAliases;

  constructor(private readonly ports: RelayPorts) {
    this.now = ports.now ?? Date.now;
    this.cooldowns = ports.cooldowns ?? new CooldownPolicy();
    this.aliases = new ModelAliases(ports.providers);
  }

  async handle(call: RelayCall): Promise<RelayResult> {
    // One admission per request, whatever the number of acquisitions: it is counted once.
    const admission = SLOTLESS_OPERATIONS.has(call.request.operation) ? undefined : this.ports.keyLimits?.admission(call.grant, call.requestId);
    try {
      return await this.route(call, admission);
    } catch (error) {
      if (!GatewayError.isInstance(error)) throw error;
      call.sink.sendError(error);
      return { platform: call.grant.platform, accountId: null };
    } finally {
      // The key's lease on this request in flight, when its concurrency is limited (a no-op when none was taken).
      if (admission?.limits.concurrency !== undefined) void this.ports.slots.releaseLease?.(keyLeaseHolder(admission.apiKeyId), admission.requestId);
    }
  }

  private async route(call: RelayCall, admission: KeyAdmission | undefined): Promise<RelayResult> {
    const { grant } = call;
    const { operation } = call.request;
    const { providers } = this.ports;
    if (grant.mode !== "mixed" && !ACCOUNT_TYPES.some((type) => providers.supports(grant.platform, operation, type))) {
      throw new GatewayError("permission", `This key's group serves the ${grant.platform} platform, which does not serve ${call.route}.`);
    }
    const bucket: SchedulerBucket = { groupId: grant.groupId, platform: grant.platform, mode: grant.mode };
    const accounts = await this.ports.candidates.get(bucket);
    if (accounts.length === 0) {
      throw new GatewayError("unavailable", "This key's group has no upstream accounts yet.", { reason: NO_ACCOUNT });
    }
    // A generation naming no model the group serves gets the group's default model (a retrieval names none).
    if (grant.defaultModel !== undefined && !MODELLESS_OPERATIONS.has(operation) && !servedByAny(accounts, call.request.model, this.aliases)) {
      call = { ...call, request: withModel(call.request, grant.defaultModel, call.dialect.name) };
    }
    const { model } = call.request;
    // A request naming no model (a retrieval by id) may go to any account.
    const served = model === "" ? accounts : accounts.filter((account) => servesModel(account, model, this.aliases));
    if (served.length === 0) {
      throw new GatewayError("not_found", `The model "${model}" is not available for this key.`, { reason: "model_not_found" });
    }
    // The key's own allow-list, after the default model and each account's mapping (a retrieval names no model).
    const allowedModels = grant.limits?.models;
    const serving =
      allowedModels === undefined || model === "" ? served : served.filter((account) => keyAllowsModel(allowedModels, account, model, this.aliases));
    if (serving.length === 0) throw modelNotAllowed(model);
    // Only accounts whose own platform's provider serves this operation: no request (and no credential)
    // ever goes to a platform that does not speak it.
    const eligible = serving.filter((account) => providers.supports(account.platform, operation, accountType(account)));
    if (eligible.length === 0) {
      // An endpoint the platform serves on another account type only (the Responses API's compact and
      // retrieve: API-key accounts, not ChatGPT ones): for this key it does not exist.
      if (TYPE_LIMITED_OPERATIONS.has(operation) && serving.some((account) => ACCOUNT_TYPES.some((type) => providers.supports(account.platform, operation, type)))) {
        throw new GatewayError("not_found", `The accounts of this key do not serve ${call.route}.`, { reason: "unsupported_endpoint" });
      }
      throw new GatewayError("invalid_request", `No account of this key can serve ${call.route} for "${model}".`);
    }

    // Scoped by dialect too: in a mixed group one conversation id may be used through several APIs.
    const sessionKey = call.sessionId
      ? sessionKeyOf(String(grant.groupId), `${grant.platform}:${call.dialect.name}`, call.sessionId)
      : null;
    const stickyAccountId = sessionKey ? await this.ports.sticky.get(sessionKey) : null;
    const excluded = new Set<string>();
    const authRetried = new Set<string>();
    let lastRefusal: Refusal | undefined;
    let lastPlatform = grant.platform;
    let lastAccountId: string | null = null;

    const admitting = { admission };
    // One lease id per acquisition: a late undo of an earlier attempt's lease must not end a later one's.
    let acquisitions = 0;
    for (let tried = 0; tried < MAX_ACCOUNTS; ) {
      const ranked = rankCandidates(eligible, { now: this.now(), exclude: excluded, model, preferSoonestReset: this.ports.preferSoonestReset });
      if (ranked.length === 0) break;
      acquisitions += 1;
      const candidates = slotCandidates(ranked, stickyAccountId);
      const lease = SLOTLESS_OPERATIONS.has(operation)
        ? slotlessLease(candidates)
        : await this.takeSlot(call, candidates, `${call.requestId}:${acquisitions}`, admitting);
      if (lease === "gone") {
        // The client left while waiting: nobody to answer.
        this.recordUsage(call, { accountId: null, platform: lastPlatform, status: CLIENT_CLOSED });
        return { platform: lastPlatform, accountId: lastAccountId };
      }
      if (GatewayError.isInstance(lease)) {
        // A limit of the key is the answer, whatever an earlier account said.
        lastRefusal = lease.reason === "insufficient_quota" || lease.reason === "rate_limit_exceeded" ? lease : (lastRefusal ?? lease);
        break;
      }
      // Counted once: a failover's acquisition is not checked again.
      if (admitting.admission && !admitting.admission.admitted && !SLOTLESS_OPERATIONS.has(operation)) {
        admitting.admission = { ...admitting.admission, admitted: true };
      }
      const snapshot = ranked.find((account) => account.id === lease.accountId)!;
      lastPlatform = snapshot.platform;
      lastAccountId = snapshot.id;
      const outcome = await this.attempt(call, snapshot, lease, authRetried, admitting.admission !== undefined);
      if (outcome.kind === "done") {
        if (sessionKey && stickyAccountId !== snapshot.id) void this.ports.sticky.set(sessionKey, snapshot.id);
        return { platform: snapshot.platform, accountId: snapshot.id };
      }
      if (outcome.kind === "retry_same") continue;
      lastRefusal = outcome.refusal;
      excluded.add(snapshot.id);
      if (sessionKey && stickyAccountId === snapshot.id) void this.ports.sticky.delete(sessionKey);
      tried += 1;
      if (tried < MAX_ACCOUNTS) this.ports.events?.failedOver?.(snapshot.platform, outcome.reason);
    }

    if (lastRefusal === undefined) {
      // Every account is cooling down: say when the first comes back, so clients retry then rather than now.
      const now = this.now();
      const comeback = earliestComeback(eligible, now, model);
      // Only the refresh worker cools an account down (temp_unschedulable), when its token refresh keeps
      // failing: no rate limit, and nothing a client retrying soon can change.
      const authFailing = comeback !== undefined && eligible.every((account) => availability(account, now, model).state === "cooling_down");
      lastRefusal =
        comeback === undefined
          ? new GatewayError("unavailable", "No upstream account is available for this request right now.", { reason: NO_ACCOUNT })
          : authFailing
            ? upstreamAuthFailed()
            : new GatewayError("rate_limited", "Every upstream account is rate limited or cooling down; retry later.", {
                retryAfterSeconds: Math.max(1, Math.ceil((comeback - now) / 1000)),
              });
    }
    // Failed requests are accounted too: the usage log is where an operator sees them.
    if (GatewayError.isInstance(lastRefusal)) {
      this.recordUsage(call, { accountId: null, platform: lastPlatform, status: lastRefusal.status });
      throw lastRefusal;
    }
    this.relayRefusal(call, lastRefusal);
    this.recordUsage(call, { accountId: null, platform: lastPlatform, status: lastRefusal.status });
    return { platform: lastPlatform, accountId: lastAccountId };
  }

  /**
   * A slot on one of `candidates`. With waiting set up, a request whose sticky account is busy waits for it
   * first (unless its queue is full), then for any candidate; a streaming one gets keep-alives meanwhile.
   */
  private async takeSlot(
    call: RelayCall,
    candidates: readonly SlotCandidate[],
    leaseId: string,
    admitting: { admission: KeyAdmission | undefined },
  ): Promise<SlotLease | GatewayError | "gone"> {
    let rebuilt = false;
    let keyWaited = false;
    for (;;) {
      const outcome = await this.takeSlotOnce(call, candidates, leaseId, admitting.admission);
      // The key's counters gone (a flushed Redis, a restart): rebuilt from the usage log once, then asked again.
      if (outcome === "cold" && !rebuilt && admitting.admission && this.ports.keyLimits) {
        rebuilt = true;
        admitting.admission = await this.ports.keyLimits.seeded(admitting.admission);
        continue;
      }
      if (outcome === "cold") return new GatewayError("unavailable", "This key's limits could not be checked; retry shortly.");
      // The key at its concurrency: wait for one of its requests to end (its lease then held), then ask again.
      if (outcome === "busy" && !keyWaited && admitting.admission) {
        keyWaited = true;
        const waited = await this.waitForKey(call, admitting.admission);
        if (waited === true) continue;
        return waited;
      }
      if (outcome === "busy") return this.keyBusy(call.grant.limits?.concurrency ?? 0);
      if (isKeyVerdict(outcome)) return this.ports.keyLimits!.refusal(outcome, call.grant.limits ?? {});
      return outcome;
    }
  }

  /** Waits (WAIT_TIMEOUT, in the key's own queue) for a lease on one of the key's requests in flight. */
  private async waitForKey(call: RelayCall, admission: KeyAdmission): Promise<true | GatewayError | "gone"> {
    const concurrency = admission.limits.concurrency ?? 0;
    const waiting = this.ports.waiting;
    if (!waiting || waiting.timeoutMs <= 0) return this.keyBusy(concurrency);
    const holder = keyLeaseHolder(admission.apiKeyId);
    const pings = keepAlives(call, waiting);
    try {
      const plan = { queue: holder, limit: waiting.limit, timeoutMs: waiting.timeoutMs };
      const outcome = await waiting.queue.take([{ id: holder, concurrency, priority: 0 }], admission.requestId, plan, call.clientGone, pings.start);
      if ("lease" in outcome) return true;
      if ("refused" in outcome && outcome.refused === "gone") return "gone";
      return this.keyBusy(concurrency);
    } finally {
      pings.stop();
    }
  }

  private keyBusy(concurrency: number): GatewayError {
    return new GatewayError("rate_limited", `This API key's concurrency of ${concurrency} is in use; retry shortly.`, {
      reason: "rate_limit_exceeded",
      retryAfterSeconds: BUSY_RETRY_AFTER_SECONDS,
    });
  }

  private async takeSlotOnce(
    call: RelayCall,
    candidates: readonly SlotCandidate[],
    leaseId: string,
    admission: KeyAdmission | undefined,
  ): Promise<SlotLease | GatewayError | "gone" | KeyVerdict> {
    const waiting = this.ports.waiting;
    if (!waiting) {
      return (
        (await this.ports.slots.acquire(candidates, leaseId, admission)) ??
        new GatewayError("rate_limited", "Every upstream account is busy; retry shortly.")
      );
    }
    const pings = keepAlives(call, waiting);
    try {
      const sticky = candidates[0]!.priority === STICKY_PRIORITY ? candidates[0]! : undefined;
      if (sticky && waiting.stickyTimeoutMs > 0) {
        const plan = { queue: accountQueue(sticky.id), limit: waiting.stickyLimit, timeoutMs: waiting.stickyTimeoutMs };
        const outcome = await waiting.queue.take([sticky], leaseId, plan, call.clientGone, pings.start, admission);
        if ("lease" in outcome) return outcome.lease;
        if ("verdict" in outcome) return outcome.verdict;
        if (outcome.refused === "gone") return "gone";
      }
      const plan = { queue: groupQueue(call.grant.groupId), limit: waiting.limit, timeoutMs: waiting.timeoutMs };
      const outcome = await waiting.queue.take(candidates, leaseId, plan, call.clientGone, pings.start, admission);
      if ("lease" in outcome) return outcome.lease;
      if ("verdict" in outcome) return outcome.verdict;
      if (outcome.refused === "gone") return "gone";
      const message =
        outcome.refused === "full"
          ? "Every upstream account is busy and the wait queue is full; retry shortly."
          : `Every upstream account stayed busy for ${Math.round(waiting.timeoutMs / 1000)} s; retry shortly.`;
      return new GatewayError("rate_limited", message, { retryAfterSeconds: BUSY_RETRY_AFTER_SECONDS });
    } finally {
      pings.stop();
    }
  }

  /** Tries one account. Everything up to the first byte sent can still fail over. */
  private async attempt(call: RelayCall, snapshot: AccountSnapshot, lease: SlotLease, authRetried: Set<string>, charged: boolean): Promise<Attempt> {
    let stopFollowingClient = () => {};
    // The usage row of the answer this account gave, charged to a limited key when the slot is released.
    let row: UsageRow | undefined;
    try {
      const account = await this.ports.accounts.get(snapshot.id);
      if (!account) return { kind: "failover", reason: "gone", refusal: new GatewayError("unavailable", "Account removed.") };
      const provider = this.ports.providers.get(account.platform);
      if (!provider) return this.misconfigured(call, account, `no provider serves the platform "${account.platform}"`);

      let accessToken: string | undefined;
      if (account.type === "oauth") {
        try {
          accessToken = await this.ports.tokens.get(account, call.clientGone);
        } catch (error) {
          return this.tokenFailure(call, account, error);
        }
      }

      // The account's modelMap renames the model it is sent; the answer is renamed back in `deliver`.
      const input = { account, accessToken, request: mappedRequest(call.request, snapshot.modelMap, call.dialect.name) };
      let upstreamRequest;
      try {
        upstreamRequest = provider.buildRequest(input);
      } catch (error) {
        if (ProviderError.isInstance(error) && error.code === "misconfigured") return this.misconfigured(call, account, error.message);
        // A request the provider cannot shape (e.g. a non-streaming Codex request): the client's to fix.
        if (ProviderError.isInstance(error)) throw new GatewayError("invalid_request", error.message, { cause: error });
        throw error;
      }
      // The upstream call follows the client until its answer is being delivered: a client that leaves
      // before then takes the call with it; after, the sink drains the stream a while for its usage.
      const upstreamAbort = new Cancellation();
      stopFollowingClient = call.clientGone.propagateTo(upstreamAbort);
      const sentAt = this.now();
      const answer = await this.ports.upstream
        .send(upstreamRequest, upstreamAbort, { ownBaseUrl: account.baseUrl !== undefined })
        .catch((error: unknown) => error);
      if (!isAnswer(answer)) {
        if (call.clientGone.aborted) return { kind: "done" };
        const verdict = this.cooldowns.adjust(provider.classifyNetworkError(answer), snapshot.cooldowns, this.now());
        this.ports.logger.warn({ accountId: account.id, error: describeError(answer) }, "upstream request failed");
        this.answered(account.platform, sentAt, "network");
        return this.refuse(call, snapshot, verdict, new GatewayError("upstream", "The upstream request failed."));
      }

      this.answered(account.platform, sentAt, String(answer.status));
      if (answer.status >= 400) {
        const bodyText = await readText(answer.body, ERROR_BODY_LIMIT);
        const judgedAt = this.now();
        const judged = provider.classify({ status: answer.status, headers: answer.headers, bodyText }, judgedAt);
        const verdict = this.cooldowns.adjust(judged, snapshot.cooldowns, judgedAt);
        const secrets = secretsOf(account.credentials, accessToken);
        const refusal = { status: answer.status, headers: answer.headers, bodyText, dialect: provider.dialect, secrets };
        if (verdict.kind === "auth" && account.type === "oauth") {
          if (this.ports.tokens.recordRefusal(account, accessToken)) {
            // Refreshing again would only spend refresh tokens: the account needs an operator.
            const forbidden: Verdict = { kind: "forbidden", reason: "upstream refused OAuth tokens refreshed after a 401, repeatedly" };
            return this.refuse(call, snapshot, forbidden, accountRefusal(forbidden, answer.status, this.now()), secrets);
          }
          if (!authRetried.has(account.id)) {
            authRetried.add(account.id);
            await this.ports.tokens.invalidate(account, accessToken);
            return { kind: "retry_same" };
          }
        } else if (account.type === "oauth") {
          this.ports.tokens.accepted(account);
        }
        if (verdict.kind === "auth" && account.type === "apikey") {
          // No refresh can mend a refused API key: the account needs an operator.
          const forbidden: Verdict = { kind: "forbidden", reason: "upstream rejected the API key" };
          return this.refuse(call, snapshot, forbidden, accountRefusal(forbidden, answer.status, this.now()), secrets);
        }
        if (verdict.kind === "client" || verdict.kind === "ok") {
          // The account served this answer: its request id and rate-limit headers are the client's to see.
          this.relayRefusal(call, refusal, returnableHeaders(answer.headers, provider.responseHeaders ?? []));
          row = this.recordUsage(call, { accountId: account.id, platform: account.platform, status: answer.status, upstreamModel: renamed(call, input.request) });
          return { kind: "done" };
        }
        if (!isAccountLevel(verdict)) return this.refuse(call, snapshot, verdict, refusal, secrets);
        return this.refuse(call, snapshot, verdict, accountRefusal(verdict, answer.status, this.now()), secrets);
      }

      if (account.type === "oauth") this.ports.tokens.accepted(account);
      const judgedAt = this.now();
      const verdict = this.cooldowns.adjust(provider.classify({ status: answer.status, headers: answer.headers }, judgedAt), snapshot.cooldowns, judgedAt);
      if (verdict.kind !== "ok") {
        const bodyText = await readText(answer.body, ERROR_BODY_LIMIT);
        const secrets = secretsOf(account.credentials, accessToken);
        const refusal = isAccountLevel(verdict)
          ? accountRefusal(verdict, 502, this.now())
          : { status: 502, headers: answer.headers, bodyText, dialect: provider.dialect, secrets };
        return this.refuse(call, snapshot, verdict, refusal, secrets);
      }
      this.ports.lastUsed.touch(account.id, this.now());
      stopFollowingClient();
      row = await this.deliver(call, provider, input, answer, sentAt);
      return { kind: "done" };
    } finally {
      stopFollowingClient();
      void lease.release(charged && row && this.ports.keyLimits ? this.ports.keyLimits.charge(row) : undefined);
    }
  }

  /** Hands a successful answer to the sink; from here on there is no failover. */
  private async deliver(
    call: RelayCall,
    provider: Provider,
    input: { account: UpstreamAccount; accessToken?: string; request: ClientRequest },
    answer: UpstreamAnswer,
    sentAt: number,
  ): Promise<UsageRow> {
    const tracker = provider.usageTracker(call.request);
    const shaper = provider.responseShaper(input);
    const delivery = await call.sink.deliver(answer, {
      tracker,
      // A renamed model is renamed back: the client sees the name it asked for.
      shaper: input.request === call.request ? shaper : renamingShaper(shaper, call.request.model),
      clientStream: call.request.stream,
      clientGone: call.clientGone,
      sentAt,
      returnedHeaders: returnableHeaders(answer.headers, provider.responseHeaders ?? []),
    });
    if (delivery.streamFailure !== undefined) {
      this.ports.logger.warn({ requestId: call.requestId, error: describeError(delivery.streamFailure) }, "upstream stream failed mid-way");
    }
    if (delivery.streamed && delivery.ttfbMs !== null) this.ports.events?.firstByte?.(input.account.platform, delivery.ttfbMs / 1000);
    return this.recordUsage(call, {
      accountId: input.account.id,
      platform: input.account.platform,
      status: delivery.status,
      ttfbMs: delivery.ttfbMs,
      usage: tracker.result(),
      upstreamModel: renamed(call, input.request),
    });
  }

  /**
   * Sends an upstream refusal to the client: its own body, credential-looking strings masked, when the
   * upstream speaks the client's dialect, else the gateway's error of the same status in the client's dialect
   * (a body of another API's shape would only confuse the client's SDK).
   */
  private relayRefusal(call: RelayCall, refusal: Exclude<Refusal, GatewayError>, returned?: Record<string, string>): void {
    if (refusal.dialect === call.dialect.name) {
      call.sink.send(refusal.status, refusal.headers, maskCredentials(refusal.bodyText, refusal.secrets), returned);
      return;
    }
    const retryAfter = Number(headerValue(refusal.headers["retry-after"]));
    call.sink.sendError(
      new GatewayError(codeOfStatus(refusal.status), `The upstream refused the request (HTTP ${refusal.status}).`, {
        status: refusal.status,
        retryAfterSeconds: Number.isFinite(retryAfter) && retryAfter > 0 ? retryAfter : undefined,
      }),
    );
  }

  private tokenFailure(call: RelayCall, account: UpstreamAccount, error: unknown): Attempt {
    if (TokenRefreshError.isInstance(error) && error.permanent) {
      this.ports.states.record(account.id, { kind: "forbidden", reason: `token refresh failed: ${error.code}` });
    }
    this.ports.logger.warn(
      { accountId: account.id, requestId: call.requestId, error: describeError(error) },
      "no access token for account; failing over",
    );
    return {
      kind: "failover",
      reason: "token",
      refusal: upstreamAuthFailed(),
    };
  }

  /**
   * The account lacks what its platform needs (a key, a token, a project): the operator's to fix. The
   * account goes to `error` with the reason; the client gets another account, or a message that names none.
   */
  private misconfigured(call: RelayCall, account: UpstreamAccount, reason: string): Attempt {
    this.ports.states.record(account.id, { kind: "forbidden", reason: `account misconfigured: ${reason}` });
    this.ports.logger.warn({ accountId: account.id, requestId: call.requestId, reason }, "account misconfigured; failing over");
    return {
      kind: "failover",
      reason: "misconfigured",
      refusal: new GatewayError("unavailable", "No upstream account is set up to serve this request.", { reason: NO_ACCOUNT }),
    };
  }

  private refuse(call: RelayCall, account: AccountSnapshot, verdict: Verdict, refusal: Refusal, secrets: readonly string[] = []): Attempt {
    const state = this.cooldowns.state(verdict, account.cooldowns, this.now());
    if (state !== null) {
      // The reason may quote the upstream's message, which may echo the credential: admins see it.
      this.ports.states.record(account.id, { ...state, reason: maskCredentials(state.reason, secrets) });
    }
    this.ports.logger.info(
      { accountId: account.id, requestId: call.requestId, verdict: verdict.kind },
      "upstream refused; failing over",
    );
    return { kind: "failover", reason: verdict.kind, refusal };
  }

  private answered(platform: string, sentAt: number, outcome: string): void {
    this.ports.events?.upstreamAnswered?.(platform, outcome, (this.now() - sentAt) / 1000);
  }

  private recordUsage(
    call: RelayCall,
    outcome: { accountId: string | null; platform: string; status: number; ttfbMs?: number | null; usage?: Usage; upstreamModel?: string },
  ): UsageRow {
    const row = usageRow({
        requestId: call.requestId,
        apiKeyId: call.grant.apiKeyId,
        groupId: call.grant.groupId,
        accountId: outcome.accountId,
        platform: outcome.platform,
        model: call.request.model,
        stream: call.request.stream,
        status: outcome.status,
        startedAt: call.startedAt,
        endedAt: this.now(),
        ttfbMs: outcome.ttfbMs ?? null,
        usage: outcome.usage,
        ...(outcome.upstreamModel !== undefined ? { upstreamModel: outcome.upstreamModel } : {}),
      }, this.ports.prices);
    if (this.ports.costOf) row.costUsd = this.ports.costOf(row);
    this.ports.usage.record(row);
    return row;
  }
}

/** The model `sent` names when the account's model map renamed the client's; undefined otherwise. */
function renamed(call: RelayCall, sent: ClientRequest): string | undefined {
  return sent.model !== call.request.model && sent.model !== "" ? sent.model : undefined;
}

/** A verdict about the account rather than the request. */
type AccountLevelVerdict = Extract<Verdict, { kind: "auth" | "forbidden" | "rate_limited" | "overloaded" }>;

function isAccountLevel(verdict: Verdict): verdict is AccountLevelVerdict {
  return verdict.kind === "auth" || verdict.kind === "forbidden" || verdict.kind === "rate_limited" || verdict.kind === "overloaded";
}

/**
 * The gateway's own error for a refusal of the account rather than the request (its credential refused, the
 * account barred, rate limited or overloaded): the upstream's body is not the client's business and may echo
 * the credential. A refused or barred account is no account to serve this request (503, as the next request
 * would get once the account is marked); a limit or an overload keeps its status and says when to retry.
 */
function accountRefusal(verdict: AccountLevelVerdict, status: number, now: number): GatewayError {
  if (verdict.kind === "auth" || verdict.kind === "forbidden") {
    return new GatewayError("unavailable", "No upstream account could serve this request right now.", { reason: NO_ACCOUNT });
  }
  const retryAfterSeconds = Math.max(1, Math.ceil((verdict.until - now) / 1000));
  if (verdict.kind === "rate_limited") {
    return new GatewayError("rate_limited", "The upstream account is rate limited; retry later.", { retryAfterSeconds });
  }
  return status === 529
    ? new GatewayError("overloaded", "The upstream is overloaded; retry shortly.", { retryAfterSeconds })
    : new GatewayError("unavailable", "The upstream is overloaded; retry shortly.", { retryAfterSeconds });
}

/** The account's type as the snapshot carries it (an extra field); API key unless it says oauth. */
function accountType(account: AccountSnapshot): AccountType {
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

/**
 * Operations that hold no concurrency slot: token counting is cheap for the upstream and clients fire it
 * in bursts (Claude Code's `/context`: ~14 at once), so it must not queue behind, or crowd out, generations.
 * The account is the best-ranked one (the sticky account first), as a slot would have chosen with room.
 */
const SLOTLESS_OPERATIONS: ReadonlySet<Operation> = new Set<Operation>(["count_tokens", "gemini_count_tokens"]);

// Endpoints the platform serves on one account type only. Where a key's accounts are of the other type, they
// answer 404 (the endpoint does not exist for this key), not the 400 of an operation the platform never serves.
const TYPE_LIMITED_OPERATIONS: ReadonlySet<Operation> = new Set<Operation>([
  "responses_compact",
  "responses_retrieve",
  "embed_content",
  "batch_embed_contents",
]);

/** The keep-alives of a streaming request while it waits: the first after `pingAfterMs`, then every interval. */
function keepAlives(call: RelayCall, waiting: SlotWaiting): { start: () => void; stop: () => void } {
  const sink = call.sink;
  if (!call.request.stream || !sink.keepAlive || waiting.pingAfterMs <= 0) return { start: () => undefined, stop: () => undefined };
  let first: NodeJS.Timeout | undefined;
  let every: NodeJS.Timeout | undefined;
  return {
    start: () => {
      first ??= setTimeout(() => {
        sink.keepAlive!();
        every = setInterval(() => sink.keepAlive!(), Math.max(100, waiting.pingIntervalMs));
      }, waiting.pingAfterMs);
    },
    stop: () => {
      clearTimeout(first);
      clearInterval(every);
    },
  };
}

/** The status a request gone before its answer is logged with (nginx's "client closed request"). */
const CLIENT_CLOSED = 499;

/** Operations that name no model (a retrieval by id): a group's default model never applies to them. */
const MODELLESS_OPERATIONS: ReadonlySet<Operation> = new Set<Operation>(["responses_retrieve"]);

/** Whether `model` is named and some account of the group serves it. */
function servedByAny(accounts: readonly AccountSnapshot[], model: string, aliases: ModelAliases): boolean {
  return model.trim() !== "" && accounts.some((account) => servesModel(account, model, aliases));
}

function slotlessLease(candidates: readonly SlotCandidate[]): SlotLease {
  // Candidates come in rank order, the sticky account first.
  return { accountId: candidates[0]!.id, release: () => Promise.resolve() };
}

function isAnswer(value: unknown): value is UpstreamAnswer {
  return typeof value === "object" && value !== null && "status" in value && "body" in value;
}

/** The reason (OpenAI's error `code`) of a 503 that says no upstream account can serve the request. */
const NO_ACCOUNT = "no_account_available";
/** The 503 when no account's credentials could be made usable (their OAuth token refresh failed). */
function upstreamAuthFailed(): GatewayError {
  return new GatewayError("unavailable", "No upstream account could be authorised for this request.", { reason: "upstream_auth_failed" });
}
