import { isRecord, networkErrorCode, ProviderError, type ProviderErrorCode } from "@subrelay/providers-core";
import type { OAuthCredentials } from "@subrelay/token-cache";
import { type Dispatcher, request } from "undici";
import { parseGoogleError } from "./parse-google-error";

/** What `setupCodeAssistProject` is given: `Provider.prepareCredentials`'s input plus the provider's settings. */
export interface CodeAssistSetupOptions {
  /** The account's OAuth credentials. Never mutated. */
  credentials: OAuthCredentials;
  /** A valid access token for them; called once, and only when `credentials.projectId` is missing. */
  accessToken(): Promise<string>;
  /** Names the account in error messages. */
  accountId?: string;
  /** Code Assist API. Default `https://cloudcode-pa.googleapis.com`. */
  codeAssistBaseUrl?: string;
  /** undici dispatcher (proxy, pool); undici's global dispatcher when absent. */
  dispatcher?: Dispatcher;
  /** Milliseconds for each Code Assist call, body included. Default 15_000. */
  timeoutMs?: number;
  /** Milliseconds between two polls of an unfinished onboarding operation. Default 5_000. */
  onboardPollIntervalMs?: number;
  /** Polls of an unfinished onboarding operation before giving up (`upstream`). Default 24 (about 2 min). */
  onboardMaxPolls?: number;
  /** Aborting it stops the setup: the promise rejects with ProviderError `upstream`, `cause` the signal's reason. */
  signal?: AbortSignal;
}

/** The client metadata gemini-cli sends with `loadCodeAssist` and `onboardUser`. */
export const codeAssistClientMetadata = {
  ideType: "IDE_UNSPECIFIED",
  platform: "PLATFORM_UNSPECIFIED",
  pluginType: "GEMINI",
} as const;

const defaultCodeAssistBaseUrl = "https://cloudcode-pa.googleapis.com";
/** The tier gemini-cli onboards to when Code Assist offers no default tier. */
const legacyTierId = "legacy-tier";
/** `google.rpc.Code`s of a failed operation that a later attempt may not meet: DEADLINE_EXCEEDED, RESOURCE_EXHAUSTED, ABORTED, INTERNAL, UNAVAILABLE. */
const transientOperationCodes = new Set([4, 8, 10, 13, 14]);
/** An operation name to append to `/v1internal/`: path segments of URL-safe characters, no `.` or `..`. */
const operationNamePattern = /^(?!.*(?:^|\/)\.{1,2}(?:\/|$))[\w.~:@-]+(?:\/[\w.~:@-]+)*$/;

/**
 * Finds or provisions an OAuth account's Gemini Code Assist project, as gemini-cli does at login (`setupUser`),
 * and resolves to the credentials to store. When `credentials.projectId` is already a non-empty string it
 * resolves to `credentials` itself, without calling `accessToken()` or the network. Otherwise, with
 * `authorization: Bearer <accessToken()>`:
 * 1. `POST {codeAssistBaseUrl}/v1internal:loadCodeAssist` `{metadata}`. With a `currentTier`, the project is
 *    its `cloudaicompanionProject`.
 * 2. Without one, `POST /v1internal:onboardUser` `{tierId, metadata}` with the default `allowedTiers` entry
 *    (else `legacy-tier`), never a `cloudaicompanionProject` (there is none to send; the free tier refuses
 *    one). While the operation answered is not `done`, waits `onboardPollIntervalMs` and
 *    `GET /v1internal/{name}`, at most `onboardMaxPolls` times. The project is
 *    `response.cloudaicompanionProject.id`.
 * Resolves to `{ ...credentials, projectId }` (a new object).
 *
 * Rejects with ProviderError:
 * - `invalid_request` (the account cannot be set up as it is; the message says what to do): no project
 *   (a Workspace / Standard account needs one set by hand; Google's ineligibility reasons are quoted), Google
 *   asks for the account to be verified first, 401 (token refused), 403 (account not allowed Code Assist),
 *   another 4xx, a finished operation with a permanent error.
 * - `upstream` (Code Assist could not be asked): network failure, timeout, 408, 429, 5xx, a 1xx/3xx, an
 *   answer that is not a JSON object, an unfinished operation without a usable name, onboarding still not
 *   done after `onboardMaxPolls` polls, a finished operation with a transient error, or `signal` aborted.
 * A rejection of `accessToken()` itself (e.g. a TokenRefreshError) propagates unchanged.
 * Messages never contain the access token (any echo of it is redacted) or request headers.
 */
