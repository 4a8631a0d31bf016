import { subscribe, unsubscribe } from "node:diagnostics_channel";
import { ProviderError } from "@subrelay/providers-core";
import { FakeUpstream, type RecordedRequest } from "@subrelay/providers-core/testing";
import { type OAuthCredentials, TokenRefreshError } from "@subrelay/token-cache";
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { codeAssistClientMetadata, setupCodeAssistProject } from "./code-assist-setup";
import { createGeminiProvider, type GeminiProviderOptions } from "./gemini-provider";

const accessToken = "ya29.a0AfB_setupAccessToken-0123456789abcdefghij";
const refreshToken = "1//0gSetupRefreshToken-abcdefghijklmnop";
const metadata = { ideType: "IDE_UNSPECIFIED", platform: "PLATFORM_UNSPECIFIED", pluginType: "GEMINI" };
const loadPath = "/v1internal:loadCodeAssist";
const onboardPath = "/v1internal:onboardUser";
const operationPath = "/v1internal/operations/onboard-7f3a";

let upstream: FakeUpstream;

beforeAll(async () => {
  upstream = await FakeUpstream.start();
});
afterEach(() => upstream.reset());
afterAll(async () => {
  await upstream.close();
});

/** Frozen (nested values too): a mutation throws in strict mode, and the test compares with a copy as well. */
function credentials(overrides: Partial<OAuthCredentials> = {}): OAuthCredentials {
  return Object.freeze({
    accessToken,
    refreshToken,
    expiresAt: 1_763_740_800_000,
    email: "dev@example.com",
    scope: "https://www.googleapis.com/auth/cloud-platform",
    ...overrides,
  });
}

function provider(options: GeminiProviderOptions = {}) {
  return createGeminiProvider({ codeAssistBaseUrl: upstream.url, onboardPollIntervalMs: 0, timeoutMs: 5_000, ...options });
}

function tokenSource() {
  return vi.fn(async () => accessToken);
}

/** Runs the provider's prepareCredentials on fresh frozen credentials; checks they were left as given. */
async function prepare(options: GeminiProviderOptions = {}, overrides: Partial<OAuthCredentials> = {}, signal?: AbortSignal) {
  const given = credentials(overrides);
  const copy = structuredClone(given);
  const token = tokenSource();
  const result = provider(options).prepareCredentials({ accountId: "7", credentials: given, accessToken: token, signal });
  await result.catch(() => undefined);
  expect(given).toEqual(copy);
  return { result, given, token };
}

/** The ProviderError a promise rejects with; fails when it resolves, rejects otherwise, or leaks a secret. */
async function setupError(promise: Promise<unknown>): Promise<ProviderError> {
  const error: unknown = await promise.then(
    () => undefined,
    (caught: unknown) => caught,
  );
  if (!ProviderError.isInstance(error)) throw new Error(`expected a ProviderError, got ${String(error)}`);
  for (const secret of [accessToken, refreshToken]) {
    expect(error.message).not.toContain(secret);
    expect(String(error)).not.toContain(secret);
    expect(error.stack ?? "").not.toContain(secret);
  }
  return error;
}

function expectAuthorised(request: RecordedRequest | undefined) {
  expect(request?.headers.authorization).toBe(`Bearer ${accessToken}`);
  expect(request?.headers["content-type"]).toBe("application/json");
}

