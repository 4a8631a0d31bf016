import { describe, expect, it } from "vitest";
import type { ClientRequest, Provider, ResponseShaper } from "@subrelay/providers-core";
import type { AccountSnapshot } from "@subrelay/scheduler-cache";
import { servesModel } from "./account-selection";
import { mapModel, mappedClientNames, mappedRequest, ModelAliases, renameModel, renamingShaper } from "./model-map";

const map = {
  "claude-sonnet-4-5": "claude-sonnet-4-5-20250929",
  "claude-*": "claude-haiku-4-5-20251001",
  "claude-opus-*": "claude-opus-4-1-20250805",
  "claude-opus-4-1*": "claude-opus-4-1-special",
};

function request(model: string, body: Record<string, unknown> = { model, max_tokens: 8 }): ClientRequest {
  return { operation: "messages", model, stream: false, body, headers: {} };
}

describe("mapModel", () => {
  it("maps an exact key", () => {
    expect(mapModel(map, "claude-sonnet-4-5")).toBe("claude-sonnet-4-5-20250929");
  });

  it("maps by the longest matching prefix, and an exact key wins over every prefix", () => {
    expect(mapModel(map, "claude-opus-4-1-x")).toBe("claude-opus-4-1-special");
    expect(mapModel(map, "claude-opus-4")).toBe("claude-opus-4-1-20250805");
    expect(mapModel(map, "claude-3-haiku")).toBe("claude-haiku-4-5-20251001");
    // "claude-sonnet-4-5" also starts with "claude-": the exact key is used.
    expect(mapModel(map, "claude-sonnet-4-5")).toBe("claude-sonnet-4-5-20250929");
  });

  it("leaves a name no key matches, and every name without a map", () => {
    expect(mapModel(map, "gpt-5")).toBeUndefined();
    expect(mapModel(undefined, "claude-sonnet-4-5")).toBeUndefined();
    expect(mapModel({ "*": "one-model" }, "anything")).toBe("one-model");
  });

  it("lists only exact keys as client names", () => {
    expect(mappedClientNames(map)).toEqual(["claude-sonnet-4-5"]);
    expect(mappedClientNames(undefined)).toEqual([]);
  });
});

describe("mappedRequest", () => {
  it("is the same request when the map does not rename the model (no copy on the hot path)", () => {
    const given = request("gpt-5");
    expect(mappedRequest(given, undefined, "anthropic")).toBe(given);
    expect(mappedRequest(given, map, "anthropic")).toBe(given);
  });

  it("renames the model and the body's model, without touching the client's body", () => {
    const given = request("claude-sonnet-4-5");
    const mapped = mappedRequest(given, map, "anthropic");
    expect(mapped.model).toBe("claude-sonnet-4-5-20250929");
    expect(mapped.body).toEqual({ model: "claude-sonnet-4-5-20250929", max_tokens: 8 });
    expect(given.body.model).toBe("claude-sonnet-4-5");
  });

  it("leaves a Gemini body without a model as it is (the model is in the path)", () => {
    const body = { contents: [] };
    const mapped = mappedRequest(request("gemini-fast", body), { "gemini-fast": "gemini-2.5-flash" }, "gemini");
    expect(mapped.model).toBe("gemini-2.5-flash");
    expect(mapped.body).toBe(body);
  });
});

describe("renaming the answer back", () => {
  it("renames the model fields of JSON bodies, message_start and Responses events, Gemini's modelVersion", () => {
    expect(renameModel({ id: "m", model: "dated", content: [] }, "alias")).toEqual({ id: "m", model: "alias", content: [] });
    expect(renameModel({ type: "message_start", message: { model: "dated" } }, "alias")).toEqual({ type: "message_start", message: { model: "alias" } });
    expect(renameModel({ type: "response.created", response: { model: "dated" } }, "alias")).toEqual({
      type: "response.created",
      response: { model: "alias" },
    });
    expect(renameModel([{ modelVersion: "gemini-2.5-flash" }], "fast")).toEqual([{ modelVersion: "fast" }]);
    const untouched = { type: "content_block_delta", delta: { text: "model" } };
    expect(renameModel(untouched, "alias")).toBe(untouched);
  });

  it("renames stream events after the provider's shaper, and collected streams", () => {
    const inner: ResponseShaper = {
      json: (body) => ({ ...(body as object), shaped: true }),
      event: (event) => [event, { data: JSON.stringify({ model: "dated", extra: true }) }],
      end: () => [{ data: JSON.stringify({ model: "dated" }) }],
      collector: () => ({ event: () => undefined, finish: () => ({ status: 200, body: { model: "dated" } }) }),
    };
    const shaper = renamingShaper(inner, "alias");
    expect(shaper.json({ model: "dated" })).toEqual({ model: "alias", shaped: true });
    const events = shaper.event({ event: "message_start", data: JSON.stringify({ message: { model: "dated" } }) }) as { data: string }[];
    expect(events.map((event) => JSON.parse(event.data) as unknown)).toEqual([{ message: { model: "alias" } }, { model: "alias", extra: true }]);
    expect(JSON.parse(shaper.end!()[0]!.data)).toEqual({ model: "alias" });
    expect(shaper.collector!().finish()).toEqual({ status: 200, body: { model: "alias" } });
    const plain = renamingShaper(null, "alias");
    const delta = { data: '{"type":"content_block_delta"}' };
    expect(plain.event(delta)).toBe(delta);
    expect(plain.event({ data: "[DONE]" })).toEqual({ data: "[DONE]" });
    expect("collector" in plain).toBe(false);
  });
});

describe("servesModel with a map and aliases", () => {
  const providers = {
    get: (platform: string) =>
      platform === "claude" ? ({ modelAliases: { "claude-sonnet-4-5": "claude-sonnet-4-5-20250929" } } as unknown as Provider) : undefined,
  };
  const aliases = new ModelAliases(providers);
  const account = (extra: Partial<AccountSnapshot>): AccountSnapshot => ({
    id: "1",
    platform: "claude",
    priority: 1,
    concurrency: 1,
    status: "active",
    schedulable: true,
    ...extra,
  });

  it("accepts a client name whose mapped name is listed", () => {
    const mapped = account({ models: ["claude-opus-4-1-20250805"], modelMap: { opus: "claude-opus-4-1-20250805" } });
    expect(servesModel(mapped, "opus", aliases)).toBe(true);
    expect(servesModel(mapped, "sonnet", aliases)).toBe(false);
  });

  it("accepts a documented alias of a listed name, both ways", () => {
    expect(servesModel(account({ models: ["claude-sonnet-4-5-20250929"] }), "claude-sonnet-4-5", aliases)).toBe(true);
    expect(servesModel(account({ models: ["claude-sonnet-4-5"] }), "claude-sonnet-4-5-20250929", aliases)).toBe(true);
    expect(servesModel(account({ models: ["claude-sonnet-4-5-20250929"] }), "claude-sonnet-4-5")).toBe(false);
    expect(servesModel(account({ platform: "openai", models: ["claude-sonnet-4-5-20250929"] }), "claude-sonnet-4-5", aliases)).toBe(false);
  });

  it("serves any model without a list", () => {
    expect(servesModel(account({}), "anything", aliases)).toBe(true);
  });
});
