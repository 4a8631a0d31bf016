import { request as httpRequest } from "node:http";
import { connect, type Socket } from "node:net";
import type { SseReply } from "@subrelay/providers-core/testing";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { claudeReply, claudeStreamEvents, paths, startTestGateway, type Seeded, type TestGateway } from "./harness";

const MODEL = "claude-opus-4-5";

function deferred<T = void>() {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((settle) => (resolve = settle));
  return { promise, resolve };
}

/** A raw TCP connection to the gateway, with a promise of its close. */
async function rawSocket(base: string): Promise<{ socket: Socket; closed: Promise<void> }> {
  const url = new URL(base);
  const socket = connect({ host: url.hostname, port: Number(url.port) });
  socket.on("error", () => undefined);
  const closed = new Promise<void>((resolve) => socket.once("close", () => resolve()));
  await new Promise<void>((resolve, reject) => {
    socket.once("connect", resolve);
    socket.once("error", reject);
  });
  return { socket, closed };
}

/** Sends a GET /healthz over `socket`; resolves "answered" on its first bytes back, "closed" if the socket closes first. */
function healthOver(socket: Socket, closed: Promise<void>): Promise<"answered" | "closed"> {
  const answered = new Promise<"answered">((resolve) => socket.once("data", () => resolve("answered")));
  socket.write("GET /healthz HTTP/1.1\r\nHost: gateway\r\n\r\n");
  return Promise.race([answered, closed.then(() => "closed" as const)]);
}

describe("REQUEST_TIMEOUT: a whole request must arrive in time; the answer may take as long as it takes", () => {
  const REQUEST_TIMEOUT = 400;
  let harness: TestGateway;
  let seeded: Seeded;

  beforeAll(async () => {
    harness = await startTestGateway({ env: { REQUEST_TIMEOUT: `${REQUEST_TIMEOUT}ms`, CONNECTION_TIMEOUT: "60s" } });
    seeded = await harness.seed({ platform: "claude", accounts: [{ type: "apikey", credentials: { apiKey: "sk-ant-api03-upstream" } }] });
  });
  afterAll(async () => {
    await harness?.close();
  });

  it("cuts off a body trickled by an authenticated client, while a stream longer than the timeout completes", async () => {
    // A stream that stays open until the trickling request has been cut off, so it outlives REQUEST_TIMEOUT.
    const release = deferred();
    harness.upstream.on("POST", paths.claudeMessages, (request) => ({ ...(claudeReply(request) as SseReply), waitFor: release.promise }));
    const streamStarted = Date.now();
    const stream = fetch(`${harness.url}/v1/messages`, {
      method: "POST",
      headers: { "content-type": "application/json", "x-api-key": seeded.key },
      body: JSON.stringify({ model: MODEL, max_tokens: 8, stream: true, messages: [{ role: "user", content: "hi" }] }),
    }).then(async (response) => ({ status: response.status, text: await response.text() }));
    await harness.upstream.waitForRequests(1, paths.claudeMessages);

    // 1 byte every 20 ms of a declared 10,000: each write keeps the socket active, so only REQUEST_TIMEOUT can end it.
    const url = new URL("/v1/messages", harness.url);
    const trickle = httpRequest({
      host: url.hostname,
      port: url.port,
      path: url.pathname,
      method: "POST",
      agent: false,
      headers: { "content-type": "application/json", "x-api-key": seeded.key, "content-length": "10000" },
    });
    trickle.on("error", () => undefined);
    const trickleClosed = new Promise<void>((resolve) => trickle.once("socket", (socket) => socket.once("close", () => resolve())));
    const trickleStarted = Date.now();
    let written = 0;
    trickle.write("{");
    const drip = setInterval(() => {
      if (!trickle.destroyed && written < 9_000) {
        trickle.write(" ");
        written++;
      }
    }, 20);
    await trickleClosed;
    clearInterval(drip);
    const trickleOpenFor = Date.now() - trickleStarted;
    expect(trickle.writableEnded).toBe(false);
    expect(trickleOpenFor).toBeGreaterThanOrEqual(REQUEST_TIMEOUT - 50);

    release.resolve();
    const answer = await stream;
    expect(answer.status).toBe(200);
    expect(answer.text).toContain("message_stop");
    expect(Date.now() - streamStarted).toBeGreaterThan(REQUEST_TIMEOUT);
    expect((await fetch(`${harness.url}/healthz`)).status).toBe(200);
  }, 20_000);
});

