import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { LoginThrottle } from "../src/login-throttle";
import { ADMIN_TOKEN, startTestGateway, type TestGateway } from "./harness";

/** Failed admin logins are throttled per client address, logged with the address, never with the token. */
describe("admin login throttle", () => {
  let harness: TestGateway;
  let clock = Date.now();

  beforeAll(async () => {
    harness = await startTestGateway({
      env: { ADMIN_LOGIN_BURST: "3", ADMIN_LOGIN_REFILL: "60s" },
      overrides: { now: () => clock },
    });
  });
  afterAll(async () => harness?.close());

  const login = async (token: string) => {
    const response = await fetch(`${harness.url}/admin/groups`, { headers: { authorization: `Bearer ${token}` } });
    return { status: response.status, retryAfter: response.headers.get("retry-after"), body: (await response.json()) as Record<string, unknown> };
  };

  it("refuses an address with 429 and Retry-After after its burst of failures, the right token included, until it refills", async () => {
    const warn = vi.spyOn(harness.gateway.app.log, "warn");
    const wrong = "wrong-token-that-must-never-be-logged-0123456789";
    for (let attempt = 0; attempt < 3; attempt++) expect((await login(wrong)).status).toBe(401);

    const throttled = await login(wrong);
    expect(throttled.status).toBe(429);
    expect(Number(throttled.retryAfter)).toBeGreaterThanOrEqual(1);
    expect(Number(throttled.retryAfter)).toBeLessThanOrEqual(60);
    expect(throttled.body).toMatchObject({ error: { message: expect.stringContaining("Too many failed admin logins") } });
    // Locked out: the right token does not get through either (else the lockout would still answer guesses).
    expect((await login(ADMIN_TOKEN)).status).toBe(429);

    const failures = warn.mock.calls.filter(([, message]) => typeof message === "string" && message.startsWith("admin login failed"));
    expect(failures).toHaveLength(3);
    expect(failures[0]![0]).toMatchObject({ clientAddress: expect.stringMatching(/127\.0\.0\.1/), path: "/admin/groups" });
    expect(failures[2]![1]).toBe("admin login failed; address throttled");
    expect(JSON.stringify(warn.mock.calls)).not.toContain(wrong);
    warn.mockRestore();

    clock += 60_000;
    expect((await login(ADMIN_TOKEN)).status).toBe(200);
    // One attempt refilled: one more failure locks the address out again.
    expect((await login(wrong)).status).toBe(401);
    expect((await login(wrong)).status).toBe(429);
  });

  it("keeps its map of addresses bounded", () => {
    const throttle = new LoginThrottle({ burst: 1, refillMs: 1000, maxEntries: 100, now: () => 0 });
    for (let index = 0; index < 5000; index++) expect(throttle.fail(`10.0.${index >> 8}.${index & 255}`)).toBe(true);
    expect(throttle.size).toBe(100);
    expect(throttle.retryAfterSeconds("10.0.19.135")).toBe(1); // the last (4999th) address: still locked out
    expect(throttle.retryAfterSeconds("10.0.0.0")).toBe(0); // the first: evicted
  });
});
