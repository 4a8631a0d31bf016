import { ProviderError } from "@subrelay/providers-core";
import { describe, expect, it } from "vitest";
import { chatToResponsesBody, droppedChatFields } from "./chat-to-responses";

function refusal(body: Record<string, unknown>): ProviderError {
  try {
    chatToResponsesBody(body);
  } catch (error) {
    if (ProviderError.isInstance(error)) return error;
    throw error;
  }
  throw new Error("chatToResponsesBody did not throw");
}

const hi = [{ role: "user", content: "hi" }];
const userHi = { type: "message", role: "user", content: [{ type: "input_text", text: "hi" }] };

describe("chatToResponsesBody: messages", () => {
  it("keeps the model, turns a user string into input_text and sends empty instructions when there are none", () => {
    expect(chatToResponsesBody({ model: "gpt-5", messages: hi })).toEqual({
      model: "gpt-5",
      instructions: "",
      input: [userHi],
    });
  });

  it("joins system and developer messages, wherever they are, into instructions", () => {
    const body = {
      model: "gpt-5",
      messages: [
        { role: "system", content: "You are terse." },
        { role: "user", content: "hi" },
        {
          role: "developer",
          content: [
            { type: "text", text: "Answer in French." },
            { type: "text", text: "No emoji." },
          ],
        },
        { role: "system", content: "" },
      ],
    };
    expect(chatToResponsesBody(body)).toEqual({
      model: "gpt-5",
      instructions: "You are terse.\n\nAnswer in French.\n\nNo emoji.",
      input: [userHi],
    });
  });

  it("turns user content parts into input_text and input_image, detail only when given", () => {
    const body = {
      messages: [
        {
          role: "user",
          content: [
            { type: "text", text: "What is this?" },
            { type: "image_url", image_url: { url: "https://example.com/cat.png", detail: "high" } },
            { type: "image_url", image_url: { url: "data:image/png;base64,iVBORw0KGgo=" } },
          ],
        },
      ],
    };
    expect(chatToResponsesBody(body).input).toEqual([
      {
        type: "message",
        role: "user",
        content: [
          { type: "input_text", text: "What is this?" },
          { type: "input_image", image_url: "https://example.com/cat.png", detail: "high" },
          { type: "input_image", image_url: "data:image/png;base64,iVBORw0KGgo=" },
        ],
      },
    ]);
  });

  it("turns an assistant turn into its text message then its function calls, and tool answers into outputs", () => {
    const body = {
      messages: [
        { role: "user", content: "Weather in Paris and Tokyo?" },
        {
          role: "assistant",
          content: "Checking both.",
          tool_calls: [
            {
              id: "call_1",
              type: "function",
              function: { name: "get_weather", arguments: '{"city":"Paris"}' },
            },
            {
              id: "call_2",
              type: "function",
              function: { name: "get_weather", arguments: '{"city":"Tokyo"}' },
            },
          ],
        },
        { role: "tool", tool_call_id: "call_1", content: "18°C" },
        {
          role: "tool",
          tool_call_id: "call_2",
          content: [
            { type: "text", text: '{"temp":' },
            { type: "text", text: "21}" },
          ],
        },
        { role: "assistant", content: null, tool_calls: [] },
        { role: "assistant", content: "" },
        { role: "assistant", content: [{ type: "text", text: "Paris 18°C, Tokyo 21°C." }] },
      ],
    };
    expect(chatToResponsesBody(body).input).toEqual([
      {
        type: "message",
        role: "user",
        content: [{ type: "input_text", text: "Weather in Paris and Tokyo?" }],
      },
      { type: "message", role: "assistant", content: [{ type: "output_text", text: "Checking both." }] },
      { type: "function_call", call_id: "call_1", name: "get_weather", arguments: '{"city":"Paris"}' },
      { type: "function_call", call_id: "call_2", name: "get_weather", arguments: '{"city":"Tokyo"}' },
      { type: "function_call_output", call_id: "call_1", output: "18°C" },
      { type: "function_call_output", call_id: "call_2", output: '{"temp":21}' },
      {
        type: "message",
        role: "assistant",
        content: [{ type: "output_text", text: "Paris 18°C, Tokyo 21°C." }],
      },
    ]);
  });

  it("sends an assistant turn with only tool calls as function calls alone", () => {
    const body = {
      messages: [
        ...hi,
        {
          role: "assistant",
          content: null,
          tool_calls: [{ id: "c", type: "function", function: { name: "f", arguments: "{}" } }],
        },
      ],
    };
    expect(chatToResponsesBody(body).input).toEqual([
      userHi,
      { type: "function_call", call_id: "c", name: "f", arguments: "{}" },
    ]);
  });
});