describe("CONNECTION_TIMEOUT: a silent connection is closed", () => {
  let harness: TestGateway;

  beforeAll(async () => {
    harness = await startTestGateway({ env: { CONNECTION_TIMEOUT: "300ms" } });
  });
  afterAll(async () => {
    await harness?.close();
  });

  it("closes a socket that sent half its headers and then nothing", async () => {
    const { socket, closed } = await rawSocket(harness.url);
    socket.write("POST /v1/messages HTTP/1.1\r\nHost: gateway\r\n");
    await closed;
    expect(socket.destroyed).toBe(true);
  }, 20_000);
});

describe("MAX_CONNECTIONS: connections past the cap are refused", () => {
  const CAP = 3;
  let harness: TestGateway;

  beforeAll(async () => {
    harness = await startTestGateway({ env: { MAX_CONNECTIONS: String(CAP) } });
  });
  afterAll(async () => {
    await harness?.close();
  });

  it("closes a connection above the cap at once and keeps serving those under it", async () => {
    const held = [];
    for (let index = 0; index < CAP; index++) {
      const connection = await rawSocket(harness.url);
      held.push(connection);
      // Each one is served, so the server has accepted (and counted) it before the next connects.
      expect(await healthOver(connection.socket, connection.closed)).toBe("answered");
    }
    const extra = await rawSocket(harness.url);
    expect(await healthOver(extra.socket, extra.closed)).toBe("closed");
    for (const { socket, closed } of held) {
      socket.destroy();
      await closed;
    }
  }, 20_000);
});

describe("CLIENT_DRAIN_TIMEOUT: a client that stops reading a stream loses it, and the account's slot comes back", () => {
  let harness: TestGateway;
  let seeded: Seeded;

  beforeAll(async () => {
    // CONNECTION_TIMEOUT well above the drain timeout, so only the drain timeout can end the stalled stream.
    harness = await startTestGateway({ env: { CLIENT_DRAIN_TIMEOUT: "300ms", CONNECTION_TIMEOUT: "60s" } });
    seeded = await harness.seed({
      platform: "claude",
      accounts: [{ type: "apikey", credentials: { apiKey: "sk-ant-api03-drain" }, concurrency: 1 }],
    });
  });
  afterAll(async () => {
    await harness?.close();
  });

  it("destroys the socket of a client that does not drain, and the next request gets the account", async () => {
    // 16 MB of stream: far more than the socket buffers between the gateway and a client that reads nothing.
    const [first, ...rest] = claudeStreamEvents();
    const padding = `event: ping\ndata: ${JSON.stringify({ type: "ping", padding: "x".repeat(16_000) })}\n\n`;
    const huge = [first!, ...Array.from({ length: 1_000 }, () => padding), ...rest];
    harness.upstream.on("POST", paths.claudeMessages, (request) =>
      request.json<{ stream?: boolean }>().stream ? { sse: huge } : claudeReply(request),
    );
    const ask = (stream: boolean) =>
      JSON.stringify({ model: MODEL, max_tokens: 8, stream, messages: [{ role: "user", content: "hi" }] });

    const { socket, closed } = await rawSocket(harness.url);
    // Reads nothing: once Node's 16 KB read buffer is full it stops reading, and the kernel's buffers fill.
    socket.pause();
    const body = ask(true);
    socket.write(
      `POST /v1/messages HTTP/1.1\r\nHost: gateway\r\ncontent-type: application/json\r\nx-api-key: ${seeded.key}\r\n` +
        `content-length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
    );
    await harness.upstream.waitForRequests(1, paths.claudeMessages);

    try {
      // The stalled client is cut off and the upstream stream read to its end (for its usage): the slot
      // comes back, and the account (concurrency 1) serves the next request.
      await vi.waitFor(
        async () => {
          const answer = await fetch(`${harness.url}/v1/messages`, {
            method: "POST",
            headers: { "content-type": "application/json", "x-api-key": seeded.key },
            body: ask(false),
          });
          expect(answer.status).toBe(200);
        },
        { timeout: 10_000, interval: 50 },
      );
    } catch (error) {
      socket.destroy();
      throw error;
    }
    // A paused socket notices nothing: reading again shows what it got before the gateway destroyed it.
    let received = "";
    socket.on("data", (chunk: Buffer) => (received += chunk.toString("latin1")));
    socket.resume();
    await closed;
    expect(received).toMatch(/^HTTP\/1\.1 200/);
    expect(received).not.toContain("message_stop");
  }, 30_000);
});
