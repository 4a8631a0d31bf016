import { createServer, type IncomingHttpHeaders, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo, Socket } from "node:net";
import { formatSseEvent } from "./format-sse-event";
import type { SseEvent } from "./sse";

/** A request the fake upstream received, body read in full. */
export interface RecordedRequest {
  method: string;
  /** The path without the query string. */
  path: string;
  /** Path and query string, as received. */
  url: string;
  query: URLSearchParams;
  /** Lower-case names, as Node gives them. */
  headers: IncomingHttpHeaders;
  /** The body as UTF-8 text ("" when none). */
  body: string;
  /** The body parsed as JSON; throws when it is not JSON. */
  json<T = unknown>(): T;
}

/** A complete answer: `json` (serialised, `content-type: application/json` by default) or a raw `body`. */
export interface BodyReply {
  /** Default 200. */
  status?: number;
  headers?: Record<string, string>;
  json?: unknown;
  body?: string;
  /** Milliseconds to wait before answering (after the request body was read). */
  delayMs?: number;
}

/** A streamed answer: `text/event-stream` unless `headers` says otherwise. */
export interface SseReply {
  /** Default 200. */
  status?: number;
  headers?: Record<string, string>;
  /** Chunks written in order: strings raw (split them anywhere), events serialised with formatSseEvent. */
  sse: Array<string | SseEvent>;
  /** Milliseconds between chunks (default 0: each chunk is still a separate write). */
  chunkDelayMs?: number;
  /** Destroys the socket after this many chunks were written (a connection cut mid-stream). */
  dropAfter?: number;
  /** Holds the stream (headers already sent) until this settles, then writes the first chunk. */
  waitFor?: Promise<unknown>;
}

/** Destroys the connection without an answer. */
export interface DropReply {
  drop: true;
}

/** Never answers; the connection is destroyed by `close()` (or by the client giving up). */
export interface HangReply {
  hang: true;
}

export type Reply = BodyReply | SseReply | DropReply | HangReply;

export type ReplyHandler = (request: RecordedRequest) => Reply | Promise<Reply>;

type PathMatcher = string | RegExp;

interface Route {
  method: string;
  path: PathMatcher;
  reply: Reply | ReplyHandler;
}

interface Waiter {
  count: number;
  path: PathMatcher | undefined;
  resolve: (requests: RecordedRequest[]) => void;
}

/**
 * A scriptable HTTP server on 127.0.0.1 (random port) that plays a platform's token endpoint and API in tests.
 * Routes answer requests; one-shot replies (`enqueue`) are consumed in order before persistent routes (`on`,
 * the latest registration winning). Unmatched requests get a 404 JSON. Every request is recorded.
 */
export class FakeUpstream {
  /** `http://127.0.0.1:<port>`, no trailing slash. */
  readonly url: string;
  /** Every request received since start or the last `reset()`, in arrival order. */
  readonly requests: RecordedRequest[] = [];

  private readonly server: Server;
  private readonly sockets = new Set<Socket>();
  private readonly timers = new Set<NodeJS.Timeout>();
  private routes: Route[] = [];
  private queue: Route[] = [];
  private waiters: Waiter[] = [];

  private constructor(server: Server, url: string) {
    this.server = server;
    this.url = url;
    server.on("connection", (socket) => {
      this.sockets.add(socket);
      socket.on("close", () => this.sockets.delete(socket));
    });
    server.on("request", (request: IncomingMessage, response: ServerResponse) => {
      void this.handle(request, response);
    });
  }

