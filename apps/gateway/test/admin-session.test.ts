import { createHash } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ADMIN_TOKEN, backends, startTestGateway, type TestGateway } from "./harness";

interface Answer {
  status: number;
  headers: Headers;
  body: Record<string, unknown>;
}

/** Console sessions: the cookie from POST /admin/session, its expiry and revocation, and the Origin check. */
describe.each(backends)("admin sessions (%s)", (backend) => {
  let harness: TestGateway;
  let origin: string;

  beforeAll(async () => {
    harness = await startTestGateway({ backend, env: { ADMIN_SESSION_TTL: "30m" } });
    origin = harness.adminUrl;
  });
  afterAll(async () => harness?.close());

  const request = async (method: string, path: string, headers: Record<string, string> = {}, body?: unknown): Promise<Answer> => {
    const response = await fetch(`${harness.adminUrl}${path}`, {
      method,
      headers: { ...(body === undefined ? {} : { "content-type": "application/json" }), ...headers },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await response.text();
    return { status: response.status, headers: response.headers, body: (text ? JSON.parse(text) : {}) as Record<string, unknown> };
  };
  const signIn = async () => {
    const answer = await request("POST", "/admin/session", { origin }, { token: ADMIN_TOKEN });
    expect(answer.status).toBe(200);
    const setCookie = answer.headers.get("set-cookie") ?? "";
    const value = /^subrelay_session=([A-Za-z0-9_-]{43});/.exec(setCookie)?.[1];
    expect(value).toBeDefined();
    return { cookie: `subrelay_session=${value!}`, value: value!, setCookie, body: answer.body };
  };
  const groupNames = async () => (await harness.admin<{ data: Array<{ name: string }> }>("GET", "/admin/groups")).body.data.map((group) => group.name);

  it("signs in with the admin token: an HttpOnly, SameSite=Strict cookie whose digest alone is stored", async () => {
    const before = Date.now();
    const { cookie, value, setCookie, body } = await signIn();
    expect(setCookie).toBe(`${cookie}; HttpOnly; SameSite=Strict; Path=/; Max-Age=1800`);
    expect(body.expiresAt).toBeGreaterThanOrEqual(before + 1_800_000);
    expect(body.expiresAt).toBeLessThanOrEqual(Date.now() + 1_800_000);
    expect(JSON.stringify(body)).not.toContain(value);
    const rows = await harness.gateway.database.adminSessions.find(createHash("sha256").update(value).digest("hex"), Date.now());
    expect(rows).toBe(body.expiresAt);

    const check = await request("GET", "/admin/session", { cookie });
    expect(check).toMatchObject({ status: 200, body: { expiresAt: body.expiresAt } });
    const accounts = await request("GET", "/admin/accounts", { cookie });
    expect(accounts.status).toBe(200);
    expect(accounts.body).toMatchObject({ data: expect.any(Array) });
  });

  it("refuses a wrong token with a 401 counted by the login throttle, and a session check without a cookie", async () => {
    const wrong = await request("POST", "/admin/session", { origin }, { token: `${ADMIN_TOKEN}-not` });
    expect(wrong.status).toBe(401);
    expect(wrong.body).toMatchObject({ error: { message: "Invalid admin token." } });
    expect(wrong.headers.get("set-cookie")).toBeNull();
    expect((await request("GET", "/admin/session")).status).toBe(401);
    expect((await request("GET", "/admin/session", { cookie: "subrelay_session=not-a-session" })).status).toBe(401);
    expect((await request("GET", "/admin/accounts", { cookie: `subrelay_session=${"A".repeat(43)}` })).status).toBe(401);
  });

  it("signs out: the cookie is cleared and no longer works", async () => {
    const { cookie } = await signIn();
    const out = await request("DELETE", "/admin/session", { cookie, origin });
    expect(out.status).toBe(204);
    expect(out.headers.get("set-cookie")).toBe("subrelay_session=; Max-Age=0; Path=/; HttpOnly; SameSite=Strict");
    expect((await request("GET", "/admin/session", { cookie })).status).toBe(401);
    expect((await request("GET", "/admin/accounts", { cookie })).status).toBe(401);
  });

  it("refuses an expired session and deletes its row", async () => {
    const value = "E".repeat(43);
    const idHash = createHash("sha256").update(value).digest("hex");
    await harness.gateway.database.adminSessions.create(idHash, Date.now() - 1);
    const cookie = `subrelay_session=${value}`;
    expect((await request("GET", "/admin/accounts", { cookie })).status).toBe(401);
    expect((await request("GET", "/admin/session", { cookie })).status).toBe(401);
    expect(await harness.gateway.database.adminSessions.delete(idHash)).toBe(false);
  });

  it("refuses a cookie-authenticated change from another origin (or none), and writes nothing", async () => {
    const { cookie } = await signIn();
    for (const headers of [{ origin: "https://evil.example" }, {}, { origin: "null" }] as Array<Record<string, string>>) {
      const refused = await request("POST", "/admin/groups", { cookie, ...headers }, { name: "cross-site", platform: "claude" });
      expect(refused.status, JSON.stringify(headers)).toBe(403);
      expect(refused.body).toMatchObject({ error: { type: "forbidden", message: "Cross-site request refused." } });
    }
    expect(await groupNames()).not.toContain("cross-site");
    // Reads need no Origin.
    expect((await request("GET", "/admin/groups", { cookie })).status).toBe(200);
    // Nor does signing out from another origin work with the cookie.
    expect((await request("DELETE", "/admin/session", { cookie, origin: "https://evil.example" })).status).toBe(403);
    expect((await request("GET", "/admin/session", { cookie })).status).toBe(200);
  });

  it("takes a same-origin change with the cookie, and a Bearer change without any Origin", async () => {
    const { cookie } = await signIn();
    const same = await request("POST", "/admin/groups", { cookie, origin }, { name: "same-origin", platform: "claude" });
    expect(same.status).toBe(201);
    const bearer = await request("POST", "/admin/groups", { authorization: `Bearer ${ADMIN_TOKEN}` }, { name: "bearer", platform: "claude" });
    expect(bearer.status).toBe(201);
    expect(await groupNames()).toEqual(expect.arrayContaining(["same-origin", "bearer"]));
  });

  it("refuses a sign-in posted from another origin (login CSRF)", async () => {
    const refused = await request("POST", "/admin/session", { origin: "https://evil.example" }, { token: ADMIN_TOKEN });
    expect(refused.status).toBe(403);
    expect(refused.headers.get("set-cookie")).toBeNull();
  });
});

describe("admin sessions: the login throttle and allowed origins", () => {
  let harness: TestGateway;

  beforeAll(async () => {
    harness = await startTestGateway({ env: { ADMIN_LOGIN_BURST: "2", ADMIN_ALLOWED_ORIGINS: "https://ops.example.com" } });
  });
  afterAll(async () => harness?.close());

  const post = (path: string, headers: Record<string, string>, body: unknown) =>
    fetch(`${harness.adminUrl}${path}`, { method: "POST", headers: { "content-type": "application/json", ...headers }, body: JSON.stringify(body) });

  it("takes a change from an allowed origin", async () => {
    const signedIn = await post("/admin/session", { origin: "https://ops.example.com" }, { token: ADMIN_TOKEN });
    expect(signedIn.status).toBe(200);
    const cookie = signedIn.headers.get("set-cookie")!.split(";")[0]!;
    const created = await post("/admin/groups", { cookie, origin: "https://ops.example.com" }, { name: "allowed", platform: "claude" });
    expect(created.status).toBe(201);
    const other = await post("/admin/groups", { cookie, origin: "https://ops.example.org" }, { name: "not-allowed", platform: "claude" });
    expect(other.status).toBe(403);
  });

  it("counts wrong sign-in tokens with Bearer failures: then 429 with Retry-After, even for the right token", async () => {
    expect((await post("/admin/session", {}, { token: "wrong-1" })).status).toBe(401);
    const bearer = await fetch(`${harness.adminUrl}/admin/groups`, { headers: { authorization: "Bearer wrong-2" } });
    expect(bearer.status).toBe(401);
    const throttled = await post("/admin/session", {}, { token: ADMIN_TOKEN });
    expect(throttled.status).toBe(429);
    expect(Number(throttled.headers.get("retry-after"))).toBeGreaterThan(0);
    expect(throttled.headers.get("set-cookie")).toBeNull();
  });
});
