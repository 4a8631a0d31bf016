import { isRecord, ProviderError } from "@subrelay/providers-core";

/**
 * Chat Completions fields the Codex backend refuses (it answers 400 "Unsupported parameter") or that have no
 * Responses counterpart it serves: dropped from a translated request. Fields outside this list and the mapped
 * ones are dropped as well; the list documents the known ones.
 */
export const droppedChatFields = [
  "max_tokens",
  "max_completion_tokens",
  "temperature",
  "top_p",
  "presence_penalty",
  "frequency_penalty",
  "logit_bias",
  "logprobs",
  "top_logprobs",
  "seed",
  "stop",
  "user",
  "metadata",
  "store",
  "stream",
  "stream_options",
  "service_tier",
  "modalities",
  "audio",
  "prediction",
  "web_search_options",
] as const;

/**
 * Translates a Chat Completions request body into the Responses body the Codex backend serves (without
 * `stream` / `store`, which the request builder sets). Never mutates `body`.
 *
 * - `system` / `developer` messages: their text, joined with a blank line, becomes `instructions` (`""` when
 *   there is none: the Codex backend answers 400 "Instructions are required" without the field).
 * - `user` → a `message` item with `input_text` / `input_image` parts; `assistant` → an `output_text` message
 *   (when it has text) followed by one `function_call` item per tool call; `tool` → `function_call_output`.
 * - `tools` (functions) flattened, `tool_choice`, `parallel_tool_calls`, `reasoning_effort` → `reasoning.effort`,
 *   `response_format` → `text.format`, `verbosity` → `text.verbosity`, `prompt_cache_key` kept.
 * - Sampling, token limits, logprobs, audio and the rest of `droppedChatFields`, and unknown fields: dropped.
 *
 * Throws ProviderError `invalid_request` for what cannot be translated: `messages` not an array, a message
 * without a known role, audio or file parts, non-function tools, `n` > 1.
 */
export function chatToResponsesBody(body: Readonly<Record<string, unknown>>): Record<string, unknown> {
  if (!Array.isArray(body.messages)) invalid("messages must be an array of chat messages");
  const instructions: string[] = [];
  const input: Record<string, unknown>[] = [];
  body.messages.forEach((message: unknown, index) => {
    const where = `messages[${index}]`;
    if (!isRecord(message)) invalid(`${where} must be an object`);
    const role = message.role;
    if (typeof role !== "string" || role === "") invalid(`${where} has no role`);
    switch (role) {
      case "system":
      case "developer": {
        const text = textOf(message.content, `${where}.content`, "\n\n");
        if (text !== "") instructions.push(text);
        break;
      }
      case "user":
        input.push({
          type: "message",
          role: "user",
          content: userContent(message.content, `${where}.content`),
        });
        break;
      case "assistant":
        input.push(...assistantItems(message, where));
        break;
      case "tool": {
        if (typeof message.tool_call_id !== "string" || message.tool_call_id === "") {
          invalid(`${where} (tool) has no tool_call_id`);
        }
        input.push({
          type: "function_call_output",
          call_id: message.tool_call_id,
          output: textOf(message.content, `${where}.content`, ""),
        });
        break;
      }
      default:
        invalid(`${where} has an unsupported role "${role}"`);
    }
  });

  if (typeof body.n === "number" && body.n > 1) {
    invalid("n > 1 is not supported on this account: it answers with one choice only");
  }

  const out: Record<string, unknown> = {};
  if (body.model !== undefined) out.model = body.model;
  out.instructions = instructions.join("\n\n");
  out.input = input;
  if (body.tools !== undefined && body.tools !== null) out.tools = tools(body.tools);
  if (body.tool_choice !== undefined && body.tool_choice !== null)
    out.tool_choice = toolChoice(body.tool_choice);
  if (typeof body.parallel_tool_calls === "boolean") out.parallel_tool_calls = body.parallel_tool_calls;
  if (typeof body.reasoning_effort === "string") out.reasoning = { effort: body.reasoning_effort };
  const text: Record<string, unknown> = {};
  const format = textFormat(body.response_format);
  if (format !== undefined) text.format = format;
  if (typeof body.verbosity === "string") text.verbosity = body.verbosity;
  if (Object.keys(text).length > 0) out.text = text;
  if (typeof body.prompt_cache_key === "string") out.prompt_cache_key = body.prompt_cache_key;
  return out;
}

function userContent(content: unknown, where: string): Record<string, unknown>[] {
  if (typeof content === "string") return [{ type: "input_text", text: content }];
  if (!Array.isArray(content)) invalid(`${where} must be a string or an array of content parts`);
  return content.map((part: unknown, index) => {
    const at = `${where}[${index}]`;
    if (!isRecord(part)) invalid(`${at} must be an object`);
    if (part.type === "text") {
      if (typeof part.text !== "string") invalid(`${at} (text) has no text`);
      return { type: "input_text", text: part.text };
    }
    if (part.type === "image_url") {
      const image = part.image_url;
      const url = isRecord(image) ? image.url : image;
      if (typeof url !== "string" || url === "") invalid(`${at} (image_url) has no url`);
      const converted: Record<string, unknown> = { type: "input_image", image_url: url };
      if (isRecord(image) && typeof image.detail === "string") converted.detail = image.detail;
      return converted;
    }
    return invalid(`${at}: content part type ${describe(part.type)} is not supported on this account`);
  });
}

