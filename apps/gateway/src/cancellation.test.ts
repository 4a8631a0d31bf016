import { once } from "node:events";
import { createServer, type IncomingMessage } from "node:http";
import type { AddressInfo } from "node:net";
import { Agent } from "undici";
import { describe, expect, it } from "vitest";
import { Cancellation } from "./cancellation";

describe("Cancellation", () => {
  it("fires each listener once with the reason, and nothing after", () => {
    const cancellation = new Cancellation();
    const seen: unknown[] = [];
    cancellation.onAbort((reason) => seen.push(["first", reason]));
    cancellation.onAbort((reason) => seen.push(["second", reason]));
    cancellation.abort("gone");
    cancellation.abort("again");
    expect(seen).toEqual([
      ["first", "gone"],
      ["second", "gone"],
    ]);
    expect(cancellation).toMatchObject({ aborted: true, reason: "gone" });
  });

  it("calls a listener added after the abort at once, and not one that unsubscribed", () => {
    const cancellation = new Cancellation();
    const seen: string[] = [];
    const stop = cancellation.onAbort(() => seen.push("unsubscribed"));
    stop();
    cancellation.abort();
    cancellation.onAbort(() => seen.push("late"));
    expect(seen).toEqual(["late"]);
    expect(cancellation.reason).toBeInstanceOf(DOMException);
  });

  it("propagates to another until told to stop", () => {
    const client = new Cancellation();
    const upstream = new Cancellation();
    const stop = client.propagateTo(upstream);
    stop();
    client.abort();
    expect(upstream.aborted).toBe(false);

    const again = new Cancellation();
    again.propagateTo(upstream);
    again.abort("client left");
    expect(upstream).toMatchObject({ aborted: true, reason: "client left" });
  });

  it("gives a standard AbortSignal that follows it, made before or after the abort", () => {
    const before = new Cancellation();
    const signal = before.signal;
    expect(signal.aborted).toBe(false);
    before.abort("x");
    expect(signal).toMatchObject({ aborted: true, reason: "x" });

    const after = new Cancellation();
    after.abort("y");
    expect(after.signal).toMatchObject({ aborted: true, reason: "y" });
    expect(after.signal).toBe(after.signal);
  });

  it("aborts an undici request it is given as the signal", async () => {
    const arrived: IncomingMessage[] = [];
    // An upstream that never answers: only the cancellation can end the request.
    const server = createServer((request) => arrived.push(request));
    server.listen(0, "127.0.0.1");
    await once(server, "listening");
    const agent = new Agent();
    try {
      const cancellation = new Cancellation();
      const request = agent.request({
        origin: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
        path: "/",
        method: "GET",
        signal: cancellation,
      });
      await once(server, "request");
      cancellation.abort(new Error("client left"));
      await expect(request).rejects.toThrow("client left");
      // The connection to the upstream is closed, not left hanging.
      await once(arrived[0]!.socket, "close");
    } finally {
      await agent.close();
      server.close();
    }
  });
});
