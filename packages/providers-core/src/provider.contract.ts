import assert from "node:assert/strict";
import { readdirSync } from "node:fs";
import { createServer, type AddressInfo } from "node:net";
import { request } from "undici";
import { FakeUpstream } from "./fake-upstream";
import { returnableHeaders } from "./headers";
import type { BuildRequestInput, ClientRequest, Provider, UpstreamAccount, UpstreamRequest } from "./provider";
import { ProviderError } from "./provider-error";
import { readFixture } from "./read-fixture";

/** The test runner's `describe` and `it` (vitest's, or node:test's): the suite imports no runner itself. */
export interface ContractTestApi {
  describe: (name: string, body: () => void) => void;
  it: (name: string, body: () => Promise<void> | void) => void;
}

/** One account and request the provider serves. */
export interface ProviderContractCase {
  name: string;
  account: UpstreamAccount;
  /** The access token of an `oauth` account. */
  accessToken?: string;
  /** The request; its headers are replaced by the suite's hostile client headers. */
  request: Omit<ClientRequest, "headers">;
  /**
   * What this case must pass through to the upstream: client headers (session, tracing) that must arrive
   * with the values sent, and the query parameters (`request.query`) that must arrive in the upstream URL.
   */
  forwards?: { headers?: Readonly<Record<string, string>>; query?: Readonly<Record<string, string>> };
}

export interface ProviderContractOptions {
  test: ContractTestApi;
  /** The provider under test with every default base URL set to `baseUrl`. */
  createProvider(urls: { baseUrl: string }): Provider;
  cases: readonly ProviderContractCase[];
  /** Further inputs an account's misconfiguration makes unservable (e.g. Gemini OAuth without projectId). */
  misconfigured?: readonly BuildRequestInput[];
  /**
   * Upstream response headers the provider's `responseHeaders` must return to the client, values as the
   * upstream sent them (request ids, rate-limit and quota headers). The suite adds cookies, hop-by-hop
   * headers and unlisted ones, none of which may come back.
   */
  returnsHeaders?: Readonly<Record<string, string>>;
  /** Directory of error response fixtures; every file `include` accepts (default: names starting `error`). */
  errorFixtures: { dir: string; include?: (fileName: string) => boolean };
}

const canary = "wire-canary-7f3c";
const clientHeaders: Record<string, string> = {
  authorization: `Bearer client-${canary}`,
  "proxy-authorization": `Basic client-${canary}`,
  "x-api-key": `client-${canary}`,
  "x-goog-api-key": `client-${canary}`,
  cookie: `session=client-${canary}`,
  connection: `x-${canary}`,
  "keep-alive": `timeout=${canary}`,
  "transfer-encoding": `chunked-${canary}`,
  upgrade: `ws-${canary}`,
  te: `trailers-${canary}`,
  trailer: `x-${canary}`,
  "proxy-connection": `keep-alive-${canary}`,
  "proxy-foo": `client-${canary}`,
  host: `${canary}.example`,
};
const hopByHop = ["connection", "keep-alive", "transfer-encoding", "upgrade", "te", "trailer", "host", "content-length"];
const verdictKinds = new Set(["ok", "auth", "forbidden", "rate_limited", "overloaded", "server", "client"]);

function build(provider: Provider, testCase: ProviderContractCase, account = testCase.account): UpstreamRequest {
  return provider.buildRequest({
    account,
    accessToken: testCase.accessToken,
    request: { ...testCase.request, headers: { ...clientHeaders } },
  });
}

/** Upstream response headers that never reach a client. */
const unreturnableHeaders: Record<string, string> = {
  "set-cookie": `session=${canary}; Path=/`,
  "x-unlisted-header": canary,
  "keep-alive": `timeout=5`,
};

async function send(upstream: UpstreamRequest): Promise<void> {
  const response = await request(upstream.url, { method: upstream.method, headers: upstream.headers, body: upstream.body });
  await response.body.text();
}

function secretOf(testCase: ProviderContractCase): string {
  const credentials = testCase.account.credentials as { apiKey?: unknown };
  return testCase.account.type === "apikey" ? String(credentials.apiKey) : String(testCase.accessToken);
}