describe("chatToResponsesBody: options", () => {
  it("flattens function tools and translates tool_choice, parallel_tool_calls and reasoning_effort", () => {
    const parameters = { type: "object", properties: { city: { type: "string" } }, required: ["city"] };
    const body = {
      model: "gpt-5",
      messages: hi,
      tools: [
        {
          type: "function",
          function: { name: "get_weather", description: "Weather.", parameters, strict: true },
        },
        { type: "function", function: { name: "now" } },
      ],
      tool_choice: { type: "function", function: { name: "get_weather" } },
      parallel_tool_calls: false,
      reasoning_effort: "low",
    };
    expect(chatToResponsesBody(body)).toEqual({
      model: "gpt-5",
      instructions: "",
      input: [userHi],
      tools: [
        { type: "function", name: "get_weather", description: "Weather.", parameters, strict: true },
        { type: "function", name: "now" },
      ],
      tool_choice: { type: "function", name: "get_weather" },
      parallel_tool_calls: false,
      reasoning: { effort: "low" },
    });
  });

  it.each(["auto", "none", "required"])("passes tool_choice %s through", (choice) => {
    expect(chatToResponsesBody({ messages: hi, tool_choice: choice }).tool_choice).toBe(choice);
  });

  it.each([
    {
      name: "json_schema",
      format: {
        type: "json_schema",
        json_schema: { name: "answer", description: "The answer.", schema: { type: "object" }, strict: true },
      },
      text: {
        format: {
          type: "json_schema",
          name: "answer",
          description: "The answer.",
          schema: { type: "object" },
          strict: true,
        },
      },
    },
    { name: "json_object", format: { type: "json_object" }, text: { format: { type: "json_object" } } },
    { name: "text", format: { type: "text" }, text: undefined },
  ])("maps response_format $name to text.format", ({ format, text }) => {
    expect(chatToResponsesBody({ messages: hi, response_format: format }).text).toEqual(text);
  });

  it("keeps verbosity and prompt_cache_key, which the Codex backend understands", () => {
    const out = chatToResponsesBody({ messages: hi, verbosity: "low", prompt_cache_key: "conv-1" });
    expect(out.text).toEqual({ verbosity: "low" });
    expect(out.prompt_cache_key).toBe("conv-1");
  });

  it("drops every field the Codex backend refuses, and unknown ones", () => {
    const dropped: Record<string, unknown> = {
      max_tokens: 100,
      max_completion_tokens: 100,
      temperature: 0.2,
      top_p: 0.9,
      presence_penalty: 0.1,
      frequency_penalty: 0.1,
      logit_bias: { "50256": -100 },
      logprobs: true,
      top_logprobs: 2,
      seed: 7,
      stop: ["\n"],
      user: "u-1",
      metadata: { a: "b" },
      store: true,
      stream: true,
      stream_options: { include_usage: true },
      service_tier: "flex",
      modalities: ["text"],
      audio: { voice: "alloy", format: "mp3" },
      prediction: { type: "content", content: "x" },
      web_search_options: {},
      something_new: 1,
    };
    expect(Object.keys(dropped)).toEqual(expect.arrayContaining([...droppedChatFields]));
    expect(chatToResponsesBody({ model: "gpt-5", messages: hi, n: 1, ...dropped })).toEqual({
      model: "gpt-5",
      instructions: "",
      input: [userHi],
    });
  });

  it("never mutates the client's body", () => {
    const body = {
      model: "gpt-5",
      messages: [
        { role: "system", content: "Be brief." },
        { role: "user", content: [{ type: "image_url", image_url: { url: "https://x/y.png" } }] },
        {
          role: "assistant",
          content: "ok",
          tool_calls: [{ id: "c", type: "function", function: { name: "f", arguments: "{}" } }],
        },
        { role: "tool", tool_call_id: "c", content: "done" },
      ],
      tools: [{ type: "function", function: { name: "f", parameters: { type: "object" } } }],
      tool_choice: { type: "function", function: { name: "f" } },
      response_format: { type: "json_schema", json_schema: { name: "n", schema: { type: "object" } } },
      temperature: 1,
    };
    const before = structuredClone(body);
    const out = chatToResponsesBody(body);
    (out.input as Record<string, unknown>[]).push({});
    expect(body).toEqual(before);
  });
});

describe("chatToResponsesBody: refusals", () => {
  it.each([
    {
      name: "messages that are not an array",
      body: { messages: "hi" },
      message: "messages must be an array",
    },
    { name: "no messages", body: {}, message: "messages must be an array" },
    {
      name: "a message that is not an object",
      body: { messages: ["hi"] },
      message: "messages[0] must be an object",
    },
    {
      name: "a message without a role",
      body: { messages: [...hi, { content: "x" }] },
      message: "messages[1] has no role",
    },
    {
      name: "the legacy function role",
      body: { messages: [{ role: "function", name: "f", content: "x" }] },
      message: 'unsupported role "function"',
    },
    {
      name: "an audio part",
      body: {
        messages: [
          { role: "user", content: [{ type: "input_audio", input_audio: { data: "", format: "wav" } }] },
        ],
      },
      message: '"input_audio"',
    },
    {
      name: "a file part",
      body: { messages: [{ role: "user", content: [{ type: "file", file: { file_id: "file-1" } }] }] },
      message: '"file"',
    },
    {
      name: "an image part in a system message",
      body: { messages: [{ role: "system", content: [{ type: "image_url", image_url: { url: "u" } }] }] },
      message: '"image_url"',
    },
    {
      name: "a tool message without tool_call_id",
      body: { messages: [{ role: "tool", content: "x" }] },
      message: "tool_call_id",
    },
    {
      name: "a custom tool",
      body: { messages: hi, tools: [{ type: "custom", custom: { name: "grammar" } }] },
      message: 'tool type "custom"',
    },
    { name: "n > 1", body: { messages: hi, n: 2 }, message: "n > 1" },
    {
      name: "an allowed_tools tool_choice",
      body: {
        messages: hi,
        tool_choice: { type: "allowed_tools", allowed_tools: { mode: "auto", tools: [] } },
      },
      message: 'tool_choice "allowed_tools"',
    },
  ])("refuses $name as invalid_request", ({ body, message }) => {
    const error = refusal(body);
    expect(error.code).toBe("invalid_request");
    expect(error.message).toContain(message);
  });
});