export async function setupCodeAssistProject(options: CodeAssistSetupOptions): Promise<OAuthCredentials> {
  const { credentials } = options;
  if (typeof credentials.projectId === "string" && credentials.projectId !== "") return credentials;
  const projectId = await new CodeAssistSetup(options).run();
  return { ...credentials, projectId };
}

class CodeAssistSetup {
  readonly #options: CodeAssistSetupOptions;
  readonly #baseUrl: string;
  readonly #timeoutMs: number;
  readonly #pollIntervalMs: number;
  readonly #maxPolls: number;
  readonly #signal: AbortSignal | undefined;
  readonly #account: string;
  #token = "";

  constructor(options: CodeAssistSetupOptions) {
    this.#options = options;
    this.#baseUrl = (options.codeAssistBaseUrl ?? defaultCodeAssistBaseUrl).replace(/\/+$/, "");
    this.#timeoutMs = options.timeoutMs ?? 15_000;
    this.#pollIntervalMs = options.onboardPollIntervalMs ?? 5_000;
    this.#maxPolls = options.onboardMaxPolls ?? 24;
    this.#signal = options.signal;
    this.#account = options.accountId === undefined ? "Gemini account" : `Gemini account ${options.accountId}`;
  }

  async run(): Promise<string> {
    this.#throwIfAborted();
    const token = await this.#abortable(this.#options.accessToken());
    if (typeof token !== "string" || token === "") {
      throw this.#error("invalid_request", `${this.#account} has no access token to set up Code Assist with`);
    }
    this.#token = token;

    const loaded = await this.#call("loadCodeAssist", "POST", "/v1internal:loadCodeAssist", {
      metadata: codeAssistClientMetadata,
    });
    if (isRecord(loaded.currentTier)) {
      const project = projectIdOf(loaded.cloudaicompanionProject);
      if (project !== undefined) return project;
      throw this.#needsProject(loaded, `is on the Code Assist tier ${describeTier(loaded.currentTier)} but has no project`);
    }
    this.#throwIfValidationRequired(loaded);

    const tierId = defaultTierId(loaded);
    let operation = await this.#call("onboardUser", "POST", "/v1internal:onboardUser", {
      tierId,
      metadata: codeAssistClientMetadata,
    });
    if (operation.done !== true) {
      const name = typeof operation.name === "string" ? operation.name.replace(/^\/+/, "") : "";
      if (!operationNamePattern.test(name)) {
        throw this.#error("upstream", "Code Assist onboardUser answered an unfinished operation without a usable name");
      }
      let polls = 0;
      while (operation.done !== true) {
        if (polls >= this.#maxPolls) {
          throw this.#error(
            "upstream",
            `Code Assist onboarding of ${this.#account} was not done after ${polls} polls; try again later`,
          );
        }
        await this.#delay(this.#pollIntervalMs);
        polls += 1;
        operation = await this.#call("operation poll", "GET", `/v1internal/${name}`);
      }
    }

    if (isRecord(operation.error)) throw this.#operationError(operation.error);
    const response = isRecord(operation.response) ? operation.response : {};
    const project = projectIdOf(response.cloudaicompanionProject);
    if (project !== undefined) return project;
    throw this.#needsProject(loaded, `was onboarded to the Code Assist tier ${tierId} without a project`);
  }

  /** One Code Assist call; resolves to its JSON object, rejects with ProviderError. */
  async #call(step: string, method: "GET" | "POST", path: string, body?: unknown): Promise<Record<string, unknown>> {
    this.#throwIfAborted();
    const signal = this.#signal;
    const controller = new AbortController();
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      controller.abort(new Error("Code Assist request timeout"));
    }, this.#timeoutMs);
    const onAbort = () => controller.abort(signal?.reason);
    signal?.addEventListener("abort", onAbort, { once: true });

    let status: number;
    let text: string;
    try {
      const response = await request(`${this.#baseUrl}${path}`, {
        method,
        headers: {
          authorization: `Bearer ${this.#token}`,
          "content-type": "application/json",
          accept: "application/json",
        },
        body: body === undefined ? undefined : JSON.stringify(body),
        dispatcher: this.#options.dispatcher,
        signal: controller.signal,
      });
      status = response.statusCode;
      text = await response.body.text();
    } catch (error) {
      if (timedOut) {
        throw this.#error("upstream", `Code Assist ${step} timed out after ${this.#timeoutMs} ms`, error);
      }
      if (signal?.aborted) throw this.#aborted(signal);
      throw this.#error("upstream", `Code Assist ${step} failed: ${networkErrorCode(error) ?? "network error"}`, error);
    } finally {
      clearTimeout(timer);
      signal?.removeEventListener("abort", onAbort);
    }

    if (status < 200 || status >= 300) throw this.#httpError(step, status, text);
    const parsed = parseJson(text);
    if (!isRecord(parsed)) {
      throw this.#error("upstream", `Code Assist ${step} answered ${status} with a body that is not a JSON object`);
    }
    return parsed;
  }

  #httpError(step: string, status: number, text: string): ProviderError {
    const google = parseGoogleError(text);
    const statusName = google?.status !== undefined && /^[A-Z_]{1,64}$/.test(google.status) ? ` ${google.status}` : "";
    const message = google?.message ? `: ${truncate(google.message, 300)}` : "";
    const answer = `Code Assist ${step} answered ${status}${statusName}${message}`;
    if (status === 401) {
      return this.#error(
        "invalid_request",
        `${answer}. The access token of ${this.#account} was refused: sign the account in again (gemini-cli's OAuth, cloud-platform scope) and give it the new credentials`,
      );
    }
    if (status === 403) {
      return this.#error(
        "invalid_request",
        `${answer}. ${this.#account} is not allowed to use Gemini Code Assist: use an account that is, or set credentials.projectId to a Google Cloud project it may use with Code Assist`,
      );
    }
    if (status === 408 || status === 429 || status >= 500) {
      return this.#error("upstream", `${answer}; try again later`);
    }
    if (status >= 400) {
      return this.#error(
        "invalid_request",
        `${answer}. ${this.#account} cannot be set up automatically: set credentials.projectId to its Code Assist project`,
      );
    }
    return this.#error("upstream", `Code Assist ${step} answered an unexpected ${status}`);
  }

  #operationError(error: Record<string, unknown>): ProviderError {
    const code = typeof error.code === "number" ? error.code : undefined;
    const message = typeof error.message === "string" && error.message !== "" ? `: ${truncate(error.message, 300)}` : "";
    const failed = `Code Assist onboarding of ${this.#account} failed${code === undefined ? "" : ` (code ${code})`}${message}`;
    if (code !== undefined && transientOperationCodes.has(code)) return this.#error("upstream", `${failed}; try again later`);
    return this.#error("invalid_request", `${failed}. Set credentials.projectId to its Code Assist project`);
  }

  /** `invalid_request`: the account needs its project set by hand; quotes Google's ineligibility reasons. */
  #needsProject(loaded: Record<string, unknown>, what: string): ProviderError {
    const reasons = ineligibleTiers(loaded)
      .map((tier) => tier.reasonMessage)
      .filter((reason): reason is string => reason !== undefined);
    const because = reasons.length > 0 ? ` Google says: ${reasons.join("; ")}.` : "";
    return this.#error(
      "invalid_request",
      `${this.#account} ${what}: it needs a Google Cloud project. Set credentials.projectId to a project with the Gemini for Google Cloud API (cloudaicompanion.googleapis.com) enabled.${because}`,
    );
  }

  /** gemini-cli's check: not onboarded, and an ineligible tier asks for the account to be verified first. */
  #throwIfValidationRequired(loaded: Record<string, unknown>): void {
    const tier = ineligibleTiers(loaded).find(
      (candidate) => candidate.reasonCode === "VALIDATION_REQUIRED" && candidate.validationUrl !== undefined,
    );
    if (tier === undefined) return;
    const reason = tier.reasonMessage === undefined ? "" : ` (${tier.reasonMessage})`;
    throw this.#error(
      "invalid_request",
      `${this.#account} must be verified by Google before it can use Code Assist${reason}: open ${tier.validationUrl} signed in as that account, then set it up again`,
    );
  }

  #error(code: ProviderErrorCode, message: string, cause?: unknown): ProviderError {
    const safe = this.#token.length >= 4 ? message.split(this.#token).join("[redacted]") : message;
    return new ProviderError(safe, { code, cause });
  }

  #aborted(signal: AbortSignal): ProviderError {
    return this.#error("upstream", `Code Assist setup of ${this.#account} was aborted`, signal.reason);
  }

  #throwIfAborted(): void {
    if (this.#signal?.aborted) throw this.#aborted(this.#signal);
  }

  /** `promise`, or a rejection as soon as `signal` aborts (at once when it already has). */
  #abortable<T>(promise: Promise<T>): Promise<T> {
    const signal = this.#signal;
    if (signal === undefined) return promise;
    if (signal.aborted) {
      promise.catch(() => undefined);
      return Promise.reject(this.#aborted(signal));
    }
    let onAbort = () => {};
    const aborted = new Promise<never>((_, reject) => {
      onAbort = () => reject(this.#aborted(signal));
      signal.addEventListener("abort", onAbort, { once: true });
    });
    return Promise.race([promise, aborted]).finally(() => signal.removeEventListener("abort", onAbort));
  }

  /** Waits `ms` (a real timer), cut short by `signal`. */
  #delay(ms: number): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    return this.#abortable(
      new Promise<void>((resolve) => {
        timer = setTimeout(resolve, ms);
      }),
    ).finally(() => clearTimeout(timer));
  }
}