/** A TCP server that answers every connection with `reply` (raw bytes), then resets or ends it. */
async function rawServer(reply: string, reset: boolean): Promise<{ url: string; close(): Promise<void> }> {
  const server = createServer((socket) => {
    socket.once("data", () => {
      socket.write(reply, () => (reset ? socket.resetAndDestroy() : socket.end()));
    });
    socket.on("error", () => undefined);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}`, close: () => new Promise((resolve) => server.close(() => resolve())) };
}

/**
 * The provider conformance suite: what every adapter must do, run by each adapter's own tests against a
 * real 127.0.0.1 fake upstream. Assertions are `node:assert`, so any runner reports them.
 */
export function describeProviderContract(name: string, options: ProviderContractOptions): void {
  const { describe, it } = options.test;
  describe(`Provider contract: ${name}`, () => {
    for (const testCase of options.cases) {
      it(`${testCase.name}: never forwards client auth or hop-by-hop headers upstream`, async () => {
        const upstream = await FakeUpstream.start();
        try {
          const provider = options.createProvider({ baseUrl: upstream.url });
          const built = build(provider, testCase);
          const leaked = Object.entries(built.headers).filter(
            ([header, value]) => value.includes(canary) || hopByHop.includes(header.toLowerCase()) || header.toLowerCase().startsWith("proxy-"),
          );
          assert.deepEqual(leaked, [], "buildRequest forwarded client credentials or hop-by-hop headers");
          await send(built);
          const [recorded] = await upstream.waitForRequests(1);
          const wire = JSON.stringify({ url: recorded!.url, headers: recorded!.headers, body: recorded!.body });
          assert.ok(!wire.includes(canary), `the upstream received client header text: ${wire}`);
          assert.ok(JSON.stringify(recorded!.headers).includes(secretOf(testCase)), "the account's own credential was not sent");
        } finally {
          await upstream.close();
        }
      });

      if (testCase.forwards !== undefined) {
        const forwards = testCase.forwards;
        it(`${testCase.name}: passes the client's session headers and query parameters upstream`, async () => {
          const upstream = await FakeUpstream.start();
          try {
            const provider = options.createProvider({ baseUrl: upstream.url });
            const built = provider.buildRequest({
              account: testCase.account,
              accessToken: testCase.accessToken,
              request: { ...testCase.request, query: forwards.query, headers: { ...clientHeaders, ...forwards.headers } },
            });
            await send(built);
            const [recorded] = await upstream.waitForRequests(1);
            const arrived = Object.fromEntries(Object.keys(forwards.headers ?? {}).map((header) => [header, recorded!.headers[header]]));
            assert.deepEqual(arrived, forwards.headers ?? {}, "client headers did not arrive upstream as sent");
            const query = Object.fromEntries(Object.keys(forwards.query ?? {}).map((name) => [name, recorded!.query.get(name)]));
            assert.deepEqual(query, forwards.query ?? {}, `query parameters did not arrive upstream: ${recorded!.url}`);
          } finally {
            await upstream.close();
          }
        });
      }

      it(`${testCase.name}: an account's base URL wins over the provider default`, async () => {
        const fallback = await FakeUpstream.start();
        const own = await FakeUpstream.start();
        try {
          const provider = options.createProvider({ baseUrl: fallback.url });
          const built = build(provider, testCase, { ...testCase.account, baseUrl: `${own.url}/own-prefix/` });
          assert.ok(built.url.startsWith(`${own.url}/own-prefix/`), `sent to ${built.url}`);
          assert.ok(!built.url.slice(own.url.length).includes("//"), `double slash in ${built.url}`);
          await send(built);
          await own.waitForRequests(1);
          assert.equal(fallback.requests.length, 0);
          await send(build(provider, testCase));
          assert.equal((await fallback.waitForRequests(1)).length, 1, "without an account base URL the default is used");
        } finally {
          await Promise.all([fallback.close(), own.close()]);
        }
      });

      it(`${testCase.name}: an account without its credentials is misconfigured, not named`, () => {
        const provider = options.createProvider({ baseUrl: "http://127.0.0.1:9" });
        const account = { ...testCase.account, id: "acct-id-canary-31337" };
        const inputs: BuildRequestInput[] =
          account.type === "apikey"
            ? [{ apiKey: "" }, {}].map((credentials) => ({ account: { ...account, credentials } as UpstreamAccount, request: { ...testCase.request, headers: {} } }))
            : [undefined, ""].map((accessToken) => ({ account, accessToken, request: { ...testCase.request, headers: {} } }));
        for (const input of [...inputs, ...(options.misconfigured ?? [])]) {
          const error = catchError(() => provider.buildRequest({ ...input, account: { ...input.account, id: account.id } }));
          assert.ok(ProviderError.isInstance(error), `not a ProviderError: ${String(error)}`);
          assert.equal(error.code, "misconfigured", error.message);
          assert.ok(!error.message.includes(account.id), `the message names the account: ${error.message}`);
        }
      });

      it(`${testCase.name}: the usage tracker never throws on garbage and keeps counts sane`, () => {
        const provider = options.createProvider({ baseUrl: "http://127.0.0.1:9" });
        const request = { ...testCase.request, headers: {} };
        const tracker = provider.usageTracker(request);
        for (const chunk of garbageChunks()) tracker.push(chunk);
        const json = provider.usageTracker(request);
        for (const body of garbageBodies()) json.json(body);
        const each = garbageBodies().map((body) => {
          const single = provider.usageTracker(request);
          single.json(body);
          return single.result();
        });
        for (const usage of [tracker.result(), json.result(), ...each]) {
          for (const field of ["inputTokens", "outputTokens", "cacheReadTokens", "cacheWriteTokens"] as const) {
            assert.ok(Number.isSafeInteger(usage[field]) && usage[field] >= 0, `${field} = ${usage[field]}`);
          }
          assert.ok(usage.model === undefined || typeof usage.model === "string", `model = ${String(usage.model)}`);
        }
      });

      for (const scenario of networkScenarios) {
        it(`${testCase.name}: a network failure (${scenario.name}) is a server verdict without text from the wire`, async () => {
          const target = await scenario.start();
          try {
            const provider = options.createProvider({ baseUrl: target.url });
            const error = await send(build(provider, testCase)).then(() => undefined, (caught: unknown) => caught);
            assert.ok(error !== undefined, "the request did not fail");
            const verdict = provider.classifyNetworkError(error);
            assert.equal(verdict.kind, "server");
            assert.equal(verdict.kind === "server" ? verdict.cause : undefined, "network", "a network failure is cause network");
            const text = JSON.stringify(verdict);
            assert.ok(!text.includes(canary) && !text.includes(secretOf(testCase)), `the verdict carries wire or secret text: ${text}`);
          } finally {
            await target.close();
          }
        });
      }
    }

    if (options.returnsHeaders !== undefined) {
      const expected = options.returnsHeaders;
      it("returns the upstream's request id and rate-limit headers, never cookies or hop-by-hop headers", async () => {
        const upstream = await FakeUpstream.start();
        try {
          upstream.on("POST", /.*/, { json: {}, headers: { ...expected, ...unreturnableHeaders } });
          const provider = options.createProvider({ baseUrl: upstream.url });
          const response = await request(`${upstream.url}/any`, { method: "POST", body: "{}" });
          await response.body.text();
          assert.deepEqual(returnableHeaders(response.headers, provider.responseHeaders ?? []), expected);
        } finally {
          await upstream.close();
        }
      });
    }

    it("models() returns copies", () => {
      const provider = options.createProvider({ baseUrl: "http://127.0.0.1:9" });
      const first = provider.models();
      assert.ok(first.length > 0);
      const snapshot = structuredClone(first);
      first[0]!.id = "mutated";
      first[0]!.displayName = "mutated";
      first.push({ id: "added" });
      assert.deepEqual(provider.models(), snapshot);
    });

    it("prices, when it ships them, are dated, sourced, unique per model, and sane numbers", () => {
      const table = options.createProvider({ baseUrl: "http://127.0.0.1:9" }).prices;
      if (table === undefined) return;
      assert.match(table.asOf, /^\d{4}-\d{2}-\d{2}$/, "asOf is a YYYY-MM-DD date");
      assert.match(table.source, /^https:\/\//, "source names the pricing page");
      const models = table.prices.map((price) => price.model.toLowerCase());
      assert.equal(new Set(models).size, models.length, "one price per model");
      const fields = ["inputUsdPerMTok", "outputUsdPerMTok", "cacheReadUsdPerMTok", "cacheWrite5mUsdPerMTok", "cacheWrite1hUsdPerMTok"] as const;
      for (const price of table.prices) {
        for (const tier of price.longContext ? [price, price.longContext] : [price]) {
          for (const field of fields) {
            const value = tier[field];
            assert.ok(Number.isFinite(value) && value >= 0 && value <= 1_000_000, `${price.model} ${field} = ${value}`);
          }
        }
        if (price.longContext) assert.ok(price.longContext.aboveInputTokens > 0, `${price.model}: a long-context threshold`);
      }
    });

    const include = options.errorFixtures.include ?? ((file: string) => file.startsWith("error"));
    const files = readdirSync(options.errorFixtures.dir).filter(include);
    it("has error fixtures to classify", () => {
      assert.ok(files.length > 0, `no error fixtures in ${options.errorFixtures.dir}`);
    });
    for (const file of files) {
      it(`gives a verdict for the error fixture ${file}`, () => {
        const provider = options.createProvider({ baseUrl: "http://127.0.0.1:9" });
        const body = readFixture(options.errorFixtures.dir, file);
        const now = 1_750_000_000_000;
        for (const status of [400, 401, 403, 404, 408, 413, 429, 500, 502, 503, 504, 529]) {
          for (const bodyText of [body, body.slice(0, Math.floor(body.length / 2)), undefined]) {
            for (const headers of [{}, { "retry-after": "garbage", "x-ratelimit-reset-requests": "-1zz" }]) {
              const verdict = provider.classify({ status, headers, bodyText }, now);
              assert.ok(verdict !== undefined && verdictKinds.has(verdict.kind), `${status}: ${JSON.stringify(verdict)}`);
              assert.notEqual(verdict.kind, "ok", `${status} classified ok`);
              if (verdict.kind === "rate_limited" || verdict.kind === "overloaded") {
                assert.ok(Number.isFinite(verdict.until) && verdict.until >= now, `${status}: until ${verdict.until}`);
                assert.ok(verdict.untilFrom === "upstream" || verdict.untilFrom === "fallback", `${status}: untilFrom ${verdict.untilFrom}`);
                // With nothing on the wire to name a moment, `until` is the provider's own default.
                if (bodyText === undefined) assert.equal(verdict.untilFrom, "fallback", `${status} without a body: untilFrom`);
              }
              if (verdict.kind === "server") assert.equal(verdict.cause, "status", `${status}: a 5xx answer is cause status`);
            }
          }
        }
      });
    }
  });
}

