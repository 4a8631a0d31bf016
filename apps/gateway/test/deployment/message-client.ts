import { Agent, request, type Dispatcher } from "undici";

/** What one client call came back with. Never an exception: transport failures are `status: 0`. */
export interface MessageResult {
  /** HTTP status, or 0 when no response arrived (connection refused/reset, client timeout). */
  status: number;
  /** Whole-call latency as the client saw it (body read to the end), ms. */
  ms: number;
  /** The response body; for a stream, the whole transcript. */
  text: string;
  /** True for a 200 whose stream (when streaming) ran to `message_stop` without an error event. */
  ok: boolean;
  /** Transport error message, when `status` is 0. */
  error?: string;
}

export interface MessageOptions {
  stream?: boolean;
  model?: string;
  /** Default: a keep-alive agent shared by every call of this module. */
  dispatcher?: Dispatcher;
  /** Client-side deadline for the whole call, ms. Default 30 000. */
  timeoutMs?: number;
}

const sharedAgent = new Agent({ connections: 512, keepAliveTimeout: 10_000 });

/** POSTs an Anthropic Messages call with a subrelay key to a gateway. */
export async function sendMessage(baseUrl: string, key: string, options: MessageOptions = {}): Promise<MessageResult> {
  const started = performance.now();
  try {
    const response = await request(`${baseUrl}/v1/messages`, {
      method: "POST",
      dispatcher: options.dispatcher ?? sharedAgent,
      headers: { "content-type": "application/json", "x-api-key": key, "anthropic-version": "2023-06-01" },
      body: JSON.stringify({
        model: options.model ?? "claude-opus-4-5",
        max_tokens: 16,
        stream: options.stream ?? false,
        messages: [{ role: "user", content: "hi" }],
      }),
      signal: AbortSignal.timeout(options.timeoutMs ?? 30_000),
    });
    const text = await response.body.text();
    const ms = performance.now() - started;
    const ok =
      response.statusCode === 200 &&
      (!options.stream || (text.includes("message_stop") && !text.includes("event: error")));
    return { status: response.statusCode, ms, text, ok };
  } catch (error) {
    const ms = performance.now() - started;
    return { status: 0, ms, text: "", ok: false, error: error instanceof Error ? error.message : String(error) };
  }
}

/** Closes the shared agent (end of a test file / the soak). */
export function closeMessageClient(): Promise<void> {
  return sharedAgent.close();
}