  /** Starts a server on 127.0.0.1 and a random free port. */
  static async start(): Promise<FakeUpstream> {
    const server = createServer();
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(0, "127.0.0.1", () => {
        server.off("error", reject);
        resolve();
      });
    });
    const { port } = server.address() as AddressInfo;
    return new FakeUpstream(server, `http://127.0.0.1:${port}`);
  }

  /** Answers every matching request (`path` exact, or a RegExp tested against the path without query). */
  on(method: string, path: PathMatcher, reply: Reply | ReplyHandler): this {
    this.routes.unshift({ method: method.toUpperCase(), path, reply });
    return this;
  }

  /** Answers the next matching requests with these replies, one each, in order. */
  enqueue(method: string, path: PathMatcher, ...replies: Reply[]): this {
    for (const reply of replies) this.queue.push({ method: method.toUpperCase(), path, reply });
    return this;
  }

  /** Recorded requests whose path matches. */
  requestsTo(path: PathMatcher): RecordedRequest[] {
    return this.requests.filter((request) => matches(path, request.path));
  }

  /** Resolves once at least `count` requests (to `path`, when given) were received (bodies read). */
  waitForRequests(count: number, path?: PathMatcher): Promise<RecordedRequest[]> {
    const current = path === undefined ? this.requests.slice() : this.requestsTo(path);
    if (current.length >= count) return Promise.resolve(current);
    return new Promise((resolve) => this.waiters.push({ count, path, resolve }));
  }

  /** Forgets recorded requests, routes and queued replies. */
  reset(): void {
    this.requests.length = 0;
    this.routes = [];
    this.queue = [];
  }

  /** Destroys open connections (hanging and streaming ones included) and stops the server. */
  async close(): Promise<void> {
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
    for (const socket of this.sockets) socket.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private async handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    try {
      for await (const chunk of request) chunks.push(chunk as Buffer);
    } catch {
      return;
    }
    const url = request.url ?? "/";
    const parsed = new URL(url, "http://fake-upstream");
    const body = Buffer.concat(chunks).toString("utf8");
    const recorded: RecordedRequest = {
      method: request.method ?? "GET",
      path: parsed.pathname,
      url,
      query: parsed.searchParams,
      headers: request.headers,
      body,
      json: <T>() => JSON.parse(body) as T,
    };
    this.requests.push(recorded);
    this.notifyWaiters();

    let reply: Reply;
    try {
      reply = await this.replyFor(recorded);
    } catch (error) {
      reply = { status: 500, json: { error: { message: `fake upstream handler threw: ${String(error)}` } } };
    }
    try {
      await this.send(reply, request, response);
    } catch {
      // The client went away or close() destroyed the socket: nothing left to answer.
    }
  }

  private async replyFor(request: RecordedRequest): Promise<Reply> {
    const isMatch = (route: Route) => route.method === request.method && matches(route.path, request.path);
    const queued = this.queue.findIndex(isMatch);
    if (queued !== -1) {
      const [route] = this.queue.splice(queued, 1);
      return resolveReply(route!.reply, request);
    }
    const route = this.routes.find(isMatch);
    if (route) return resolveReply(route.reply, request);
    return {
      status: 404,
      json: { error: { type: "not_found", message: `fake upstream: no route for ${request.method} ${request.path}` } },
    };
  }

  private async send(reply: Reply, request: IncomingMessage, response: ServerResponse): Promise<void> {
    if ("drop" in reply) {
      request.socket.destroy();
      return;
    }
    if ("hang" in reply) return;
    if ("sse" in reply) {
      response.writeHead(reply.status ?? 200, {
        "content-type": "text/event-stream",
        "cache-control": "no-cache",
        ...reply.headers,
      });
      response.flushHeaders();
      if (reply.waitFor) await reply.waitFor.catch(() => undefined);
      for (const [index, chunk] of reply.sse.entries()) {
        if (reply.dropAfter !== undefined && index >= reply.dropAfter) {
          request.socket.destroy();
          return;
        }
        if (index > 0 && reply.chunkDelayMs) await this.delay(reply.chunkDelayMs);
        if (response.destroyed) return;
        await write(response, typeof chunk === "string" ? chunk : formatSseEvent(chunk));
      }
      if (reply.dropAfter === reply.sse.length) {
        request.socket.destroy();
        return;
      }
      response.end();
      return;
    }
    if (reply.delayMs) await this.delay(reply.delayMs);
    const headers: Record<string, string> = {};
    let text = reply.body ?? "";
    if (reply.json !== undefined) {
      headers["content-type"] = "application/json";
      text = JSON.stringify(reply.json);
    }
    Object.assign(headers, reply.headers);
    response.writeHead(reply.status ?? 200, headers);
    response.end(text);
  }

  private delay(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.timers.delete(timer);
        resolve();
      }, ms);
      this.timers.add(timer);
    });
  }

  private notifyWaiters(): void {
    this.waiters = this.waiters.filter((waiter) => {
      const current = waiter.path === undefined ? this.requests.slice() : this.requestsTo(waiter.path);
      if (current.length < waiter.count) return true;
      waiter.resolve(current);
      return false;
    });
  }
}

function matches(matcher: PathMatcher, path: string): boolean {
  if (typeof matcher === "string") return matcher === path;
  matcher.lastIndex = 0;
  return matcher.test(path);
}

async function resolveReply(reply: Reply | ReplyHandler, request: RecordedRequest): Promise<Reply> {
  return typeof reply === "function" ? reply(request) : reply;
}

function write(response: ServerResponse, text: string): Promise<void> {
  return new Promise((resolve, reject) => {
    response.write(text, (error) => (error ? reject(error) : resolve()));
  });
}
