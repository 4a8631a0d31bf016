import { execFileSync } from "node:child_process";
import { setMaxListeners } from "node:events";
import { availableParallelism } from "node:os";
import { coalesceAsync } from "promise-coalesce";
import { Bench } from "tinybench";
import { Group } from "../src/index";
import { NaiveCoalescer } from "./naive-coalescer";

// Each task iteration does a batch, so tinybench's own per-iteration cost does not drown the per-call cost.
const sequentialCalls = 1_000;
const herdSize = 10_000;
const value = { ok: true };
const work = () => Promise.resolve(value);

function machine(): string {
  let model = "unknown CPU";
  try {
    const lscpu = execFileSync("lscpu", { encoding: "utf8" });
    model = /Model name:\s*(.+)/.exec(lscpu)?.[1]?.trim() ?? model;
  } catch {
    // lscpu is Linux-only; the table is still useful without the model name.
  }
  return `${model}, ${availableParallelism()} CPUs, Node ${process.version}`;
}

const group = new Group<typeof value>();
const naive = new NaiveCoalescer<typeof value>();
const longLivedSignal = new AbortController().signal;
// Every caller of the signal-carrying tasks shares this one signal: expected, not a leak.
setMaxListeners(0, longLivedSignal);
const keys = Array.from({ length: herdSize }, (_, index) => `key-${index}`);

// Several short rounds, each running every task, then the median per task: on a shared machine the load
// drifts, and one long run per task would charge the drift to whichever task ran at the time.
const rounds = 7;
const roundOptions = { time: 300, warmupTime: 100 };

const uncontended = new Bench({ name: "uncontended", ...roundOptions });
uncontended
  .add("direct await fn() (no coalescing)", async () => {
    for (let index = 0; index < sequentialCalls; index++) await work();
  })
  .add("naive Map<string, Promise>", async () => {
    for (let index = 0; index < sequentialCalls; index++) await naive.do(keys[index]!, work);
  })
  .add("promise-coalesce", async () => {
    for (let index = 0; index < sequentialCalls; index++) await coalesceAsync(keys[index]!, work);
  })
  .add("@subrelay/singleflight Group", async () => {
    for (let index = 0; index < sequentialCalls; index++) await group.do(keys[index]!, work);
  })
  .add("@subrelay/singleflight Group, caller signal", async () => {
    for (let index = 0; index < sequentialCalls; index++) {
      await group.do(keys[index]!, work, { signal: longLivedSignal });
    }
  });

function herdTask(join: (fn: () => Promise<typeof value>) => Promise<unknown>) {
  return async () => {
    let release!: (result: typeof value) => void;
    const gate = new Promise<typeof value>((resolve) => (release = resolve));
    const fn = () => gate;
    const callers: Promise<unknown>[] = new Array(herdSize);
    for (let index = 0; index < herdSize; index++) callers[index] = join(fn);
    release(value);
    await Promise.all(callers);
  };
}

const herd = new Bench({ name: "herd", ...roundOptions });
herd
  .add("naive Map<string, Promise>", herdTask((fn) => naive.do("herd", fn)))
  .add("promise-coalesce", herdTask((fn) => coalesceAsync("herd", fn)))
  .add("@subrelay/singleflight Group", herdTask((fn) => group.do("herd", fn)))
  .add(
    "@subrelay/singleflight Group, caller signals",
    herdTask((fn) => group.do("herd", fn, { signal: longLivedSignal })),
  );

const samples = new Map<string, number[]>();
for (let round = 0; round < rounds; round++) {
  for (const bench of [uncontended, herd]) {
    await bench.run();
    for (const task of bench.tasks) {
      const result = task.result;
      if (result === undefined || !("latency" in result)) throw new Error(`task ${task.name} did not complete`);
      const key = `${bench.name}/${task.name}`;
      samples.set(key, [...(samples.get(key) ?? []), result.latency.mean]);
    }
    bench.reset();
  }
}

/** Median over rounds of each round's mean latency. */
function meanMilliseconds(bench: Bench, name: string): number {
  const values = [...(samples.get(`${bench.name}/${name}`) ?? [])].sort((left, right) => left - right);
  const median = values[Math.floor(values.length / 2)];
  if (median === undefined) throw new Error(`task ${name} did not complete`);
  return median;
}

const directNs = (meanMilliseconds(uncontended, "direct await fn() (no coalescing)") * 1e6) / sequentialCalls;
const naiveNs = (meanMilliseconds(uncontended, "naive Map<string, Promise>") * 1e6) / sequentialCalls;

const lines = [
  `Machine: ${machine()}; median of ${rounds} rounds.`,
  "",
  `Uncontended: ${sequentialCalls} sequential awaited calls on distinct keys per sample; fn returns a resolved promise.`,
  "Overhead = per-call time minus calling and awaiting fn directly.",
  "",
  "| implementation | ns / call | overhead ns / call | overhead vs naive map |",
  "| --- | ---: | ---: | ---: |",
];
for (const task of uncontended.tasks) {
  const perCall = (meanMilliseconds(uncontended, task.name) * 1e6) / sequentialCalls;
  const overhead = perCall - directNs;
  const ratio = task.name.startsWith("direct") ? "—" : `${(overhead / (naiveNs - directNs)).toFixed(2)}x`;
  lines.push(`| ${task.name} | ${perCall.toFixed(0)} | ${overhead.toFixed(0)} | ${ratio} |`);
}
const naiveHerd = meanMilliseconds(herd, "naive Map<string, Promise>");
lines.push(
  "",
  `Herd: ${herdSize.toLocaleString("en-US")} callers join one key, then fn resolves and every caller is awaited.`,
  "",
  "| implementation | ms / herd | ns / caller | vs naive map |",
  "| --- | ---: | ---: | ---: |",
);
for (const task of herd.tasks) {
  const milliseconds = meanMilliseconds(herd, task.name);
  lines.push(
    `| ${task.name} | ${milliseconds.toFixed(2)} | ${((milliseconds * 1e6) / herdSize).toFixed(0)} | ${(milliseconds / naiveHerd).toFixed(2)}x |`,
  );
}
console.log(lines.join("\n"));
