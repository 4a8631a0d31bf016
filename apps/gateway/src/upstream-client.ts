import type { Dispatcher } from "undici";
import type { UpstreamRequest } from "@subrelay/providers-core";
import type { Cancellation } from "./cancellation";

export type AnswerHeaders = Record<string, string | string[] | undefined>;

/** An upstream answer's body: read once, as chunks or as text; `destroy` stops reading it. */
export interface UpstreamBody extends AsyncIterable<Buffer> {
  text(): Promise<string>;
  destroy(): void;
}

/** An upstream's answer as far as its headers. */
export interface UpstreamAnswer {
  status: number;
  headers: AnswerHeaders;
  body: UpstreamBody;
}

/** How a request is sent. */
export interface SendOptions {
  /**
   * The request goes to the account's own base URL (an operator's input), not the platform's: it is sent
   * through the dispatcher that checks every connection's address (`UpstreamAddressPolicy`).
   */
  ownBaseUrl?: boolean;
}

/** Sends shaped requests to upstreams. Rejects when no answer came (refused, reset, timed out, aborted). */
export interface UpstreamClient {
  send(request: UpstreamRequest, signal: Cancellation, options?: SendOptions): Promise<UpstreamAnswer>;
}

export interface UndiciUpstreamClientOptions {
  /** For the platforms' own base URLs (default or from the environment: the operator's, trusted). */
  dispatcher: Dispatcher;
  /** For accounts' own base URLs; one that refuses connections to addresses not allowed. Default `dispatcher`. */
  accountDispatcher?: Dispatcher;
  headersTimeoutMs: number;
  bodyTimeoutMs: number;
}

/** The UpstreamClient over an undici dispatcher (a keep-alive Agent: one connection pool per origin). */
export class UndiciUpstreamClient implements UpstreamClient {
  constructor(private readonly options: UndiciUpstreamClientOptions) {}

  async send(upstream: UpstreamRequest, signal: Cancellation, options: SendOptions = {}): Promise<UpstreamAnswer> {
    const { origin, path } = splitUrl(upstream.url);
    const dispatcher = options.ownBaseUrl ? (this.options.accountDispatcher ?? this.options.dispatcher) : this.options.dispatcher;
    const response = await dispatcher.request({
      origin,
      path,
      method: upstream.method,
      headers: upstream.headers,
      body: upstream.body,
      // undici accepts an EventEmitter-shaped signal and uses only on/once/removeListener/aborted/reason.
      signal,
      headersTimeout: this.options.headersTimeoutMs,
      bodyTimeout: this.options.bodyTimeoutMs,
    });
    return { status: response.statusCode, headers: response.headers, body: response.body };
  }
}

/** Upstream URLs parsed once: a platform has few, and parsing one on every request showed in profiles. */
const splitUrls = new Map<string, { origin: string; path: string }>();

export function splitUrl(url: string): { origin: string; path: string } {
  let split = splitUrls.get(url);
  if (split === undefined) {
    const parsed = new URL(url);
    split = { origin: parsed.origin, path: `${parsed.pathname}${parsed.search}` };
    // Bounded: Gemini's URLs carry the model, and a model name is the client's to choose.
    if (splitUrls.size >= 1_000) splitUrls.clear();
    splitUrls.set(url, split);
  }
  return split;
}

/** Reads a body as UTF-8 up to `limit` bytes, then discards the rest. */
export async function readText(body: AsyncIterable<Buffer>, limit: number): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of body) {
    if (size < limit) {
      chunks.push(chunk);
      size += chunk.length;
    }
  }
  const text = Buffer.concat(chunks).toString("utf8");
  return text.slice(0, limit);
}

/** The first value of an answer header. */
export function headerValue(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}