function catchError(run: () => unknown): unknown {
  try {
    run();
  } catch (error) {
    return error;
  }
  return undefined;
}

const networkScenarios = [
  {
    name: "closed port",
    async start() {
      const target = await rawServer("", false);
      await target.close();
      return { url: target.url, close: () => Promise.resolve() };
    },
  },
  { name: "garbage status line", start: () => rawServer(`XYZZY ${canary} \u0000\r\n\r\n`, false) },
  { name: "reset after partial headers", start: () => rawServer(`HTTP/1.1 200 OK\r\nx-wire: ${canary}\r\n`, true) },
  {
    name: "cut body",
    start: () => rawServer(`HTTP/1.1 200 OK\r\ncontent-length: 1000\r\n\r\n{"error":"${canary}`, true),
  },
];

/** Deterministic hostile stream chunks: random bytes, broken UTF-8, truncated and absurd JSON. */
function garbageChunks(): Array<string | Uint8Array> {
  let seed = 42;
  const random = () => ((seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31) / 2 ** 31);
  const chunks: Array<string | Uint8Array> = [];
  for (let index = 0; index < 64; index++) {
    chunks.push(Uint8Array.from({ length: Math.floor(random() * 300) }, () => Math.floor(random() * 256)));
  }
  chunks.push(Uint8Array.from([0xf0, 0x9f]), Uint8Array.from([0xff, 0xfe, 0x0a, 0x0a]));
  for (const body of garbageBodies()) {
    const data = JSON.stringify(body) ?? "undefined";
    for (const event of ["message_start", "message_delta", "response.completed", "message"]) {
      chunks.push(`event: ${event}\ndata: ${data}\n\n`);
    }
  }
  chunks.push("data: {\"usage\":\n\n", "data: [DONE]\n\n", ": ping\n\n", "data: " + "[".repeat(5000) + "\n\n");
  return chunks;
}

function garbageBodies(): unknown[] {
  const numbers = [null, -1, 1.5, 1e308, 2 ** 53 + 2, "12", {}, [], true];
  const bodies: unknown[] = [null, undefined, 0, "text", [], [null], { usage: null }, { __proto__: { usage: 1 } }];
  for (const value of numbers) {
    const usage = {
      input_tokens: value, output_tokens: value, cache_read_input_tokens: value, cache_creation_input_tokens: value,
      prompt_tokens: value, completion_tokens: value, prompt_tokens_details: { cached_tokens: value },
      input_tokens_details: { cached_tokens: value },
    };
    const metadata = {
      promptTokenCount: value, cachedContentTokenCount: value, toolUsePromptTokenCount: value,
      candidatesTokenCount: value, thoughtsTokenCount: value,
    };
    bodies.push(
      { type: "message_start", model: value, message: { model: value, usage } },
      { type: "message_delta", usage },
      { model: "m", usage },
      { type: "response.completed", response: { model: value, usage } },
      { object: "response", usage },
      { usageMetadata: metadata, modelVersion: value },
      { response: { usageMetadata: metadata, modelVersion: value } },
      [{ usageMetadata: metadata }, null, { usageMetadata: null }],
    );
  }
  return bodies;
}
