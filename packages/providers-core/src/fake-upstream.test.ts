import { request } from "undici";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { FakeUpstream } from "./fake-upstream";
import { sseEvents } from "./sse-events";

let upstream: FakeUpstream;

beforeEach(async () => {
  upstream = await FakeUpstream.start();
});

afterEach(async () => {
  await upstream.close();
});

async function post(path: string, body: unknown, headers: Record<string, string> = {}) {
  const response = await request(`${upstream.url}${path}`, {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body: JSON.stringify(body),
  });
  return { status: response.statusCode, headers: response.headers, text: await response.body.text() };
}

describe("FakeUpstream", () => {
  it("listens on 127.0.0.1 and a random port", () => {
    expect(upstream.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
  });

  it("answers a JSON route and records the request with path, query, headers and body", async () => {
    upstream.on("POST", "/v1/messages", { status: 201, headers: { "x-extra": "1" }, json: { ok: true } });
    const response = await post("/v1/messages?beta=true&x=1", { model: "m" }, { "x-test": "yes" });
    expect(response.status).toBe(201);
    expect(response.headers["content-type"]).toBe("application/json");
    expect(response.headers["x-extra"]).toBe("1");
    expect(JSON.parse(response.text)).toEqual({ ok: true });
    const [recorded] = upstream.requests;
    expect(recorded!.method).toBe("POST");
    expect(recorded!.path).toBe("/v1/messages");
    expect(recorded!.url).toBe("/v1/messages?beta=true&x=1");
    expect(recorded!.query.get("beta")).toBe("true");
    expect(recorded!.headers["x-test"]).toBe("yes");
    expect(recorded!.json()).toEqual({ model: "m" });
    expect(recorded!.body).toBe('{"model":"m"}');
  });

  it("answers unmatched requests with a 404 JSON (method matters too)", async () => {
    upstream.on("GET", "/v1/models", { json: [] });
    const response = await post("/v1/models", {});
    expect(response.status).toBe(404);
    expect(JSON.parse(response.text)).toMatchObject({ error: { type: "not_found" } });
  });

  it("lets the latest persistent registration win, and matches RegExp paths", async () => {
    upstream.on("POST", /^\/v1\/.*$/, { json: { route: "regexp" } });
    expect(JSON.parse((await post("/v1/anything", {})).text)).toEqual({ route: "regexp" });
    upstream.on("POST", "/v1/anything", { json: { route: "later" } });
    expect(JSON.parse((await post("/v1/anything", {})).text)).toEqual({ route: "later" });
  });

  it("consumes enqueued replies in order before the persistent route", async () => {
    upstream.on("POST", "/token", { json: { n: "persistent" } });
    upstream.enqueue("POST", "/token", { json: { n: 1 } }, { status: 500, json: { n: 2 } });
    const first = await post("/token", {});
    const second = await post("/token", {});
    const third = await post("/token", {});
    expect([first.status, second.status, third.status]).toEqual([200, 500, 200]);
    expect([first.text, second.text, third.text].map((text) => JSON.parse(text) as unknown)).toEqual([
      { n: 1 },
      { n: 2 },
      { n: "persistent" },
    ]);
  });

  it("answers through a handler that sees the recorded request", async () => {
    upstream.on("POST", "/echo", async (recorded) => ({ json: { got: recorded.json<{ a: number }>().a } }));
    expect(JSON.parse((await post("/echo", { a: 42 })).text)).toEqual({ got: 42 });
  });

  it("answers 500 when a handler throws", async () => {
    upstream.on("POST", "/boom", () => {
      throw new Error("boom");
    });
    expect((await post("/boom", {})).status).toBe(500);
  });

  it("sends a raw body with the given headers", async () => {
    upstream.on("POST", "/raw", { status: 502, headers: { "content-type": "text/html" }, body: "<html>bad gateway</html>" });
    const response = await post("/raw", {});
    expect(response.status).toBe(502);
    expect(response.headers["content-type"]).toBe("text/html");
    expect(response.text).toBe("<html>bad gateway</html>");
  });

  it("streams SSE chunks, raw strings as written and events serialised", async () => {
    upstream.on("POST", "/stream", {
      sse: ['event: a\ndata: {"x":', "1}\n\n", { event: "b", data: "two" }],
      chunkDelayMs: 1,
    });
    const response = await post("/stream", {});
    expect(response.status).toBe(200);
    expect(response.headers["content-type"]).toBe("text/event-stream");
    expect(sseEvents(response.text)).toEqual([
      { event: "a", data: '{"x":1}' },
      { event: "b", data: "two" },
    ]);
  });

  it("holds an SSE stream until waitFor settles, headers already sent", async () => {
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    upstream.on("POST", "/held", { sse: ["data: late\n\n"], waitFor: gate });
    const response = await request(`${upstream.url}/held`, { method: "POST", body: "{}" });
    expect(response.statusCode).toBe(200);
    const text = response.body.text();
    release();
    expect(await text).toBe("data: late\n\n");
  });

  it("cuts an SSE stream after dropAfter chunks", async () => {
    upstream.on("POST", "/cut", { sse: ["data: 1\n\n", "data: 2\n\n", "data: 3\n\n"], dropAfter: 2 });
    const response = await request(`${upstream.url}/cut`, { method: "POST", body: "{}" });
    const received: string[] = [];
    await expect(
      (async () => {
        for await (const chunk of response.body) received.push((chunk as Buffer).toString("utf8"));
      })(),
    ).rejects.toThrow();
    expect(received.join("")).toBe("data: 1\n\ndata: 2\n\n");
  });

  it("drops a connection without an answer", async () => {
    upstream.on("POST", "/drop", { drop: true });
    await expect(post("/drop", {})).rejects.toThrow();
    expect(upstream.requestsTo("/drop")).toHaveLength(1);
  });

  it("hangs until close() destroys the connection", async () => {
    upstream.on("POST", "/hang", { hang: true });
    const pending = post("/hang", {});
    await upstream.waitForRequests(1, "/hang");
    await upstream.close();
    await expect(pending).rejects.toThrow();
    upstream = await FakeUpstream.start();
  });

  it("waits for requests by event, filtered by path", async () => {
    upstream.on("POST", /.*/, { json: {} });
    const waiting = upstream.waitForRequests(2, "/b");
    await post("/a", {});
    await post("/b", {});
    await post("/b", { second: true });
    const requests = await waiting;
    expect(requests.map((recorded) => recorded.path)).toEqual(["/b", "/b"]);
    expect(await upstream.waitForRequests(3)).toHaveLength(3);
    expect(upstream.requestsTo(/^\/[ab]$/)).toHaveLength(3);
  });

  it("reset() forgets requests, routes and queued replies", async () => {
    upstream.on("POST", "/x", { json: {} }).enqueue("POST", "/x", { status: 500 });
    await post("/x", {});
    upstream.reset();
    expect(upstream.requests).toEqual([]);
    expect((await post("/x", {})).status).toBe(404);
  });

  it("delays a reply by delayMs", async () => {
    upstream.on("POST", "/slow", { delayMs: 20, json: { slow: true } });
    const started = performance.now();
    const response = await post("/slow", {});
    expect(JSON.parse(response.text)).toEqual({ slow: true });
    expect(performance.now() - started).toBeGreaterThanOrEqual(15);
  });
});
