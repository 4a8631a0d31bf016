import { describe, expect, it } from "vitest";
import { maskCredentials, secretsOf } from "./mask-credentials";

describe("maskCredentials", () => {
  it.each([
    ["an Anthropic API key", "invalid x-api-key: sk-ant-api03-AbCdEfGhIjKlMnOpQrStUvWx-yz_0123456789"],
    ["an Anthropic OAuth token", "token sk-ant-oat01-AbCdEfGhIjKlMnOpQrStUvWx0123456789 expired"],
    ["an OpenAI project key", "Incorrect API key provided: sk-proj-AbCdEfGhIjKlMnOpQrStUvWx0123456789."],
    ["a subrelay key", "key sr-0123456789abcdefghijABCDEFGHIJ0123456789 refused"],
    ["a bearer token", "header Authorization: Bearer opaque.token-value_123"],
    ["a Google access token", "token ya29.a0AfB_byC-0123456789abcdefghij was refused"],
    ["a Google API key", "Consumer 'api_key:AIzaSyA-0123456789abcdefghijklmnopqrs' has been suspended."],
    ["a Google refresh token", "refresh 1//0gAbCdEfGhIjKlMnOpQrStUvWxYz0123456789"],
    ["a JWT", "token eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ1c2VyLTEyMyJ9.c2lnbmF0dXJlLWJ5dGVz"],
    ["an rt_ refresh token", "refresh_token rt_AbCdEfGhIjKlMnOpQrStUvWx0123456789"],
    ["a key in an echoed URL", "POST /v1beta/models/x:generateContent?alt=sse&key=plain-looking-value"],
  ])("masks %s", (_name, text) => {
    const masked = maskCredentials(text);
    expect(masked).toContain("[redacted]");
    expect(masked).not.toMatch(/AbCdEfGh|0123456789abcdefghij|opaque\.token|plain-looking|c2lnbmF0dXJl|AIzaSy/);
  });

  it("masks the account's own secrets whatever their shape, as sent, JSON-escaped and URL-encoded", () => {
    const secret = 'own/secret"value+1';
    const text = `a ${secret} b ${JSON.stringify(secret).slice(1, -1)} c ${encodeURIComponent(secret)}`;
    expect(maskCredentials(text, [secret])).toBe("a [redacted] b [redacted] c [redacted]");
  });

  it("masks token and key fields of a JSON body and keeps it valid JSON", () => {
    const body = JSON.stringify({ error: { message: "bad" }, access_token: "at-anything-1", refresh_token: "whatever", api_key: "k" });
    const masked = maskCredentials(body);
    expect(JSON.parse(masked)).toEqual({ error: { message: "bad" }, access_token: "[redacted]", refresh_token: "[redacted]", api_key: "[redacted]" });
  });

  it("leaves ordinary error text alone", () => {
    const text = '{"type":"error","error":{"type":"invalid_request_error","message":"messages.1.content: Input should be a valid list"}}';
    expect(maskCredentials(text, ["short", "tokens-that-do-not-occur"])).toBe(text);
  });

  it("finds an account's secrets among its credentials, not its other fields", () => {
    expect(secretsOf({ accessToken: "a", refreshToken: "r", expiresAt: 5, projectId: "p" }, "sent", undefined).sort()).toEqual(["a", "r", "sent"]);
    expect(secretsOf({ apiKey: "k" })).toEqual(["k"]);
  });
});
