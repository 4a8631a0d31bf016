import type { ServerResponse } from "node:http";
import {
  createSseParser,
  formatSseEvent,
  type ResponseShaper,
  type SseEvent,
  type UsageTracker,
} from "@subrelay/providers-core";
import type { Cancellation } from "./cancellation";
import type { ClientDialect } from "./dialects";
import { GatewayError, codeOfStatus } from "./gateway-error";
import { headerValue, type AnswerHeaders, type UpstreamAnswer, type UpstreamBody } from "./upstream-client";

/** After a client hangs up mid-stream, the upstream is drained this long more to read its usage. */
const USAGE_DRAIN_MS = 10_000;

export interface DeliverOptions {
  /** Fed every byte of the answer. */
  tracker: UsageTracker;
  /** Reshapes the answer for the client; null passes it through. */
  shaper: ResponseShaper | null;
  /** Whether the client asked for a stream (a streamed answer is collected into one body when not). */
  clientStream: boolean;
  /** Aborts when the client leaves. */
  clientGone: Cancellation;
  /** When the upstream request was sent (epoch ms), for the time to first byte. */
  sentAt: number;
  /** The upstream's headers the client gets back (already filtered by the provider's `responseHeaders`). */
  returnedHeaders?: Readonly<Record<string, string>>;
}

export interface Delivery {
  /** The status the client got. */
  status: number;
  /** Milliseconds from sending upstream to its first body byte; null when none came. */
  ttfbMs: number | null;
  /** Whether the answer was an upstream stream (streamed through or collected). */
  streamed: boolean;
  /** Set when the upstream stream broke off; the client got the dialect's stream error event. */
  streamFailure?: unknown;
}

/** Where the relay writes one client's answer. Once `started`, there is no failing over. */
export interface ResponseSink {
  /** True once the status line went out or the client is gone. */
  readonly started: boolean;
  /**
   * A whole answer: a relayed upstream refusal, or a body the relay made. Only `content-type` and
   * `retry-after` of `headers` are used; `returned` (upstream headers already filtered for the client, e.g.
   * its request id) is sent as is and wins over the gateway's own `x-request-id`.
   */
  send(status: number, headers: AnswerHeaders, body: string, returned?: Readonly<Record<string, string>>): void;
  /** The gateway's own error, in the client's dialect. */
  sendError(error: GatewayError): void;
  /** A successful upstream answer: sent, streamed through with back-pressure, or collected from a stream. */
  deliver(answer: UpstreamAnswer, options: DeliverOptions): Promise<Delivery>;
  /**
   * For a streaming client kept waiting: starts its stream (200, SSE) if not yet started and sends the dialect's
   * keep-alive. From then on an error ends the stream with the dialect's error event.
   */
  keepAlive?(): void;
}

export interface NodeResponseSinkOptions {
  now?: () => number;
  /**
   * A streaming client whose socket has not drained for this long, ms, is disconnected (its socket destroyed):
   * a client that stops reading must not hold the upstream stream and the account's slot. 0: no limit.
   * Default 30_000 (`CLIENT_DRAIN_TIMEOUT`).
   */
  drainTimeoutMs?: number;
}

/** The ResponseSink over a Node response, in `dialect`. */
export class NodeResponseSink implements ResponseSink {
  private readonly now: () => number;
  private readonly drainTimeoutMs: number;

  constructor(
    private readonly response: ServerResponse,
    private readonly requestId: string,
    private readonly dialect: ClientDialect,
    options: NodeResponseSinkOptions = {},
  ) {
    this.now = options.now ?? Date.now;
    this.drainTimeoutMs = options.drainTimeoutMs ?? 30_000;
  }

  /** The stream was started by keep-alives, before any upstream answered. */
  private keptAlive = false;

  get started(): boolean {
    return this.response.headersSent || this.response.destroyed;
  }

  keepAlive(): void {
    const response = this.response;
    if (response.destroyed || response.writableEnded) return;
    if (!response.headersSent) {
      this.keptAlive = true;
      response.writeHead(200, { "x-request-id": this.requestId, ...SSE_HEADERS });
    }
    if (this.keptAlive) response.write(this.dialect.keepAliveEvent);
  }

  send(status: number, headers: AnswerHeaders, body: string, returned?: Readonly<Record<string, string>>): void {
    const response = this.response;
    if (this.keptAlive) {
      // The stream is open: the answer can only be an event now.
      const message = status < 400 ? "The upstream answered without a stream." : `The upstream refused the request (HTTP ${status}).`;
      this.endKeptAlive(new GatewayError(status < 400 ? "upstream" : codeOfStatus(status), message, { status: status < 400 ? 502 : status }));
      return;
    }
    if (this.started) return;
    const retryAfter = headerValue(headers["retry-after"]);
    response.writeHead(status, {
      "x-request-id": this.requestId,
      ...returned,
      "content-type": headerValue(headers["content-type"]) ?? "application/json",
      ...(retryAfter ? { "retry-after": retryAfter } : {}),
    });
    response.end(body);
  }

  sendError(error: GatewayError): void {
    if (this.keptAlive) {
      this.endKeptAlive(error);
      return;
    }
    if (this.started) {
      if (!this.response.writableEnded) this.response.end();
      return;
    }
    const headers = error.retryAfterSeconds === undefined ? {} : { "retry-after": String(error.retryAfterSeconds) };
    this.send(error.status, headers, JSON.stringify(this.dialect.errorBody(error)));
  }

  private endKeptAlive(error: GatewayError): void {
    const response = this.response;
    if (response.destroyed || response.writableEnded) return;
    response.end(this.dialect.streamErrorEvent(error));
  }