interface IneligibleTier {
  reasonCode?: string;
  reasonMessage?: string;
  validationUrl?: string;
}

function ineligibleTiers(loaded: Record<string, unknown>): IneligibleTier[] {
  if (!Array.isArray(loaded.ineligibleTiers)) return [];
  return loaded.ineligibleTiers.filter(isRecord).map((tier) => ({
    reasonCode: nonEmptyString(tier.reasonCode),
    reasonMessage: mapDefined(nonEmptyString(tier.reasonMessage), (text) => truncate(text, 300)),
    validationUrl: mapDefined(nonEmptyString(tier.validationUrl), (url) => (url.length <= 2_000 ? url : undefined)),
  }));
}

/** The `allowedTiers` entry marked default, else gemini-cli's fallback `legacy-tier`. */
function defaultTierId(loaded: Record<string, unknown>): string {
  const tiers = Array.isArray(loaded.allowedTiers) ? loaded.allowedTiers.filter(isRecord) : [];
  for (const tier of tiers) {
    const id = nonEmptyString(tier.id);
    if (tier.isDefault === true && id !== undefined) return id;
  }
  return legacyTierId;
}

function describeTier(tier: Record<string, unknown>): string {
  return truncate(nonEmptyString(tier.id) ?? nonEmptyString(tier.name) ?? "(unnamed)", 100);
}

/** A project as Code Assist gives it: a string (`loadCodeAssist`) or `{id, name}` (an onboarding operation). */
function projectIdOf(value: unknown): string | undefined {
  if (isRecord(value)) return nonEmptyString(value.id);
  return nonEmptyString(value);
}

function nonEmptyString(value: unknown): string | undefined {
  return typeof value === "string" && value !== "" ? value : undefined;
}

function mapDefined<T, U>(value: T | undefined, map: (value: T) => U | undefined): U | undefined {
  return value === undefined ? undefined : map(value);
}

function truncate(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max)}…`;
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}