describe("prepareCredentials (Code Assist setup)", () => {
  it("returns the same credentials when projectId is set, without a request or a token", async () => {
    const given = credentials({ projectId: "spry-tide-q4k9m" });
    const token = tokenSource();
    upstream.on("POST", loadPath, { json: { currentTier: { id: "free-tier" }, cloudaicompanionProject: "other" } });

    const prepared = await provider().prepareCredentials({ accountId: "7", credentials: given, accessToken: token });

    expect(prepared).toBe(given);
    expect(token).not.toHaveBeenCalled();
    expect(upstream.requests).toHaveLength(0);
  });

  it("uses the project of an account already on a tier, with the bearer token and gemini-cli's metadata", async () => {
    upstream.on("POST", loadPath, {
      json: {
        currentTier: { id: "standard-tier", name: "Gemini Code Assist" },
        allowedTiers: [{ id: "standard-tier", isDefault: true }],
        cloudaicompanionProject: "acme-code-assist",
      },
    });
    const { result, given, token } = await prepare({}, { projectId: "" });

    const prepared = await result;
    expect(prepared).toEqual({ ...given, projectId: "acme-code-assist" });
    expect(prepared).not.toBe(given);
    expect(given.projectId).toBe("");
    expect(token).toHaveBeenCalledTimes(1);
    expect(upstream.requests.map((request) => `${request.method} ${request.path}`)).toEqual([`POST ${loadPath}`]);
    const [load] = upstream.requests;
    expectAuthorised(load);
    expect(load?.json()).toEqual({ metadata });
  });

  it("onboards to the default free tier without a cloudaicompanionProject and takes the provisioned project", async () => {
    upstream
      .on("POST", loadPath, {
        json: {
          allowedTiers: [
            { id: "standard-tier", name: "Standard", userDefinedCloudaicompanionProject: true },
            { id: "free-tier", name: "Free", isDefault: true, userDefinedCloudaicompanionProject: false },
          ],
        },
      })
      .on("POST", onboardPath, {
        json: {
          name: "operations/onboard-7f3a",
          done: true,
          response: { cloudaicompanionProject: { id: "gen-lang-client-0123456789", name: "Gemini Code Assist" } },
        },
      });
    const { result, given } = await prepare();

    expect(await result).toEqual({ ...given, projectId: "gen-lang-client-0123456789" });
    expect(upstream.requests.map((request) => `${request.method} ${request.path}`)).toEqual([
      `POST ${loadPath}`,
      `POST ${onboardPath}`,
    ]);
    const [onboard] = upstream.requestsTo(onboardPath);
    expectAuthorised(onboard);
    const body = onboard!.json<Record<string, unknown>>();
    expect(body).toEqual({ tierId: "free-tier", metadata });
    expect(body).not.toHaveProperty("cloudaicompanionProject");
  });

  it("onboards to legacy-tier when no tier is the default", async () => {
    upstream
      .on("POST", loadPath, { json: { allowedTiers: [{ id: "standard-tier" }] } })
      .on("POST", onboardPath, { json: { done: true, response: { cloudaicompanionProject: { id: "legacy-project" } } } });
    const { result } = await prepare();

    expect((await result).projectId).toBe("legacy-project");
    expect(upstream.requestsTo(onboardPath)[0]?.json()).toEqual({ tierId: "legacy-tier", metadata });
  });

  it("polls an unfinished onboarding operation until it is done", async () => {
    upstream
      .on("POST", loadPath, { json: { allowedTiers: [{ id: "free-tier", isDefault: true }] } })
      .on("POST", onboardPath, { json: { name: "operations/onboard-7f3a", done: false } })
      .enqueue(
        "GET",
        operationPath,
        { json: { name: "operations/onboard-7f3a", done: false } },
        { json: { name: "operations/onboard-7f3a" } },
        { json: { name: "operations/onboard-7f3a", done: true, response: { cloudaicompanionProject: { id: "polled-project" } } } },
      );
    const { result, given } = await prepare();

    expect(await result).toEqual({ ...given, projectId: "polled-project" });
    const polls = upstream.requestsTo(operationPath);
    expect(polls).toHaveLength(3);
    for (const poll of polls) {
      expect(poll.method).toBe("GET");
      expect(poll.body).toBe("");
      expectAuthorised(poll);
    }
    expect(upstream.requests.at(-1)?.path).toBe(operationPath);
  });

  it("gives up with upstream after onboardMaxPolls unfinished polls", async () => {
    upstream
      .on("POST", loadPath, { json: { allowedTiers: [{ id: "free-tier", isDefault: true }] } })
      .on("POST", onboardPath, { json: { name: "operations/onboard-7f3a", done: false } })
      .on("GET", operationPath, { json: { name: "operations/onboard-7f3a", done: false } });
    const { result } = await prepare({ onboardMaxPolls: 3, onboardPollIntervalMs: 1 });

    const error = await setupError(result);
    expect(error.code).toBe("upstream");
    expect(error.message).toContain("3 polls");
    expect(upstream.requestsTo(operationPath)).toHaveLength(3);
  });

  it("fails with invalid_request, quoting Google's reasons, when a tiered account has no project", async () => {
    upstream.on("POST", loadPath, {
      json: {
        currentTier: { id: "standard-tier" },
        ineligibleTiers: [
          {
            reasonCode: "INELIGIBLE_ACCOUNT",
            reasonMessage: "Your current account is not eligible for Gemini Code Assist for individuals",
            tierId: "free-tier",
          },
        ],
      },
    });
    const { result } = await prepare();

    const error = await setupError(result);
    expect(error.code).toBe("invalid_request");
    expect(error.message).toContain("Your current account is not eligible for Gemini Code Assist for individuals");
    expect(error.message).toContain("credentials.projectId");
    expect(error.message).toContain("Gemini account 7");
    expect(upstream.requestsTo(onboardPath)).toHaveLength(0);
  });

  it("fails with invalid_request when onboarding finishes without a project", async () => {
    upstream
      .on("POST", loadPath, { json: { allowedTiers: [{ id: "standard-tier", isDefault: true }] } })
      .on("POST", onboardPath, { json: { done: true, response: {} } });
    const { result } = await prepare();

    const error = await setupError(result);
    expect(error.code).toBe("invalid_request");
    expect(error.message).toContain("standard-tier");
    expect(error.message).toContain("credentials.projectId");
  });

  it("fails with invalid_request, before onboarding, when Google asks for the account to be verified", async () => {
    upstream.on("POST", loadPath, {
      json: {
        ineligibleTiers: [
          {
            reasonCode: "VALIDATION_REQUIRED",
            reasonMessage: "Verify your account to continue.",
            validationUrl: "https://accounts.google.com/signin/continue?sarp=1",
          },
        ],
      },
    });
    const { result } = await prepare();

    const error = await setupError(result);
    expect(error.code).toBe("invalid_request");
    expect(error.message).toContain("Verify your account to continue.");
    expect(error.message).toContain("https://accounts.google.com/signin/continue?sarp=1");
    expect(upstream.requestsTo(onboardPath)).toHaveLength(0);
  });

  it("maps a refused token (401) to invalid_request, without the token even when Google echoes it", async () => {
    upstream.on("POST", loadPath, (request) => ({
      status: 401,
      json: {
        error: {
          code: 401,
          message: `Request had invalid authentication credentials: ${request.headers.authorization ?? ""}`,
          status: "UNAUTHENTICATED",
        },
      },
    }));
    const { result } = await prepare();

    const error = await setupError(result);
    expect(error.code).toBe("invalid_request");
    expect(error.message).toContain("401 UNAUTHENTICATED");
    expect(error.message).toContain("Request had invalid authentication credentials");
    expect(error.message).toContain("[redacted]");
    expect(error.message).toContain("access token of Gemini account 7 was refused");
  });

  it("maps a refused account (403) to invalid_request with Google's message", async () => {
    upstream.on("POST", loadPath, {
      status: 403,
      json: { error: { code: 403, message: "The caller does not have permission", status: "PERMISSION_DENIED" } },
    });
    const { result } = await prepare();

    const error = await setupError(result);
    expect(error.code).toBe("invalid_request");
    expect(error.message).toContain("403 PERMISSION_DENIED: The caller does not have permission");
    expect(error.message).toContain("not allowed to use Gemini Code Assist");
  });

  it.each([
    { status: 500, where: loadPath },
    { status: 503, where: loadPath },
    { status: 429, where: loadPath },
    { status: 500, where: onboardPath },
    { status: 502, where: operationPath },
  ])("maps $status from $where to upstream", async ({ status, where }) => {
    upstream
      .on("POST", loadPath, { json: { allowedTiers: [{ id: "free-tier", isDefault: true }] } })
      .on("POST", onboardPath, { json: { name: "operations/onboard-7f3a", done: false } })
      .on("GET", operationPath, { json: { done: false } })
      .on(where === operationPath ? "GET" : "POST", where, {
        status,
        json: { error: { code: status, message: "Internal error encountered.", status: "INTERNAL" } },
      });
    const { result } = await prepare();

    const error = await setupError(result);
    expect(error.code).toBe("upstream");
    expect(error.message).toContain(`answered ${status}`);
    expect(upstream.requests.at(-1)?.path).toBe(where);
  });

  it("maps a body that is not JSON to upstream", async () => {
    upstream.on("POST", loadPath, { body: "<html>Bad gateway</html>", headers: { "content-type": "text/html" } });
    const { result } = await prepare();

    const error = await setupError(result);
    expect(error.code).toBe("upstream");
    expect(error.message).toContain("not a JSON object");
  });

  it("maps a refused connection to upstream", async () => {
    const closed = await FakeUpstream.start();
    const url = closed.url;
    await closed.close();
    const { result } = await prepare({ codeAssistBaseUrl: url });

    const error = await setupError(result);
    expect(error.code).toBe("upstream");
    expect(error.message).toContain("ECONNREFUSED");
  });

  it("maps a call that takes longer than timeoutMs to upstream", async () => {
    upstream.on("POST", loadPath, { hang: true });
    const { result } = await prepare({ timeoutMs: 50 });

    const error = await setupError(result);
    expect(error.code).toBe("upstream");
    expect(error.message).toContain("timed out after 50 ms");
  });

  it("maps an unfinished operation without a usable name to upstream, without polling", async () => {
    upstream
      .on("POST", loadPath, { json: { allowedTiers: [{ id: "free-tier", isDefault: true }] } })
      .on("POST", onboardPath, { json: { name: "../../v1internal:loadCodeAssist", done: false } });
    const { result } = await prepare();

    const error = await setupError(result);
    expect(error.code).toBe("upstream");
    expect(upstream.requests.map((request) => request.path)).toEqual([loadPath, onboardPath]);
  });

  it.each([
    { code: 13, expected: "upstream" },
    { code: 9, expected: "invalid_request" },
  ])("maps a finished operation with error code $code to $expected", async ({ code, expected }) => {
    upstream
      .on("POST", loadPath, { json: { allowedTiers: [{ id: "free-tier", isDefault: true }] } })
      .on("POST", onboardPath, { json: { done: true, error: { code, message: "Onboarding failed." } } });
    const { result } = await prepare();

    const error = await setupError(result);
    expect(error.code).toBe(expected);
    expect(error.message).toContain("Onboarding failed.");
  });

  it("lets a rejection of accessToken() through unchanged, without a request", async () => {
    const refused = new TokenRefreshError("Token endpoint answered 400 invalid_grant", {
      code: "invalid_grant",
      permanent: true,
    });
    const promise = provider().prepareCredentials({
      accountId: "7",
      credentials: credentials(),
      accessToken: () => Promise.reject(refused),
    });

    await expect(promise).rejects.toBe(refused);
    expect(upstream.requests).toHaveLength(0);
  });

  it("rejects with upstream, the abort reason as cause, when the signal aborts a call", async () => {
    upstream.on("POST", loadPath, { hang: true });
    const controller = new AbortController();
    const reason = new Error("operator went away");
    const promise = provider().prepareCredentials({
      accountId: "7",
      credentials: credentials(),
      accessToken: tokenSource(),
      signal: controller.signal,
    });
    await upstream.waitForRequests(1, loadPath);
    controller.abort(reason);

    const error = await setupError(promise);
    expect(error.code).toBe("upstream");
    expect(error.message).toContain("aborted");
    expect(error.cause).toBe(reason);
  });

  it("stops waiting between polls when the signal aborts", { timeout: 10_000 }, async () => {
    const controller = new AbortController();
    upstream
      .on("POST", loadPath, { json: { allowedTiers: [{ id: "free-tier", isDefault: true }] } })
      .on("POST", onboardPath, { json: { name: "operations/onboard-7f3a", done: false } });
    // Aborts once the onboardUser answer has been received in full and handled: undici publishes
    // `undici:request:trailers` when the response is complete, and a setImmediate callback runs only after the
    // ticks and microtasks that read the body and start the wait.
    const onComplete = (message: unknown) => {
      const { request } = message as { request: { path: string } };
      if (request.path === onboardPath) setImmediate(() => controller.abort(new Error("stop")));
    };
    subscribe("undici:request:trailers", onComplete);
    try {
      // An hour between polls: only the abort can end this test within its timeout.
      const { result } = await prepare({ onboardPollIntervalMs: 3_600_000 }, {}, controller.signal);

      const error = await setupError(result);
      expect(error.code).toBe("upstream");
      expect(error.message).toContain("aborted");
      expect(controller.signal.aborted).toBe(true);
      expect(upstream.requestsTo(onboardPath)).toHaveLength(1);
      expect(upstream.requestsTo(operationPath)).toHaveLength(0);
    } finally {
      unsubscribe("undici:request:trailers", onComplete);
    }
  });

  it("does nothing when the signal has already aborted", async () => {
    const { result, token } = await prepare({}, {}, AbortSignal.abort(new Error("gone")));

    const error = await setupError(result);
    expect(error.code).toBe("upstream");
    expect(token).not.toHaveBeenCalled();
    expect(upstream.requests).toHaveLength(0);
  });
});

describe("setupCodeAssistProject", () => {
  it("works on its own, with a base URL given with a trailing slash", async () => {
    upstream.on("POST", loadPath, { json: { currentTier: { id: "free-tier" }, cloudaicompanionProject: "standalone-project" } });
    const given = credentials();

    const prepared = await setupCodeAssistProject({
      credentials: given,
      accessToken: async () => accessToken,
      codeAssistBaseUrl: `${upstream.url}/`,
    });

    expect(prepared).toEqual({ ...given, projectId: "standalone-project" });
    expect(upstream.requests.map((request) => request.path)).toEqual([loadPath]);
    expectAuthorised(upstream.requests[0]);
  });

  it("returns the same credentials when projectId is set", async () => {
    const given = credentials({ projectId: "already-there" });
    const token = tokenSource();

    expect(await setupCodeAssistProject({ credentials: given, accessToken: token, codeAssistBaseUrl: upstream.url })).toBe(given);
    expect(token).not.toHaveBeenCalled();
    expect(upstream.requests).toHaveLength(0);
  });

  it("exports gemini-cli's client metadata", () => {
    expect(codeAssistClientMetadata).toEqual(metadata);
  });
});
