import { randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import type { RecordedRequest } from "@subrelay/providers-core/testing";
import { FakeUpstream } from "@subrelay/providers-core/testing";
import {
  backends,
  claudeMessage,
  claudeReply,
  createTestDatabase,
  deferred,
  startTestGateway,
  type Seeded,
  type TestGateway,
} from "./harness";

/**
 * Bursts wait for a slot instead of bouncing (issue 15, item 1): a request that finds every account at its
 * concurrency waits in its group's queue (first come, first served, woken by releases), for its sticky
 * account first; past the queue's limit or its wait it gets a 429 with Retry-After; a waiter whose client
 * leaves is gone from the queue at once; a streaming waiter gets the dialect's keep-alives.
 */
const message = { model: "claude-sonnet-4-5", max_tokens: 16, messages: [{ role: "user", content: "Hi" }] };
const headers = (key: string, extra: Record<string, string> = {}) => ({
  "x-api-key": key,
  "anthropic-version": "2023-06-01",
  "content-type": "application/json",
  ...extra,
});

/** An upstream that answers after `latencyMs` and counts the requests it serves at once. */
function countingUpstream(latencyMs: number) {
  const counter = { now: 0, max: 0, served: 0 };
  const reply = async (request: RecordedRequest) => {
    counter.now += 1;
    counter.max = Math.max(counter.max, counter.now);
    // The upstream's own latency, not a synchronisation.
    await new Promise((resolve) => setTimeout(resolve, latencyMs));
    counter.now -= 1;
    counter.served += 1;
    return claudeReply(request);
  };
  return { counter, reply };
}

/** Resolves when `path` gets one more request than it has had so far. */
const nextRequest = (upstream: FakeUpstream, path: string) => upstream.waitForRequests(upstream.requestsTo(path).length + 1, path);

const burst = async (urls: readonly string[], key: string, count: number) => {
  const answers = await Promise.all(
    Array.from({ length: count }, async (_, index) => {
      const response = await fetch(`${urls[index % urls.length]}/v1/messages`, {
        method: "POST",
        headers: headers(key),
        body: JSON.stringify(message),
      });
      const body = (await response.json()) as { id?: string };
      return { status: response.status, id: body.id };
    }),
  );
  return answers;
};

describe.each(backends)("wait queue (%s)", (backend) => {
  let harness: TestGateway;

  beforeAll(async () => {
    harness = await startTestGateway({ backend, env: { STREAM_PING_AFTER: "100ms", STREAM_PING_INTERVAL: "100ms" } });
  });
  afterAll(async () => harness?.close());

  it("200 concurrent requests on one account of concurrency 10: all succeed, never more than 10 upstream", async () => {
    const seeded = await harness.seed({
      platform: "claude",
      accounts: [{ type: "apikey", concurrency: 10, credentials: { apiKey: "sk-ant-burst" }, baseUrl: `${harness.upstream.url}/burst` }],
    });
    const { counter, reply } = countingUpstream(50);
    harness.upstream.on("POST", "/burst/v1/messages", reply);

    const answers = await burst([harness.url], seeded.key, 200);
    expect(answers.filter((answer) => answer.status !== 200)).toEqual([]);
    expect(answers.every((answer) => answer.id === claudeMessage().id)).toBe(true);
    expect(counter.served).toBe(200);
    expect(counter.max).toBe(10);
    const groups = await harness.admin<{ data: Array<{ id: number; waiters: number; inFlight: number }> }>("GET", "/admin/groups");
    expect(groups.body.data.find((group) => group.id === seeded.groupId)).toMatchObject({ waiters: 0, inFlight: 0 });
  });

  describe("with one slot held", () => {
    let seeded: Seeded;
    let hold = deferred();
    let held: Promise<Response>;
    const path = `/held-${backend}/v1/messages`;

    beforeAll(async () => {
      seeded = await harness.seed({
        platform: "claude",
        accounts: [{ type: "apikey", concurrency: 1, credentials: { apiKey: "sk-ant-held" }, baseUrl: `${harness.upstream.url}/held-${backend}` }],
      });
      harness.upstream.on("POST", path, async (request) => {
        if (request.json<{ metadata?: { user_id?: string } }>().metadata?.user_id === "holder") await hold.promise;
        return claudeReply(request);
      });
    });

    /** Takes the account's only slot until `release()`. */
    const takeSlot = async () => {
      hold = deferred();
      const arrived = nextRequest(harness.upstream, path);
      held = fetch(`${harness.url}/v1/messages`, {
        method: "POST",
        headers: headers(seeded.key),
        body: JSON.stringify({ ...message, metadata: { user_id: "holder" } }),
      });
      await arrived;
    };
    const release = async () => {
      hold.resolve();
      expect((await held).status).toBe(200);
    };
    const waiters = async () => {
      const [groups, accounts] = await Promise.all([
        harness.admin<{ data: Array<{ id: number; waiters: number; inFlight: number }> }>("GET", "/admin/groups"),
        harness.admin<{ data: Array<{ id: string; waiters: number; inFlight: number }> }>("GET", "/admin/accounts"),
      ]);
      const group = groups.body.data.find((one) => one.id === seeded.groupId)!;
      const account = accounts.body.data.find((one) => one.id === seeded.accountIds[0])!;
      return { group: group.waiters, groupInFlight: group.inFlight, accountInFlight: account.inFlight };
    };

    it("past WAIT_QUEUE_LIMIT a 429 with Retry-After; a waiter whose client leaves is gone from the queue at once", async () => {
      await takeSlot();
      const leaving = new AbortController();
      const first = fetch(`${harness.url}/v1/messages`, {
        method: "POST",
        headers: headers(seeded.key),
        body: JSON.stringify(message),
        signal: leaving.signal,
      }).catch((error: unknown) => error);
      await vi.waitFor(async () => expect((await waiters()).group).toBe(1), { interval: 5 });
      expect(await waiters()).toEqual({ group: 1, groupInFlight: 1, accountInFlight: 1 });

      leaving.abort();
      await first;
      await vi.waitFor(async () => expect((await waiters()).group).toBe(0), { interval: 5, timeout: 1_000 });
      await release();
    });

    it("streams keep-alives (Anthropic `event: ping`) while waiting, then the answer", async () => {
      await takeSlot();
      const response = await fetch(`${harness.url}/v1/messages`, {
        method: "POST",
        headers: headers(seeded.key),
        body: JSON.stringify({ ...message, stream: true }),
      });
      expect(response.status).toBe(200);
      expect(response.headers.get("content-type")).toContain("text/event-stream");
      const reader: ReadableStreamDefaultReader<Uint8Array> = response.body!.getReader();
      let text = "";
      while ((text.match(/event: ping/g) ?? []).length < 2) text += new TextDecoder().decode((await reader.read()).value);
      expect(text).not.toContain("message_start");
      await release();
      for (let chunk = await reader.read(); !chunk.done; chunk = await reader.read()) text += new TextDecoder().decode(chunk.value);
      expect(text.indexOf("event: ping")).toBeLessThan(text.indexOf("event: message_start"));
      expect(text).toContain("event: message_stop");
    });
  });
});

describe("wait queue limits (embedded)", () => {
  let harness: TestGateway;
  let seeded: Seeded;
  const hold = deferred();

  beforeAll(async () => {
    harness = await startTestGateway({
      env: { WAIT_QUEUE_LIMIT: "2", WAIT_TIMEOUT: "60s", STREAM_PING_AFTER: "100ms", STREAM_PING_INTERVAL: "100ms" },
    });
    seeded = await harness.seed({
      platform: "claude",
      accounts: [{ type: "apikey", concurrency: 1, credentials: { apiKey: "sk-ant-limits" }, baseUrl: `${harness.upstream.url}/limits` }],
    });
    harness.upstream.on("POST", "/limits/v1/messages", async (request) => {
      await hold.promise;
      return claudeReply(request);
    });
  });
  afterAll(async () => {
    hold.resolve();
    await harness?.close();
  });

  it("answers the request past the queue's limit with a 429 and Retry-After, in the dialect", async () => {
    const arrived = nextRequest(harness.upstream, "/limits/v1/messages");
    const post = (body: Record<string, unknown> = message) =>
      fetch(`${harness.url}/v1/messages`, { method: "POST", headers: headers(seeded.key), body: JSON.stringify(body) });
    const holder = post();
    await arrived;
    const queued = [post(), post()];
    await vi.waitFor(async () => {
      const groups = await harness.admin<{ data: Array<{ id: number; waiters: number }> }>("GET", "/admin/groups");
      expect(groups.body.data.find((group) => group.id === seeded.groupId)?.waiters).toBe(2);
    }, { interval: 5 });

    const refused = await post();
    expect(refused.status).toBe(429);
    expect(refused.headers.get("retry-after")).toBe("5");
    expect(await refused.json()).toMatchObject({ type: "error", error: { type: "rate_limit_error", message: expect.stringMatching(/wait queue is full/) } });

    hold.resolve();
    expect((await Promise.all([holder, ...queued])).map((response) => response.status)).toEqual([200, 200, 200]);
  });
});

describe("a streaming waiter whose wait runs out (embedded)", () => {
  let harness: TestGateway;
  const hold = deferred();

  beforeAll(async () => {
    harness = await startTestGateway({ env: { WAIT_TIMEOUT: "400ms", STREAM_PING_AFTER: "50ms", STREAM_PING_INTERVAL: "100ms" } });
  });
  afterAll(async () => {
    hold.resolve();
    await harness?.close();
  });

  it("ends the stream, once a ping went out, with the dialect's error event", async () => {
    const seeded = await harness.seed({
      platform: "claude",
      accounts: [{ type: "apikey", concurrency: 1, credentials: { apiKey: "sk-ant-late" }, baseUrl: `${harness.upstream.url}/late` }],
    });
    harness.upstream.on("POST", "/late/v1/messages", async (request) => {
      await hold.promise;
      return claudeReply(request);
    });
    const arrived = nextRequest(harness.upstream, "/late/v1/messages");
    const holder = fetch(`${harness.url}/v1/messages`, { method: "POST", headers: headers(seeded.key), body: JSON.stringify(message) });
    await arrived;
    const response = await fetch(`${harness.url}/v1/messages`, {
      method: "POST",
      headers: headers(seeded.key),
      body: JSON.stringify({ ...message, stream: true }),
    });
    expect(response.status).toBe(200);
    const text = await response.text();
    expect(text).toMatch(/^event: ping\n/);
    expect(text).toMatch(/event: error\ndata: \{"type":"error","error":\{"type":"rate_limit_error","message":"Every upstream account stayed busy/);
    hold.resolve();
    expect((await holder).status).toBe(200);
  });
});

describe("sticky waiters (embedded)", () => {
  let harness: TestGateway;

  beforeAll(async () => {
    harness = await startTestGateway({ env: { STICKY_WAIT_LIMIT: "1" } });
  });
  afterAll(async () => harness?.close());

  it("wait for their busy sticky account while another is free, up to STICKY_WAIT_LIMIT; more go to any account", async () => {
    const seeded = await harness.seed({
      platform: "claude",
      accounts: [
        { name: "x", type: "apikey", priority: 1, concurrency: 1, credentials: { apiKey: "sk-ant-x" }, baseUrl: `${harness.upstream.url}/x` },
        { name: "y", type: "apikey", priority: 2, concurrency: 1, credentials: { apiKey: "sk-ant-y" }, baseUrl: `${harness.upstream.url}/y` },
      ],
    });
    const hold = deferred();
    const served: string[] = [];
    for (const name of ["x", "y"]) {
      harness.upstream.on("POST", `/${name}/v1/messages`, async (request) => {
        served.push(`${name}:${request.json<{ metadata?: { user_id?: string } }>().metadata?.user_id ?? ""}`);
        if (name === "x" && served.length === 2) await hold.promise;
        return claudeReply(request);
      });
    }
    const post = (tag: string) =>
      fetch(`${harness.url}/v1/messages`, {
        method: "POST",
        headers: headers(seeded.key, { "x-session-id": "one-conversation" }),
        body: JSON.stringify({ ...message, metadata: { user_id: tag } }),
      });
    // The first turn binds the session to x (the preferred account).
    expect((await post("bind")).status).toBe(200);
    const arrived = nextRequest(harness.upstream, "/x/v1/messages");
    const holder = post("holder");
    await arrived;

    const waiting = post("waits-for-x");
    await vi.waitFor(async () => {
      const accounts = await harness.admin<{ data: Array<{ id: string; waiters: number }> }>("GET", "/admin/accounts");
      expect(accounts.body.data.find((account) => account.id === seeded.accountIds[0])?.waiters).toBe(1);
    }, { interval: 5 });
    // The sticky account's queue is full: this one goes to y at once.
    expect((await post("goes-to-y")).status).toBe(200);
    expect(served).toEqual(["x:bind", "x:holder", "y:goes-to-y"]);

    hold.resolve();
    expect((await holder).status).toBe(200);
    expect((await waiting).status).toBe(200);
    expect(served).toEqual(["x:bind", "x:holder", "y:goes-to-y", "x:waits-for-x"]);
  });
});

describe("3 gateways on one Redis", () => {
  const gateways: TestGateway[] = [];
  let upstream: FakeUpstream;
  let drop: () => Promise<void>;

  beforeAll(async () => {
    upstream = await FakeUpstream.start();
    const database = await createTestDatabase();
    drop = () => database.drop();
    const env = {
      DATABASE_URL: database.url,
      SUBRELAY_SECRET_KEY: randomBytes(32).toString("hex"),
      REDIS_PREFIX: `test-${randomBytes(6).toString("hex")}:`,
    };
    for (let index = 0; index < 3; index++) gateways.push(await startTestGateway({ backend: "postgres-redis", upstream, env }));
  });
  afterAll(async () => {
    for (const gateway of gateways) await gateway.close();
    await upstream?.close();
    await drop?.();
  });

  it("300 concurrent requests over 3 gateways on one account of concurrency 10: all succeed, never more than 10 upstream", async () => {
    const seeded = await gateways[0]!.seed({
      platform: "claude",
      accounts: [{ type: "apikey", concurrency: 10, credentials: { apiKey: "sk-ant-three" }, baseUrl: `${upstream.url}/three` }],
    });
    const { counter, reply } = countingUpstream(50);
    upstream.on("POST", "/three/v1/messages", reply);
    const answers = await burst(
      gateways.map((gateway) => gateway.url),
      seeded.key,
      300,
    );
    expect(answers.filter((answer) => answer.status !== 200)).toEqual([]);
    expect(counter.served).toBe(300);
    expect(counter.max).toBe(10);
  });
});