  async deliver(answer: UpstreamAnswer, options: DeliverOptions): Promise<Delivery> {
    const { tracker, shaper } = options;
    const contentType = headerValue(answer.headers["content-type"]) ?? "application/json";
    if (!contentType.includes("text/event-stream")) {
      const text = await answer.body.text();
      const ttfbMs = this.now() - options.sentAt;
      let out = text;
      try {
        const parsed: unknown = JSON.parse(text);
        tracker.json(parsed);
        if (shaper) out = JSON.stringify(shaper.json(parsed));
      } catch {
        // Not JSON: relay it as it came.
      }
      this.send(answer.status, answer.headers, out, options.returnedHeaders);
      return { status: answer.status, ttfbMs, streamed: false };
    }

    const collector = options.clientStream ? undefined : shaper?.collector?.();
    if (collector) {
      // The platform only streams, and this client asked for one JSON body: assemble it from the stream.
      const parser = createSseParser((event) => collector.event(event));
      const read = await this.readUpstream(answer.body, options, (chunk) => parser.push(chunk));
      if (!read.failed) parser.end();
      const collected = collector.finish();
      this.send(collected.status, {}, JSON.stringify(collected.body), options.returnedHeaders);
      return { status: collected.status, ttfbMs: read.ttfbMs, streamed: true, streamFailure: read.error };
    }

    const response = this.response;
    if (!this.keptAlive) {
      response.writeHead(answer.status, {
        "x-request-id": this.requestId,
        ...options.returnedHeaders,
        ...SSE_HEADERS,
        "content-type": contentType,
      });
      response.flushHeaders();
    }
    const write = streamWriter(response, shaper, this.drainTimeoutMs);
    const read = await this.readUpstream(answer.body, options, async (chunk) => {
      if (!response.destroyed && !response.writableEnded) await write(chunk);
    });
    if (!read.failed) {
      write.end();
    } else if (!response.destroyed && !response.writableEnded) {
      response.write(this.dialect.streamErrorEvent(new GatewayError("upstream", "The upstream stream was interrupted.")));
    }
    if (!response.writableEnded) response.end();
    return { status: answer.status, ttfbMs: read.ttfbMs, streamed: true, streamFailure: read.error };
  }

  /**
   * Reads an upstream stream to its end, feeding the usage tracker and `onChunk`. A client that leaves
   * meanwhile does not stop it at once: reading goes on a while so the usage at the stream's end is counted.
   */
  private async readUpstream(
    body: UpstreamBody,
    options: DeliverOptions,
    onChunk: (chunk: Buffer) => Promise<void> | void,
  ): Promise<{ ttfbMs: number | null; failed: boolean; error?: unknown }> {
    let ttfbMs: number | null = null;
    let drainDeadline: NodeJS.Timeout | undefined;
    const stopWatchingClient = options.clientGone.onAbort(() => {
      drainDeadline = setTimeout(() => body.destroy(), USAGE_DRAIN_MS);
    });
    try {
      for await (const chunk of body) {
        ttfbMs ??= this.now() - options.sentAt;
        options.tracker.push(chunk);
        await onChunk(chunk);
      }
      return { ttfbMs, failed: false };
    } catch (error) {
      return { ttfbMs, failed: true, error };
    } finally {
      clearTimeout(drainDeadline);
      stopWatchingClient();
    }
  }
}

const SSE_HEADERS = {
  "content-type": "text/event-stream",
  "cache-control": "no-cache",
  connection: "keep-alive",
  "x-accel-buffering": "no",
} as const;

/** Writes stream chunks with back-pressure, reshaping SSE events when the platform needs it. */
function streamWriter(
  response: ServerResponse,
  shaper: ResponseShaper | null,
  drainTimeoutMs: number,
): ((chunk: Buffer) => Promise<void>) & { end(): void } {
  const writeRaw = async (data: string | Buffer) => {
    if (data.length === 0 || response.destroyed) return;
    if (!response.write(data)) await drainedOrClosed(response, drainTimeoutMs);
  };
  if (!shaper) return Object.assign(writeRaw, { end: () => undefined });
  let pending = "";
  const parser = createSseParser((event) => {
    const shaped = shaper.event(event);
    if (shaped === null) return;
    if (!isEventList(shaped)) pending += formatSseEvent(shaped);
    else for (const one of shaped) pending += formatSseEvent(one);
  });
  const write = async (chunk: Buffer) => {
    parser.push(chunk);
    const out = pending;
    pending = "";
    await writeRaw(out);
  };
  return Object.assign(write, {
    end: () => {
      parser.end();
      for (const one of shaper.end?.() ?? []) pending += formatSseEvent(one);
      if (pending && !response.destroyed) response.write(pending);
      pending = "";
    },
  });
}

function isEventList(shaped: SseEvent | readonly SseEvent[]): shaped is readonly SseEvent[] {
  return Array.isArray(shaped);
}

/**
 * Resolves when `response` drains or closes; both listeners are removed either way (streams hit this often).
 * Not drained within `timeoutMs` (0: no limit): the client stopped reading, and its socket is destroyed. The
 * response's close then counts as the client leaving: the upstream is read on only for its usage, briefly.
 */
function drainedOrClosed(response: ServerResponse, timeoutMs: number): Promise<void> {
  return new Promise((resolve) => {
    const stalled = timeoutMs > 0 ? setTimeout(() => response.destroy(), timeoutMs) : undefined;
    const done = () => {
      clearTimeout(stalled);
      response.off("drain", done);
      response.off("close", done);
      resolve();
    };
    response.on("drain", done);
    response.on("close", done);
  });
}
