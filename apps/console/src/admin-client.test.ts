import { describe, expect, it } from "vitest";
import { AdminApiError } from "./admin-api-error";
import { createAdminClient } from "./admin-client";
import { createFormatter, formatCountdown, fromDateTimeLocal, toDateTimeLocal } from "./format";

interface Call {
  url: string;
  init: RequestInit | undefined;
}

function fakeFetch(status: number, body: unknown) {
  const calls: Call[] = [];
  const fetch = (input: string | URL | Request, init?: RequestInit) => {
    calls.push({ url: input instanceof Request ? input.url : input.toString(), init });
    const text = body === undefined ? "" : JSON.stringify(body);
    return Promise.resolve(
      new Response(status === 204 ? null : text, { status, statusText: status === 200 ? "OK" : "Error" }),
    );
  };
  return { calls, fetch };
}

describe("createAdminClient", () => {
  it("calls relative URLs with the session cookie and a JSON body", async () => {
    const { calls, fetch } = fakeFetch(200, { expiresAt: 123 });
    await expect(createAdminClient({ fetch }).signIn("secret-token")).resolves.toEqual({ expiresAt: 123 });
    expect(calls[0]?.url).toBe("/admin/session");
    expect(calls[0]?.init).toMatchObject({
      method: "POST",
      credentials: "same-origin",
      body: JSON.stringify({ token: "secret-token" }),
    });
  });

  it("unwraps lists and builds the series query", async () => {
    const { calls, fetch } = fakeFetch(200, { data: [{ id: 1 }] });
    const client = createAdminClient({ fetch });
    await expect(client.listGroups()).resolves.toEqual([{ id: 1 }]);
    await client.usageSeries({ from: 10, to: 20, step: "minute", groupBy: "model" });
    expect(calls[1]?.url).toBe("/admin/usage/series?from=10&to=20&step=minute&groupBy=model");
  });

  it("URL-encodes a model in the pricing paths and sends exactly the five prices", async () => {
    const { calls, fetch } = fakeFetch(200, { model: "x" });
    const client = createAdminClient({ fetch });
    const prices = { inputUsdPerMTok: 1, outputUsdPerMTok: 2, cacheReadUsdPerMTok: 0.1, cacheWrite5mUsdPerMTok: 1.25, cacheWrite1hUsdPerMTok: 2 };
    await client.setPrice("models/gemini-2.5-pro", prices);
    await client.deletePrice("a b");
    await client.updateApiKey(4, { limits: null });
    expect(calls.map((call) => [call.init?.method, call.url])).toEqual([
      ["PUT", "/admin/pricing/models%2Fgemini-2.5-pro"],
      ["DELETE", "/admin/pricing/a%20b"],
      ["PATCH", "/admin/api-keys/4"],
    ]);
    expect(calls[0]?.init?.body).toBe(JSON.stringify(prices));
    expect(calls[2]?.init?.body).toBe('{"limits":null}');
  });

  it("formats US dollars with the digits a small amount needs", () => {
    const format = createFormatter("en", "UTC");
    expect([format.usd(0), format.usd(0.0000543), format.usd(0.012774), format.usd(0.3), format.usd(12.345), format.usd(1234)]).toEqual([
      "$0.00",
      "$0.0000543",
      "$0.0128",
      "$0.30",
      "$12.35",
      "$1,234.00",
    ]);
    expect(createFormatter("zh-CN", "UTC").usd(3.75)).toBe("US$3.75");
  });

  it("resolves a 204 to nothing", async () => {
    const { fetch } = fakeFetch(204, undefined);
    await expect(createAdminClient({ fetch }).deleteGroup(3)).resolves.toBeUndefined();
  });

  it("rejects with the gateway's message and problems", async () => {
    const { fetch } = fakeFetch(400, {
      error: {
        type: "invalid_request",
        message: "name: must not be blank",
        problems: [{ field: "name", message: "must not be blank" }],
      },
    });
    const error: unknown = await createAdminClient({ fetch })
      .createGroup({ name: " ", platform: "claude" })
      .catch((caught: unknown) => caught);
    expect(AdminApiError.isInstance(error)).toBe(true);
    expect(error).toMatchObject({
      status: 400,
      type: "invalid_request",
      message: "name: must not be blank",
      problems: [{ field: "name", message: "must not be blank" }],
    });
  });

  it("says the status when the body is not the error shape, and when the gateway is unreachable", async () => {
    const { fetch } = fakeFetch(502, "bad gateway");
    await expect(createAdminClient({ fetch }).listAccounts()).rejects.toMatchObject({
      status: 502,
      message: "502 Error",
    });
    const unreachable = (() => Promise.reject(new TypeError("Failed to fetch"))) as typeof globalThis.fetch;
    await expect(createAdminClient({ fetch: unreachable }).listAccounts()).rejects.toMatchObject({
      status: 0,
      type: "network",
    });
  });
});

describe("format helpers", () => {
  it("count down to the second, rounding up", () => {
    expect(formatCountdown(0)).toBe("0:00");
    expect(formatCountdown(1)).toBe("0:01");
    expect(formatCountdown(61_000)).toBe("1:01");
    expect(formatCountdown(3_600_000)).toBe("1:00:00");
    expect(formatCountdown(90_061_000)).toBe("1d 1:01:01");
    expect(formatCountdown(-5)).toBe("0:00");
  });

  it("round-trip datetime-local values in the local time zone", () => {
    const at = new Date(2026, 4, 6, 7, 8).getTime();
    expect(toDateTimeLocal(at)).toBe("2026-05-06T07:08");
    expect(fromDateTimeLocal("2026-05-06T07:08")).toBe(at);
    expect(fromDateTimeLocal("")).toBeUndefined();
    expect(fromDateTimeLocal("nope")).toBeUndefined();
  });
});
