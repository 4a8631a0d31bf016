// The benchmark's load generator: keep-alive HTTP/1.1 over raw sockets, one request in flight per
// connection, latencies timed in microseconds (autocannon rounds them to whole milliseconds, which hides
// everything this benchmark is about).
//
// Two ways to drive a target:
// - closed loop (no `rate`): each connection sends its next request as soon as the answer is in. This
//   finds the throughput; latency then is mostly time spent queued behind other connections' requests.
// - open loop (`rate` requests/s over all connections): requests are due on a fixed schedule whether or
//   not earlier ones have been answered. A due request that finds every connection busy waits, and that
//   wait counts in its latency, so a stalling target cannot hide its stalls by slowing the sender down.
import { connect, type Socket } from "node:net";

export interface LoadOptions {
  url: string;
  path: string;
  headers: Record<string, string>;
  body: string;
  connections: number;
  durationMs: number;
  /** Requests per second over all connections; omitted: closed loop. */
  rate?: number;
}

export interface LoadResult {
  requests: number;
  /** Open loop: requests that fell due but found no free connection before the run ended. */
  unsent: number;
  /** Answers other than 2xx, and connection failures. */
  errors: number;
  rps: number;
  /** Latency in milliseconds. */
  mean: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
}

const CRLF_CRLF = Buffer.from("\r\n\r\n");

/**
 * Reads one HTTP/1.1 response at a time off a keep-alive connection: status line, headers, then a body
 * framed by Content-Length or chunked transfer coding. `push` returns the status once the response is whole.
 */
class ResponseReader {
  private buffer: Buffer = Buffer.alloc(0);
  private status = 0;
  private bodyStart = -1;
  private contentLength = -1;
  private chunked = false;
  /** Chunked: where the next chunk-size line starts. */
  private cursor = 0;

  push(data: Buffer): number | null {
    this.buffer = this.buffer.length === 0 ? data : Buffer.concat([this.buffer, data]);
    if (this.bodyStart < 0) {
      const end = this.buffer.indexOf(CRLF_CRLF);
      if (end < 0) return null;
      const head = this.buffer.subarray(0, end).toString("latin1");
      this.status = Number(head.slice(9, 12));
      const lower = head.toLowerCase();
      const length = /\r\ncontent-length:\s*(\d+)/.exec(lower);
      this.contentLength = length ? Number(length[1]) : -1;
      this.chunked = /\r\ntransfer-encoding:[^\r]*chunked/.test(lower);
      this.bodyStart = end + 4;
      this.cursor = this.bodyStart;
    }
    return this.complete() ? this.reset() : null;
  }

  private complete(): boolean {
    if (this.contentLength >= 0) return this.buffer.length - this.bodyStart >= this.contentLength;
    if (!this.chunked) throw new Error("response without Content-Length or chunked coding");
    for (;;) {
      const lineEnd = this.buffer.indexOf("\r\n", this.cursor, "latin1");
      if (lineEnd < 0) return false;
      const size = parseInt(this.buffer.subarray(this.cursor, lineEnd).toString("latin1"), 16);
      // The last chunk is "0\r\n" and then the empty line that ends the (absent) trailers.
      const next = lineEnd + 2 + size + 2;
      if (this.buffer.length < next) return false;
      if (size === 0) return true;
      this.cursor = next;
    }
  }

  private reset(): number {
    const status = this.status;
    this.buffer = Buffer.alloc(0);
    this.bodyStart = -1;
    this.cursor = 0;
    return status;
  }
}

/** Latencies in microseconds, kept whole: a run is at most a few hundred thousand requests. */
class Latencies {
  private values = new Float64Array(1 << 16);
  count = 0;

  add(micros: number): void {
    if (this.count === this.values.length) {
      const grown = new Float64Array(this.values.length * 2);
      grown.set(this.values);
      this.values = grown;
    }
    this.values[this.count++] = micros;
  }

