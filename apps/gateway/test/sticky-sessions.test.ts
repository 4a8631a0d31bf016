import { afterEach, describe, expect, it } from "vitest";
import { claudeReply, geminiReply, ManualClock, openaiChatReply, openaiResponsesReply, startTestGateway, type TestGateway } from "./harness";

const MODEL = "claude-sonnet-4-5";
const SYSTEM = [{ type: "text", text: "You are a careful assistant.", cache_control: { type: "ephemeral" } }];

/**
 * Sticky sessions end to end, on both stores: `STICKY_TTL` (a binding lasts that long after its last use) and
 * the opt-in `STICKY_FROM_CONTENT` (a session id derived from the system prompt and the first user turn when
 * the client sends none). Two accounts X (preferred) and Y; once a session is bound to X, X is made the worse
 * choice, so a request still served by X was sent there by its binding.
 */
for (const backend of ["embedded", "postgres-redis"] as const) {
  describe(`sticky sessions (${backend})`, () => {
    let harness: TestGateway | undefined;
    afterEach(async () => {
      await harness?.close();
      harness = undefined;
    });

    async function twoAccounts(env: Record<string, string>, clock?: ManualClock) {
      const started = await startTestGateway({ backend, env, overrides: clock ? { now: clock.now } : {} });
      harness = started;
      const base = (prefix: string) => `${started.upstream.url}/${prefix}`;
      const seeded = await started.seed({
        platform: "claude",
        accounts: [
          { name: "x", type: "apikey", priority: 10, credentials: { apiKey: "sk-ant-sticky-x" }, baseUrl: base("sticky-x") },
          { name: "y", type: "apikey", priority: 20, credentials: { apiKey: "sk-ant-sticky-y" }, baseUrl: base("sticky-y") },
        ],
      });
      started.upstream.on("POST", "/sticky-x/v1/messages", claudeReply).on("POST", "/sticky-y/v1/messages", claudeReply);
      const servedBy = async (headers: Record<string, string>, body: Record<string, unknown>): Promise<"x" | "y"> => {
        const before = started.upstream.requestsTo("/sticky-x/v1/messages").length;
        const response = await fetch(`${started.url}/v1/messages`, {
          method: "POST",
          headers: { "x-api-key": seeded.key, "content-type": "application/json", "anthropic-version": "2023-06-01", ...headers },
          body: JSON.stringify({ model: MODEL, max_tokens: 8, ...body }),
        });
        expect(response.status).toBe(200);
        return started.upstream.requestsTo("/sticky-x/v1/messages").length > before ? "x" : "y";
      };
      const demoteX = async () => {
        expect((await started.admin("PATCH", `/admin/accounts/${seeded.accountIds[0]}`, { priority: 30 })).status).toBe(200);
      };
      /** The Redis keys holding the group's bindings (empty on the embedded store). */
      const redisKeys = () => {
        const tag = `{${started.gateway.config.redisPrefix}sticky:${seeded.groupId}}`;
        return [`${tag}:bindings`, `${tag}:expiries`];
      };
      return { harness: started, seeded, servedBy, demoteX, redisKeys };
    }

    it("STICKY_TTL=2s: a binding lasts 2 s after its last use, and every use renews it", async () => {
      const clock = new ManualClock(Date.UTC(2030, 0, 1));
      const { harness, servedBy, demoteX, redisKeys } = await twoAccounts({ STICKY_TTL: "2s" }, clock);
      const session = { "x-session-id": "conversation-ttl" };
      const turn = { messages: [{ role: "user", content: "hi" }] };
      expect(await servedBy(session, turn)).toBe("x");
      const redis = harness.gateway.redis;
      if (redis) {
        // Redis expires the group's keys in real time: the TTL reaches them, and a use renews it.
        for (const key of redisKeys()) {
          const ttl = await redis.pttl(key);
          expect(ttl).toBeGreaterThan(0);
          expect(ttl).toBeLessThanOrEqual(2_000);
          expect(await redis.pexpire(key, 500)).toBe(1);
        }
      }
      await demoteX();

      clock.advance(1_500);
      expect(await servedBy(session, turn)).toBe("x");
      if (redis) for (const key of redisKeys()) expect(await redis.pttl(key)).toBeGreaterThan(1_000);
      // 3 s after the binding was made, 1.5 s after its last use: still bound.
      clock.advance(1_500);
      expect(await servedBy(session, turn)).toBe("x");
      // More than 2 s unused: the binding is gone and the session goes to the better account.
      clock.advance(2_001);
      expect(await servedBy(session, turn)).toBe("y");
      expect(await servedBy(session, turn)).toBe("y");
    });

    it("STICKY_FROM_CONTENT=true: requests without a session id that share the system prompt and first user turn stay on one account", async () => {
      const { harness, servedBy, demoteX, redisKeys } = await twoAccounts({ STICKY_FROM_CONTENT: "true" });
      const first = { system: SYSTEM, messages: [{ role: "user", content: [{ type: "text", text: "Fix the bug in main.ts", cache_control: { type: "ephemeral" } }] }] };
      expect(await servedBy({}, first)).toBe("x");
      await demoteX();
      // The conversation's next turn: the first user turn is the same (Claude Code moves its cache marker on).
      const next = {
        system: SYSTEM,
        messages: [
          { role: "user", content: [{ type: "text", text: "Fix the bug in main.ts" }] },
          { role: "assistant", content: [{ type: "text", text: "Done." }] },
          { role: "user", content: [{ type: "text", text: "Thanks", cache_control: { type: "ephemeral" } }] },
        ],
      };
      expect(await servedBy({}, next)).toBe("x");
      // Another conversation (another first turn) is bound on its own, to the account that is better now.
      const other = { system: SYSTEM, messages: [{ role: "user", content: "Write a README" }] };
      expect(await servedBy({}, other)).toBe("y");
      expect(await servedBy({}, other)).toBe("y");
      expect(await servedBy({}, next)).toBe("x");
      // Another system prompt with the same first turn is another conversation.
      expect(await servedBy({}, { ...first, system: "You are terse." })).toBe("y");
      const redis = harness.gateway.redis;
      if (redis) expect(await redis.hlen(redisKeys()[0]!)).toBe(3);
      // A session id the client sends still wins over the content.
      expect(await servedBy({ "x-session-id": "conversation-header" }, first)).toBe("y");
    });

    it("STICKY_FROM_CONTENT=true: a malformed body is answered without a 5xx, and one without a user turn binds nothing", async () => {
      const { harness, seeded, redisKeys } = await twoAccounts({ STICKY_FROM_CONTENT: "true" });
      const bodies: unknown[] = [
        { model: MODEL, max_tokens: 8, messages: "hi" },
        { model: MODEL, max_tokens: 8, messages: [null, 3, "x", []] },
        { model: MODEL, max_tokens: 8, system: 42, messages: [{ role: "user" }] },
        { model: MODEL, max_tokens: 8, system: { deep: [[[{}]]] }, messages: [{ role: "user", content: { cache_control: 1 } }] },
        { model: MODEL, max_tokens: 8, messages: [{ role: "assistant", content: "no user turn" }] },
      ];
      for (const body of bodies) {
        const response = await fetch(`${harness.url}/v1/messages`, {
          method: "POST",
          headers: { "x-api-key": seeded.key, "content-type": "application/json", "anthropic-version": "2023-06-01" },
          body: JSON.stringify(body),
        });
        expect(response.status, JSON.stringify(body)).toBeLessThan(500);
        await response.arrayBuffer();
      }
      const redis = harness.gateway.redis;
      // Bodies 3 and 4 have a user turn (an odd one): two bindings; the others none.
      if (redis) expect(await redis.hlen(redisKeys()[0]!)).toBe(2);
    });

    // The other dialects' openings: [first turn, a later turn of the same conversation, another conversation].
    const dialectCases = [
      {
        name: "OpenAI chat",
        platform: "openai",
        path: "/v1/chat/completions",
        reply: openaiChatReply,
        turns: [
          { model: "gpt-5", messages: [{ role: "system", content: "Be careful." }, { role: "user", content: "Fix it" }] },
          {
            model: "gpt-5",
            messages: [
              { role: "system", content: "Be careful." },
              { role: "user", content: [{ type: "text", text: "Fix it" }] },
              { role: "assistant", content: "Done." },
              { role: "user", content: "Thanks" },
            ],
          },
          { model: "gpt-5", messages: [{ role: "system", content: "Be careful." }, { role: "user", content: "Write docs" }] },
        ],
      },
      {
        name: "OpenAI Responses",
        platform: "openai",
        path: "/v1/responses",
        reply: openaiResponsesReply,
        turns: [
          { model: "gpt-5", instructions: "Be careful.", input: "Fix it" },
          {
            model: "gpt-5",
            instructions: "Be careful.",
            input: [
              { type: "message", role: "user", content: [{ type: "input_text", text: "Fix it" }] },
              { type: "message", role: "assistant", content: [{ type: "output_text", text: "Done." }] },
              { role: "user", content: "Thanks" },
            ],
          },
          { model: "gpt-5", instructions: "Be careful.", input: "Write docs" },
        ],
      },
      {
        name: "Gemini",
        platform: "gemini",
        path: "/v1beta/models/gemini-2.5-flash:generateContent",
        reply: geminiReply,
        turns: [
          { systemInstruction: { parts: [{ text: "Be careful." }] }, contents: [{ role: "user", parts: [{ text: "Fix it" }] }] },
          {
            systemInstruction: { parts: [{ text: "Be careful." }] },
            contents: [
              { role: "user", parts: [{ text: "Fix it" }] },
              { role: "model", parts: [{ text: "Done." }] },
              { role: "user", parts: [{ text: "Thanks" }] },
            ],
          },
          { systemInstruction: { parts: [{ text: "Be careful." }] }, contents: [{ role: "user", parts: [{ text: "Write docs" }] }] },
        ],
      },
    ] as const;

    for (const dialect of dialectCases) {
      it(`STICKY_FROM_CONTENT=true, ${dialect.name}: a later turn stays on the conversation's account, another conversation is bound apart`, async () => {
        const started = await startTestGateway({ backend, env: { STICKY_FROM_CONTENT: "true" } });
        harness = started;
        const seeded = await started.seed({
          platform: dialect.platform,
          accounts: [
            { name: "x", type: "apikey", priority: 10, credentials: { apiKey: "sticky-key-x" }, baseUrl: `${started.upstream.url}/sticky-x` },
            { name: "y", type: "apikey", priority: 20, credentials: { apiKey: "sticky-key-y" }, baseUrl: `${started.upstream.url}/sticky-y` },
          ],
        });
        started.upstream.on("POST", `/sticky-x${dialect.path}`, dialect.reply).on("POST", `/sticky-y${dialect.path}`, dialect.reply);
        const headers: Record<string, string> =
          dialect.platform === "gemini" ? { "x-goog-api-key": seeded.key } : { authorization: `Bearer ${seeded.key}` };
        const servedBy = async (body: unknown): Promise<"x" | "y"> => {
          const before = started.upstream.requestsTo(`/sticky-x${dialect.path}`).length;
          const response = await fetch(`${started.url}${dialect.path}`, {
            method: "POST",
            headers: { "content-type": "application/json", ...headers },
            body: JSON.stringify(body),
          });
          expect(response.status).toBe(200);
          await response.arrayBuffer();
          return started.upstream.requestsTo(`/sticky-x${dialect.path}`).length > before ? "x" : "y";
        };
        const [first, later, other] = dialect.turns;
        expect(await servedBy(first)).toBe("x");
        expect((await started.admin("PATCH", `/admin/accounts/${seeded.accountIds[0]}`, { priority: 30 })).status).toBe(200);
        expect(await servedBy(later)).toBe("x");
        expect(await servedBy(other)).toBe("y");
        expect(await servedBy(later)).toBe("x");
        const redis = started.gateway.redis;
        if (redis) expect(await redis.hlen(`{${started.gateway.config.redisPrefix}sticky:${seeded.groupId}}:bindings`)).toBe(2);
      });
    }

    it("STICKY_FROM_CONTENT is off by default: without a session id nothing is bound", async () => {
      const { harness, servedBy, demoteX, redisKeys } = await twoAccounts({});
      const first = { system: SYSTEM, messages: [{ role: "user", content: "Fix the bug in main.ts" }] };
      expect(await servedBy({}, first)).toBe("x");
      await demoteX();
      expect(await servedBy({}, first)).toBe("y");
      const redis = harness.gateway.redis;
      if (redis) for (const key of redisKeys()) expect(await redis.exists(key)).toBe(0);
    });
  });
}
