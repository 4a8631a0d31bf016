import Anthropic from "@anthropic-ai/sdk";
import { GoogleGenAI } from "@google/genai";
import OpenAI from "openai";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  backends,
  claudeReply,
  geminiReply,
  jsonFixture,
  openaiChatReply,
  startTestGateway,
  type Seeded,
  type TestGateway,
} from "./harness";

const SONNET_DATED = "claude-sonnet-4-5-20250929";
const HAIKU_DATED = "claude-haiku-4-5-20251001";
const OPUS_DATED = "claude-opus-4-1-20250805";

/**
 * Model mapping end to end (issue 15 item 4): an account's `modelMap` renames the model the upstream is sent
 * and the answer is renamed back (JSON and stream); the `models` allow-list accepts mapped names and the
 * platform's aliases; a group's `defaultModel` serves requests naming no model the group serves; the model
 * lists of all three dialects show what the group can serve.
 */
describe.each(backends)("model mapping (%s)", (backend) => {
  let harness: TestGateway;
  let claude: Seeded;
  let openai: Seeded;
  let gemini: Seeded;

  beforeAll(async () => {
    harness = await startTestGateway({ backend });
    const base = (prefix: string) => `${harness.upstream.url}/${prefix}`;
    harness.upstream
      .on("POST", "/mm-claude/v1/messages", claudeReply)
      .on("POST", "/mm-openai/v1/chat/completions", openaiChatReply)
      .on("GET", "/mm-openai/v1/responses/resp_stored", { json: jsonFixture("openai", "response.json") })
      .on("POST", /^\/mm-gemini\/v1beta\/models\/[^/]+:(generateContent|streamGenerateContent)$/, geminiReply);
    claude = await harness.seed({
      platform: "claude",
      defaultModel: "claude-haiku-4-5",
      accounts: [
        {
          type: "apikey",
          credentials: { apiKey: "sk-ant-mapped" },
          baseUrl: base("mm-claude"),
          // The dated ids only: the undated names are accepted through the map and Claude's aliases.
          models: [SONNET_DATED, HAIKU_DATED, OPUS_DATED],
          modelMap: { "claude-sonnet-4-5": SONNET_DATED, "sonnet-*": SONNET_DATED },
        },
      ],
    });
    openai = await harness.seed({
      platform: "openai",
      defaultModel: "house-model",
      accounts: [
        {
          type: "apikey",
          credentials: { apiKey: "sk-openai-mapped" },
          baseUrl: base("mm-openai"),
          models: ["gpt-4.1-2025-04-14"],
          modelMap: { "house-model": "gpt-4.1-2025-04-14" },
        },
      ],
    });
    gemini = await harness.seed({
      platform: "gemini",
      accounts: [{ type: "apikey", credentials: { apiKey: "AIza-mapped" }, baseUrl: base("mm-gemini"), modelMap: { fast: "gemini-2.5-flash" } }],
    });
  });
  afterAll(async () => harness?.close());

  const lastBody = (path: string) => harness.upstream.requestsTo(path).at(-1)!.json<{ model?: string }>();
  const anthropic = () => new Anthropic({ apiKey: claude.key, baseURL: harness.url, maxRetries: 0 });
  const ask = { max_tokens: 8, messages: [{ role: "user" as const, content: "hi" }] };

  it("sends the mapped name upstream and answers with the client's, in JSON and in the stream", async () => {
    const message = await anthropic().messages.create({ model: "claude-sonnet-4-5", ...ask });
    expect(lastBody("/mm-claude/v1/messages").model).toBe(SONNET_DATED);
    // The fixture answers as claude-opus-4-1-20250805: renamed to what the client asked for.
    expect(message.model).toBe("claude-sonnet-4-5");
    expect(message.content.length).toBeGreaterThan(0);

    const streamed = await anthropic().messages.stream({ model: "claude-sonnet-4-5", ...ask }).finalMessage();
    expect(lastBody("/mm-claude/v1/messages")).toMatchObject({ model: SONNET_DATED, stream: true });
    expect(streamed.model).toBe("claude-sonnet-4-5");
    expect(streamed.usage.output_tokens).toBeGreaterThan(0);

    // On the wire: no event names the dated id.
    const raw = await fetch(`${harness.url}/v1/messages`, {
      method: "POST",
      headers: { "x-api-key": claude.key, "anthropic-version": "2023-06-01", "content-type": "application/json" },
      body: JSON.stringify({ model: "sonnet-latest", stream: true, ...ask }),
    });
    const text = await raw.text();
    expect(raw.status).toBe(200);
    expect(lastBody("/mm-claude/v1/messages").model).toBe(SONNET_DATED);
    expect(text).toContain('"model":"sonnet-latest"');
    expect(text).not.toContain(SONNET_DATED);
    expect(text).toContain("event: message_stop");
  });

  it("accepts a documented alias of a listed dated id, sent upstream as the client named it", async () => {
    const message = await anthropic().messages.create({ model: "claude-opus-4-1", ...ask });
    expect(lastBody("/mm-claude/v1/messages").model).toBe("claude-opus-4-1");
    // Not mapped: the answer is the upstream's own.
    expect(message.model).toBe(OPUS_DATED);
  });

  it("gives a request naming no model the group serves the group's default model", async () => {
    const message = await anthropic().messages.create({ model: "claude-3-opus-20240229", ...ask });
    expect(message.type).toBe("message");
    expect(lastBody("/mm-claude/v1/messages").model).toBe("claude-haiku-4-5");

    const unnamed = await fetch(`${harness.url}/v1/messages`, {
      method: "POST",
      headers: { "x-api-key": claude.key, "anthropic-version": "2023-06-01", "content-type": "application/json" },
      body: JSON.stringify(ask),
    });
    expect(unnamed.status).toBe(200);
    expect(lastBody("/mm-claude/v1/messages").model).toBe("claude-haiku-4-5");

    // The default model goes through the account's map like any name: the client sees the default's name.
    const client = new OpenAI({ apiKey: openai.key, baseURL: `${harness.url}/v1`, maxRetries: 0 });
    const chat = await client.chat.completions.create({ model: "gpt-3.5-turbo", messages: [{ role: "user", content: "hi" }] });
    expect(lastBody("/mm-openai/v1/chat/completions").model).toBe("gpt-4.1-2025-04-14");
    expect(chat.model).toBe("house-model");
  });

  it("keeps retrievals by id, which name no model, away from the default model", async () => {
    const response = await fetch(`${harness.url}/v1/responses/resp_stored`, { headers: { authorization: `Bearer ${openai.key}` } });
    expect(response.status).toBe(200);
    // Had the default applied, its map would have renamed the stored response's model to "house-model".
    expect(((await response.json()) as { model: string }).model).toBe("gpt-4.1-2025-04-14");
  });

  it("renames OpenAI chat chunks and Gemini's modelVersion, with the mapped model in Gemini's path", async () => {
    const client = new OpenAI({ apiKey: openai.key, baseURL: `${harness.url}/v1`, maxRetries: 0 });
    const models = new Set<string>();
    for await (const chunk of await client.chat.completions.create({ model: "house-model", messages: [{ role: "user", content: "hi" }], stream: true })) {
      models.add(chunk.model);
    }
    expect([...models]).toEqual(["house-model"]);
    expect(lastBody("/mm-openai/v1/chat/completions").model).toBe("gpt-4.1-2025-04-14");

    const google = new GoogleGenAI({ apiKey: gemini.key, httpOptions: { baseUrl: harness.url } });
    const generated = await google.models.generateContent({ model: "fast", contents: "hi" });
    expect(harness.upstream.requests.at(-1)!.path).toBe("/mm-gemini/v1beta/models/gemini-2.5-flash:generateContent");
    expect(generated.modelVersion).toBe("fast");
    const versions = new Set<string | undefined>();
    for await (const chunk of await google.models.generateContentStream({ model: "fast", contents: "hi" })) versions.add(chunk.modelVersion);
    expect(harness.upstream.requests.at(-1)!.path).toBe("/mm-gemini/v1beta/models/gemini-2.5-flash:streamGenerateContent");
    expect([...versions]).toEqual(["fast"]);
  });

  it("lists exactly what the key's group can serve, in all three dialects", async () => {
    const anthropicIds: string[] = [];
    for await (const model of anthropic().models.list()) anthropicIds.push(model.id);
    expect(anthropicIds.sort()).toEqual([OPUS_DATED, HAIKU_DATED, SONNET_DATED, "claude-haiku-4-5", "claude-sonnet-4-5"].sort());

    const openaiIds: string[] = [];
    for await (const model of new OpenAI({ apiKey: openai.key, baseURL: `${harness.url}/v1`, maxRetries: 0 }).models.list()) openaiIds.push(model.id);
    expect(openaiIds.sort()).toEqual(["gpt-4.1-2025-04-14", "house-model"]);
    const retrieved = await fetch(`${harness.url}/v1/models/house-model`, { headers: { authorization: `Bearer ${openai.key}` } });
    expect(retrieved.status).toBe(200);
    const notServed = await fetch(`${harness.url}/v1/models/gpt-5`, { headers: { authorization: `Bearer ${openai.key}` } });
    expect(notServed.status).toBe(404);

    // No allow-list: the platform's whole list, plus the map's client names.
    const names: string[] = [];
    for await (const model of await new GoogleGenAI({ apiKey: gemini.key, httpOptions: { baseUrl: harness.url } }).models.list()) names.push(model.name ?? "");
    expect(names).toContain("models/gemini-2.5-flash");
    expect(names).toContain("models/gemini-2.5-pro");
    expect(names).toContain("models/fast");
  });

  it("reads and writes modelMap and defaultModel through the admin API, refusing bad ones with 400", async () => {
    const [accountId] = claude.accountIds as [string];
    const listed = await harness.admin<{ data: Array<{ id: string; modelMap: unknown }> }>("GET", "/admin/accounts");
    expect(listed.body.data.find((account) => account.id === accountId)?.modelMap).toEqual({
      "claude-sonnet-4-5": SONNET_DATED,
      "sonnet-*": SONNET_DATED,
    });
    for (const modelMap of [["a"], { a: 1 }, { a: "" }, { "": "b" }, Object.fromEntries(Array.from({ length: 201 }, (_, i) => [`m${i}`, "x"]))]) {
      const refused = await harness.admin<{ error: { problems: Array<{ field: string }> } }>("PATCH", `/admin/accounts/${accountId}`, { modelMap });
      expect(refused.status).toBe(400);
      expect(refused.body.error.problems[0]!.field).toMatch(/^modelMap/);
    }
    const patched = await harness.admin<{ modelMap: unknown }>("PATCH", `/admin/accounts/${accountId}`, {
      modelMap: { "claude-sonnet-4-5": SONNET_DATED, "sonnet-*": SONNET_DATED, "my-haiku": HAIKU_DATED },
    });
    expect(patched.status).toBe(200);
    expect(patched.body.modelMap).toMatchObject({ "my-haiku": HAIKU_DATED });
    const viaNewName = await anthropic().messages.create({ model: "my-haiku", ...ask });
    expect(lastBody("/mm-claude/v1/messages").model).toBe(HAIKU_DATED);
    expect(viaNewName.model).toBe("my-haiku");

    for (const body of [{ defaultModel: 5 }, { defaultModel: "" }, { defaultModel: "x".repeat(201) }]) {
      expect((await harness.admin("PATCH", `/admin/groups/${claude.groupId}`, body)).status).toBe(400);
      expect((await harness.admin("POST", "/admin/groups", { name: `bad-${Math.random()}`, platform: "claude", ...body })).status).toBe(400);
    }
    expect((await harness.admin("PATCH", "/admin/groups/999999", { defaultModel: "x" })).status).toBe(404);
    const group = await harness.admin<{ defaultModel: string | null }>("PATCH", `/admin/groups/${claude.groupId}`, { defaultModel: "claude-opus-4-1" });
    expect(group.status).toBe(200);
    expect(group.body.defaultModel).toBe("claude-opus-4-1");
    const groups = await harness.admin<{ data: Array<{ id: number; defaultModel: string | null }> }>("GET", "/admin/groups");
    expect(groups.body.data.find((each) => each.id === claude.groupId)?.defaultModel).toBe("claude-opus-4-1");
    // The key's cached grant was dropped: the next request gets the new default.
    await anthropic().messages.create({ model: "not-served", ...ask });
    expect(lastBody("/mm-claude/v1/messages").model).toBe("claude-opus-4-1");

    // Cleared: a model no account serves is refused again.
    expect((await harness.admin("PATCH", `/admin/groups/${claude.groupId}`, { defaultModel: null })).status).toBe(200);
    await expect(anthropic().messages.create({ model: "not-served", ...ask })).rejects.toMatchObject({ status: 404 });
  });
});