  summary(): Pick<LoadResult, "mean" | "p50" | "p90" | "p99" | "max"> {
    const sorted = this.values.subarray(0, this.count).sort();
    const at = (q: number) => (sorted.length === 0 ? 0 : sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]! / 1000);
    let sum = 0;
    for (const value of sorted) sum += value;
    return { mean: sorted.length === 0 ? 0 : sum / sorted.length / 1000, p50: at(0.5), p90: at(0.9), p99: at(0.99), max: at(1) };
  }
}

const microsNow = () => performance.now() * 1000;

export async function runLoad(options: LoadOptions): Promise<LoadResult> {
  const target = new URL(options.url);
  const body = Buffer.from(options.body);
  const headerLines = Object.entries({ ...options.headers, host: target.host, "content-length": String(body.length) })
    .map(([name, value]) => `${name}: ${value}\r\n`)
    .join("");
  const request = Buffer.concat([Buffer.from(`POST ${options.path} HTTP/1.1\r\n${headerLines}\r\n`, "latin1"), body]);

  const latencies = new Latencies();
  let errors = 0;
  let stopping = false;
  const idle: Connection[] = [];
  /** Open loop: when each waiting request became due (µs). */
  const due: number[] = [];
  let inFlight = 0;
  let finish: () => void = () => {};
  const finished = new Promise<void>((resolve) => {
    finish = resolve;
  });

  class Connection {
    private readonly socket: Socket;
    private readonly reader = new ResponseReader();
    private startedAt = 0;
    private busy = false;

    constructor(ready: () => void) {
      this.socket = connect({ host: target.hostname, port: Number(target.port), noDelay: true }, ready);
      this.socket.on("data", (data: Buffer) => {
        const status = this.reader.push(data);
        if (status === null) return;
        latencies.add(microsNow() - this.startedAt);
        if (status < 200 || status >= 300) errors += 1;
        this.done();
      });
      this.socket.on("error", () => {
        errors += 1;
      });
      // A connection the target drops takes its request with it; the run goes on without it.
      this.socket.on("close", () => {
        if (!this.busy) return;
        this.busy = false;
        inFlight -= 1;
        if (stopping && inFlight === 0) finish();
      });
    }

    send(startedAt: number): void {
      inFlight += 1;
      this.busy = true;
      this.startedAt = startedAt;
      this.socket.write(request);
    }

    private done(): void {
      inFlight -= 1;
      this.busy = false;
      if (stopping) {
        if (inFlight === 0) finish();
        return;
      }
      if (options.rate === undefined) this.send(microsNow());
      else if (due.length > 0) this.send(due.shift()!);
      else idle.push(this);
    }

    close(): void {
      this.socket.destroy();
    }
  }

  const connections: Connection[] = [];
  await Promise.all(
    Array.from({ length: options.connections }, () => new Promise<void>((resolve) => connections.push(new Connection(resolve)))),
  );

  const startedAt = microsNow();
  const endAt = startedAt + options.durationMs * 1000;
  let pacer: NodeJS.Timeout | undefined;
  if (options.rate === undefined) {
    for (const connection of connections) connection.send(microsNow());
  } else {
    idle.push(...connections);
    const intervalMicros = 1e6 / options.rate;
    let sent = 0;
    // Node's timers tick at best every millisecond: each tick releases every request that has fallen
    // due since the last, timed from that tick (the earliest this process could have sent it).
    const tick = () => {
      const now = microsNow();
      while (startedAt + sent * intervalMicros <= now && now < endAt) {
        sent += 1;
        const connection = idle.pop();
        if (connection) connection.send(now);
        else due.push(now);
      }
    };
    pacer = setInterval(tick, 1);
  }

  await new Promise<void>((resolve) => setTimeout(resolve, options.durationMs));
  stopping = true;
  clearInterval(pacer);
  if (inFlight > 0) await finished;
  const elapsedSeconds = (microsNow() - startedAt) / 1e6;
  for (const connection of connections) connection.close();
  return { requests: latencies.count, unsent: due.length, errors, rps: latencies.count / elapsedSeconds, ...latencies.summary() };
}
