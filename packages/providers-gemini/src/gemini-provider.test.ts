import type { AccountType, Operation } from "@subrelay/providers-core";
import { describe, expect, it } from "vitest";
import { defaultGeminiModels } from "./gemini-models";
import { createGeminiProvider } from "./gemini-provider";

const operations: Operation[] = [
  "messages",
  "count_tokens",
  "chat_completions",
  "responses",
  "generate_content",
  "stream_generate_content",
];
const types: AccountType[] = ["oauth", "apikey"];

describe("createGeminiProvider", () => {
  it("names its platform and dialect", () => {
    const provider = createGeminiProvider();
    expect(provider.platform).toBe("gemini");
    expect(provider.dialect).toBe("gemini");
  });

  it.each(types)("%s accounts serve generateContent and streamGenerateContent only", (type) => {
    const provider = createGeminiProvider();
    const served = operations.filter((operation) => provider.supports(operation, type));
    expect(served).toEqual(["generate_content", "stream_generate_content"]);
  });

  it("serves embedContent and batchEmbedContents on API-key accounts only (Code Assist has no embeddings)", () => {
    const provider = createGeminiProvider();
    const embeddings: Operation[] = ["embed_content", "batch_embed_contents"];
    expect(embeddings.filter((operation) => provider.supports(operation, "apikey"))).toEqual(embeddings);
    expect(embeddings.filter((operation) => provider.supports(operation, "oauth"))).toEqual([]);
  });

  it("lists the default models, bare ids, the 2.5 family included", () => {
    const ids = createGeminiProvider().models().map((model) => model.id);
    expect(ids).toEqual(defaultGeminiModels.map((model) => model.id));
    expect(ids).toEqual(expect.arrayContaining(["gemini-2.5-pro", "gemini-2.5-flash", "gemini-2.5-flash-lite"]));
    expect(ids.every((id) => !id.startsWith("models/"))).toBe(true);
  });

  it("lists configured models, and callers cannot change the provider's list", () => {
    const provider = createGeminiProvider({ models: [{ id: "gemini-exp-1206", displayName: "Experimental" }] });
    const first = provider.models();
    first[0]!.id = "changed";
    first.push({ id: "extra" });
    expect(provider.models()).toEqual([{ id: "gemini-exp-1206", displayName: "Experimental" }]);
  });
});
