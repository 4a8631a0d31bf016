import { describe, expect, it } from "vitest";
import { forwardableHeaders, headerValue, isBlockedHeader, mergeCommaList, parseRetryAfter, returnableHeaders, withQuery } from "./headers";

describe("forwardableHeaders", () => {
  const incoming = {
    authorization: "Bearer client-secret",
    "x-api-key": "sk-client",
    "x-goog-api-key": "AIza-client",
    cookie: "session=1",
    "proxy-authorization": "Basic abc",
    "proxy-connection": "keep-alive",
    connection: "keep-alive",
    "keep-alive": "timeout=5",
    te: "trailers",
    trailer: "x",
    "transfer-encoding": "chunked",
    upgrade: "h2c",
    host: "gateway.local",
    "content-length": "12",
    "anthropic-version": "2023-06-01",
    "anthropic-beta": ["a", "b"],
    "x-stainless-lang": "js",
    "x-stainless-os": "Linux",
    "user-agent": "client/1.0",
    "x-unlisted": "no",
    "x-absent": undefined,
  };

  it("keeps only allowed headers, exact names and prefixes, joining repeated values", () => {
    expect(forwardableHeaders(incoming, ["anthropic-version", "anthropic-beta", "x-stainless-*", "User-Agent", "x-absent"])).toEqual({
      "anthropic-version": "2023-06-01",
      "anthropic-beta": "a, b",
      "x-stainless-lang": "js",
      "x-stainless-os": "Linux",
      "user-agent": "client/1.0",
    });
  });

  it("applies each allow list as its own when lists are reused across calls", () => {
    const anthropic = ["anthropic-*"];
    const stainless = ["x-stainless-os"];
    for (let round = 0; round < 2; round++) {
      expect(Object.keys(forwardableHeaders(incoming, anthropic))).toEqual(["anthropic-version", "anthropic-beta"]);
      expect(forwardableHeaders(incoming, stainless)).toEqual({ "x-stainless-os": "Linux" });
      expect(forwardableHeaders({ "Anthropic-Version": "2024-01-01" }, anthropic)).toEqual({ "anthropic-version": "2024-01-01" });
    }
  });

  it("never forwards auth or hop-by-hop headers, even when allowed", () => {
    const everything = Object.keys(incoming);
    const forwarded = forwardableHeaders(incoming, everything);
    for (const name of [
      "authorization",
      "x-api-key",
      "x-goog-api-key",
      "cookie",
      "proxy-authorization",
      "proxy-connection",
      "connection",
      "keep-alive",
      "te",
      "trailer",
      "transfer-encoding",
      "upgrade",
      "host",
      "content-length",
    ]) {
      expect(forwarded, name).not.toHaveProperty(name);
      expect(isBlockedHeader(name.toUpperCase())).toBe(true);
    }
    expect(forwarded["x-unlisted"]).toBe("no");
    expect(forwardableHeaders(incoming, ["*"])).toEqual(forwarded);
  });
});

describe("returnableHeaders", () => {
  it("returns only allowed headers, never cookies, hop-by-hop headers or body framing even when allowed", () => {
    const upstream = {
      "request-id": "req_1",
      "X-Ratelimit-Remaining-Requests": "10",
      "set-cookie": ["a=1", "b=2"],
      connection: "keep-alive",
      "transfer-encoding": "chunked",
      "content-length": "12",
      "content-encoding": "gzip",
      "proxy-authenticate": "Basic",
      "openai-organization": "org-pooled",
    };
    const allowAll = ["request-id", "x-ratelimit-*", "set-cookie", "connection", "transfer-encoding", "content-length", "content-encoding", "proxy-*"];
    expect(returnableHeaders(upstream, allowAll)).toEqual({ "request-id": "req_1", "x-ratelimit-remaining-requests": "10" });
  });
});

describe("withQuery", () => {
  it("appends encoded parameters after any query the URL has", () => {
    expect(withQuery("https://api.example/v1/messages", { beta: "true" })).toBe("https://api.example/v1/messages?beta=true");
    expect(withQuery("https://api.example/x?alt=sse", { a: "b c&" })).toBe("https://api.example/x?alt=sse&a=b+c%26");
    expect(withQuery("https://api.example/x", {})).toBe("https://api.example/x");
    expect(withQuery("https://api.example/x", undefined)).toBe("https://api.example/x");
  });
});

describe("mergeCommaList", () => {
  it("merges, trims and dedupes in first-seen order", () => {
    expect(mergeCommaList("oauth-2025-04-20", " a , b,,", ["b, c", "oauth-2025-04-20"], undefined)).toBe(
      "oauth-2025-04-20,a,b,c",
    );
  });

  it("is undefined when nothing is left", () => {
    expect(mergeCommaList(undefined, "", " , ", [])).toBeUndefined();
    expect(mergeCommaList()).toBeUndefined();
  });
});

describe("parseRetryAfter", () => {
  const now = Date.UTC(2025, 0, 1, 12, 0, 0);

  it("reads delay-seconds, decimals included", () => {
    expect(parseRetryAfter("30", now)).toBe(now + 30_000);
    expect(parseRetryAfter(" 0 ", now)).toBe(now);
    expect(parseRetryAfter("1.5", now)).toBe(now + 1500);
    expect(parseRetryAfter(["7", "9"], now)).toBe(now + 7000);
  });

  it("reads an HTTP date, a past one giving now", () => {
    expect(parseRetryAfter("Wed, 01 Jan 2025 12:01:00 GMT", now)).toBe(now + 60_000);
    expect(parseRetryAfter("Wed, 01 Jan 2025 11:00:00 GMT", now)).toBe(now);
  });

  it("is undefined for absent or unreadable values", () => {
    for (const value of [undefined, "", "soon", "-1", "1e3", "2025-13-45", []]) {
      expect(parseRetryAfter(value, now), String(value)).toBeUndefined();
    }
  });
});

describe("headerValue", () => {
  it("gives the first value, case-insensitively by name", () => {
    expect(headerValue({ "retry-after": ["1", "2"] }, "Retry-After")).toBe("1");
    expect(headerValue({ a: "x" }, "b")).toBeUndefined();
  });
});