function assistantItems(message: Record<string, unknown>, where: string): Record<string, unknown>[] {
  const items: Record<string, unknown>[] = [];
  const content = assistantContent(message.content, `${where}.content`);
  if (content.length > 0) items.push({ type: "message", role: "assistant", content });
  const calls = message.tool_calls;
  if (calls === undefined || calls === null) return items;
  if (!Array.isArray(calls)) invalid(`${where}.tool_calls must be an array`);
  calls.forEach((call: unknown, index) => {
    const at = `${where}.tool_calls[${index}]`;
    if (!isRecord(call) || !isRecord(call.function)) invalid(`${at} must be a function call`);
    if (call.type !== undefined && call.type !== "function") {
      invalid(`${at}: tool call type ${describe(call.type)} is not supported on this account`);
    }
    if (typeof call.id !== "string" || call.id === "") invalid(`${at} has no id`);
    if (typeof call.function.name !== "string" || call.function.name === "")
      invalid(`${at} has no function name`);
    const args = call.function.arguments;
    items.push({
      type: "function_call",
      call_id: call.id,
      name: call.function.name,
      arguments: typeof args === "string" ? args : JSON.stringify(args ?? {}),
    });
  });
  return items;
}

function assistantContent(content: unknown, where: string): Record<string, unknown>[] {
  if (content === undefined || content === null || content === "") return [];
  if (typeof content === "string") return [{ type: "output_text", text: content }];
  if (!Array.isArray(content)) invalid(`${where} must be a string or an array of content parts`);
  const parts: Record<string, unknown>[] = [];
  content.forEach((part: unknown, index) => {
    const at = `${where}[${index}]`;
    if (!isRecord(part)) invalid(`${at} must be an object`);
    if (part.type === "text" && typeof part.text === "string") {
      if (part.text !== "") parts.push({ type: "output_text", text: part.text });
    } else if (part.type === "refusal" && typeof part.refusal === "string") {
      parts.push({ type: "refusal", refusal: part.refusal });
    } else {
      invalid(`${at}: content part type ${describe(part.type)} is not supported in an assistant message`);
    }
  });
  return parts;
}

/** The text of a system, developer or tool message: a string, or its text parts joined with `separator`. */
function textOf(content: unknown, where: string, separator: string): string {
  if (content === undefined || content === null) return "";
  if (typeof content === "string") return content;
  if (!Array.isArray(content)) invalid(`${where} must be a string or an array of text parts`);
  return content
    .map((part: unknown, index) => {
      if (isRecord(part) && part.type === "text" && typeof part.text === "string") return part.text;
      const type = isRecord(part) ? part.type : undefined;
      return invalid(
        `${where}[${index}]: content part type ${describe(type)} is not supported here (text only)`,
      );
    })
    .join(separator);
}

function tools(value: unknown): Record<string, unknown>[] {
  if (!Array.isArray(value)) invalid("tools must be an array");
  return value.map((tool: unknown, index) => {
    const at = `tools[${index}]`;
    if (!isRecord(tool)) invalid(`${at} must be an object`);
    if (tool.type !== "function") {
      invalid(`${at}: tool type ${describe(tool.type)} is not supported on this account (functions only)`);
    }
    const fn = tool.function;
    if (!isRecord(fn) || typeof fn.name !== "string" || fn.name === "") invalid(`${at} has no function name`);
    const out: Record<string, unknown> = { type: "function", name: fn.name };
    if (fn.description !== undefined) out.description = fn.description;
    if (fn.parameters !== undefined) out.parameters = fn.parameters;
    if (fn.strict !== undefined) out.strict = fn.strict;
    return out;
  });
}

function toolChoice(value: unknown): unknown {
  if (typeof value === "string") return value;
  if (isRecord(value) && value.type === "function" && isRecord(value.function)) {
    if (typeof value.function.name !== "string" || value.function.name === "") {
      invalid("tool_choice names no function");
    }
    return { type: "function", name: value.function.name };
  }
  const type = isRecord(value) ? value.type : undefined;
  return invalid(`tool_choice ${describe(type)} is not supported on this account`);
}

function textFormat(value: unknown): Record<string, unknown> | undefined {
  if (value === undefined || value === null) return undefined;
  if (!isRecord(value)) invalid("response_format must be an object");
  if (value.type === "text") return undefined;
  if (value.type === "json_object") return { type: "json_object" };
  if (value.type === "json_schema") {
    const schema = value.json_schema;
    if (!isRecord(schema) || typeof schema.name !== "string")
      invalid("response_format.json_schema needs a name");
    const format: Record<string, unknown> = { type: "json_schema", name: schema.name };
    for (const key of ["schema", "strict", "description"] as const) {
      if (schema[key] !== undefined) format[key] = schema[key];
    }
    return format;
  }
  return invalid(`response_format type ${describe(value.type)} is not supported`);
}

function describe(type: unknown): string {
  return typeof type === "string" ? `"${type}"` : "(none)";
}

function invalid(message: string): never {
  throw new ProviderError(`Chat completions on this account: ${message}`, { code: "invalid_request" });
}
