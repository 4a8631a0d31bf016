import { getEventListeners, setMaxListeners } from "node:events";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { afterEach, describe, expect, it } from "vitest";
import { Group } from "./group";

interface Deferred<T> {
  promise: Promise<T>;
  resolve: (value: T) => void;
  reject: (reason: unknown) => void;
}

function deferred<T>(): Deferred<T> {
  let resolve!: (value: T) => void;
  let reject!: (reason: unknown) => void;
  const promise = new Promise<T>((resolvePromise, rejectPromise) => {
    resolve = resolvePromise;
    reject = rejectPromise;
  });
  return { promise, resolve, reject };
}

/** One full event-loop turn: pending microtasks, then Node's unhandled-rejection processing, have run. */
function nextMacrotask(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/** Records what each call of a fake `fn` received, and lets the test settle each call by hand. */
function controllableWork<T>() {
  const calls: { signal: AbortSignal; outcome: Deferred<T> }[] = [];
  const fn = (signal: AbortSignal): Promise<T> => {
    const outcome = deferred<T>();
    calls.push({ signal, outcome });
    return outcome.promise;
  };
  return { fn, calls };
}

function abortListenerCount(signal: AbortSignal): number {
  return getEventListeners(signal, "abort").length;
}

describe("Group", () => {
  describe("1. concurrent callers of one key share one execution", () => {
    it("runs fn once and gives every caller the same value", async () => {
      const group = new Group<{ id: number }>();
      const work = controllableWork<{ id: number }>();
      const callers = Array.from({ length: 5 }, () => group.do("key", work.fn));
      expect(work.calls).toHaveLength(1);
      const value = { id: 1 };
      work.calls[0]!.outcome.resolve(value);
      const results = await Promise.all(callers);
      for (const result of results) expect(result.value).toBe(value);
    });

    it("rejects every caller with the same error object", async () => {
      const group = new Group();
      const work = controllableWork();
      const callers = Array.from({ length: 3 }, () => group.do("key", work.fn));
      const error = new Error("upstream down");
      work.calls[0]!.outcome.reject(error);
      const outcomes = await Promise.allSettled(callers);
      expect(work.calls).toHaveLength(1);
      for (const outcome of outcomes) {
        expect(outcome.status).toBe("rejected");
        expect((outcome as PromiseRejectedResult).reason).toBe(error);
      }
    });

    it("runs different keys concurrently without one blocking another", async () => {
      const group = new Group<string>();
      const work = controllableWork<string>();
      const first = group.do("a", work.fn);
      const second = group.do("b", work.fn);
      expect(work.calls).toHaveLength(2);
      expect(group.size).toBe(2);
      work.calls[1]!.outcome.resolve("b-value");
      await expect(second).resolves.toEqual({ value: "b-value", shared: false });
      expect(group.has("a")).toBe(true);
      work.calls[0]!.outcome.resolve("a-value");
      await expect(first).resolves.toEqual({ value: "a-value", shared: false });
    });
  });

  describe("2. nothing is cached", () => {
    it("frees the key when the call settles, so the next do runs fn again", async () => {
      const group = new Group<number>();
      let runs = 0;
      const fn = async () => ++runs;
      await expect(group.do("key", fn)).resolves.toEqual({ value: 1, shared: false });
      expect(group.has("key")).toBe(false);
      expect(group.size).toBe(0);
      await expect(group.do("key", fn)).resolves.toEqual({ value: 2, shared: false });
    });

    it("frees the key after a rejection too", async () => {
      const group = new Group<number>();
      let runs = 0;
      const fn = async () => {
        runs++;
        throw new Error(`run ${runs}`);
      };
      await expect(group.do("key", fn)).rejects.toThrow("run 1");
      expect(group.has("key")).toBe(false);
      await expect(group.do("key", fn)).rejects.toThrow("run 2");
    });
  });

  describe("3. shared", () => {
    it("is false for a lone caller", async () => {
      const group = new Group<string>();
      await expect(group.do("key", () => "value")).resolves.toEqual({ value: "value", shared: false });
      const controller = new AbortController();
      await expect(group.do("key", () => "value", { signal: controller.signal })).resolves.toEqual({
        value: "value",
        shared: false,
      });
    });

    it("is true for every caller, the first included, when several received the outcome", async () => {
      const group = new Group<string>();
      const work = controllableWork<string>();
      const withSignal = new AbortController();
      const callers = [
        group.do("key", work.fn),
        group.do("key", work.fn, { signal: withSignal.signal }),
        group.do("key", work.fn),
      ];
      work.calls[0]!.outcome.resolve("value");
      const results = await Promise.all(callers);
      expect(results).toEqual([
        { value: "value", shared: true },
        { value: "value", shared: true },
        { value: "value", shared: true },
      ]);
    });

    it("does not count callers that aborted before the outcome arrived", async () => {
      const group = new Group<string>();
      const work = controllableWork<string>();
      const leaver = new AbortController();
      const stayer = group.do("key", work.fn);
      const left = group.do("key", work.fn, { signal: leaver.signal });
      leaver.abort(new Error("gone"));
      await expect(left).rejects.toThrow("gone");
      work.calls[0]!.outcome.resolve("value");
      await expect(stayer).resolves.toEqual({ value: "value", shared: false });
    });

    it("is true for a rejection's receivers as well: they share the same error", async () => {
      const group = new Group();
      const work = controllableWork();
      const callers = [group.do("key", work.fn), group.do("key", work.fn)];
      const error = new Error("boom");
      work.calls[0]!.outcome.reject(error);
      for (const outcome of await Promise.allSettled(callers)) {
        expect(outcome).toEqual({ status: "rejected", reason: error });
      }
    });
  });

  describe("4. synchronous throws", () => {
    it("turn into a rejection and free the key", async () => {
      const group = new Group();
      const error = new Error("sync");
      const promise = group.do("key", () => {
        throw error;
      });
      expect(promise).toBeInstanceOf(Promise);
      await expect(promise).rejects.toBe(error);
      expect(group.has("key")).toBe(false);
      await expect(group.do("key", () => "again")).resolves.toEqual({ value: "again", shared: false });
    });

    it("pass non-Error values through unchanged", async () => {
      const group = new Group();
      const thrown = { code: 42 };
      await expect(
        group.do("key", () => {
          throw thrown;
        }),
      ).rejects.toBe(thrown);
      await expect(
        group.do("key", () => {
          throw "a string";
        }),
      ).rejects.toBe("a string");
      await expect(
        group.do("key", () => {
          throw undefined;
        }),
      ).rejects.toBeUndefined();
      // eslint-disable-next-line @typescript-eslint/prefer-promise-reject-errors -- the point of the test
      await expect(group.do("key", () => Promise.reject(thrown))).rejects.toBe(thrown);
      expect(group.size).toBe(0);
    });

    it("reach a caller that joined with a signal, and a thenable that throws is a rejection", async () => {
      const group = new Group();
      const controller = new AbortController();
      const error = new Error("sync");
      await expect(
        group.do(
          "key",
          () => {
            throw error;
          },
          { signal: controller.signal },
        ),
      ).rejects.toBe(error);
      const badThenable = {
        then() {
          throw error;
        },
      };
      await expect(group.do("key", () => badThenable)).rejects.toBe(error);
      expect(group.size).toBe(0);
    });
  });

  describe("5. forget", () => {
    it("makes the next do start a fresh call, and the old call's settlement leaves the new entry alone", async () => {
      const group = new Group<string>();
      const work = controllableWork<string>();
      const old = group.do("key", work.fn);
      group.forget("key");
      expect(group.has("key")).toBe(false);

      const fresh = group.do("key", work.fn);
      expect(work.calls).toHaveLength(2);
      work.calls[0]!.outcome.resolve("old");
      await expect(old).resolves.toEqual({ value: "old", shared: false });

      // The old call settled after forget: it must not have deleted the fresh call's entry.
      expect(group.has("key")).toBe(true);
      const joiner = group.do("key", work.fn);
      expect(work.calls).toHaveLength(2);
      work.calls[1]!.outcome.resolve("fresh");
      await expect(fresh).resolves.toEqual({ value: "fresh", shared: true });
      await expect(joiner).resolves.toEqual({ value: "fresh", shared: true });
      expect(group.size).toBe(0);
    });

    it("lets the forgotten call's callers still receive its outcome, also when it rejects", async () => {
      const group = new Group();
      const work = controllableWork();
      const callers = [group.do("key", work.fn), group.do("key", work.fn)];
      group.forget("key");
      const fresh = group.do("key", work.fn);
      const error = new Error("old failed");
      work.calls[0]!.outcome.reject(error);
      for (const outcome of await Promise.allSettled(callers)) {
        expect(outcome).toEqual({ status: "rejected", reason: error });
      }
      expect(group.has("key")).toBe(true);
      work.calls[1]!.outcome.resolve("ok");
      await expect(fresh).resolves.toEqual({ value: "ok", shared: false });
    });

    it("of a call whose callers all abort afterwards leaves the new entry alone", async () => {
      const group = new Group();
      const work = controllableWork();
      const controller = new AbortController();
      const old = group.do("key", work.fn, { signal: controller.signal });
      group.forget("key");
      const fresh = group.do("key", work.fn);
      controller.abort(new Error("left"));
      await expect(old).rejects.toThrow("left");
      expect(work.calls[0]!.signal.aborted).toBe(true);
      expect(group.has("key")).toBe(true);
      work.calls[1]!.outcome.resolve("fresh");
      await expect(fresh).resolves.toEqual({ value: "fresh", shared: false });
    });

    it("is a no-op for a key with no call in flight", () => {
      const group = new Group();
      group.forget("missing");
      expect(group.size).toBe(0);
    });
  });

  describe("6. per-caller cancellation", () => {
    it("rejects an aborting caller at once with its reason while the others keep waiting", async () => {
      const group = new Group<string>();
      const work = controllableWork<string>();
      const controller = new AbortController();
      const stayer = group.do("key", work.fn);
      const leaver = group.do("key", work.fn, { signal: controller.signal });
      const reason = new Error("client went away");
      controller.abort(reason);
      // fn's outcome is still pending here: the rejection cannot have come from it.
      await expect(leaver).rejects.toBe(reason);
      expect(work.calls[0]!.signal.aborted).toBe(false);
      expect(group.has("key")).toBe(true);
      work.calls[0]!.outcome.resolve("value");
      await expect(stayer).resolves.toEqual({ value: "value", shared: false });
    });

    it("keeps fn running when the leader aborts but a follower still waits", async () => {
      const group = new Group<string>();
      const work = controllableWork<string>();
      const leader = new AbortController();
      const follower = new AbortController();
      const first = group.do("key", work.fn, { signal: leader.signal });
      const second = group.do("key", work.fn, { signal: follower.signal });
      leader.abort();
      await expect(first).rejects.toBe(leader.signal.reason);
      expect(work.calls[0]!.signal.aborted).toBe(false);
      work.calls[0]!.outcome.resolve("value");
      await expect(second).resolves.toEqual({ value: "value", shared: false });
    });

    it("aborts fn's signal only once every caller aborted, then frees the key for a fresh call", async () => {
      const group = new Group<string>();
      const work = controllableWork<string>();
      const controllers = [new AbortController(), new AbortController(), new AbortController()];
      const callers = controllers.map((controller) => group.do("key", work.fn, { signal: controller.signal }));
      const fnSignal = work.calls[0]!.signal;

      controllers[0]!.abort(new Error("first"));
      controllers[1]!.abort(new Error("second"));
      expect(fnSignal.aborted).toBe(false);
      expect(group.has("key")).toBe(true);

      const lastReason = new Error("third");
      controllers[2]!.abort(lastReason);
      expect(fnSignal.aborted).toBe(true);
      expect(fnSignal.reason).toBe(lastReason);
      expect(group.has("key")).toBe(false);
      const outcomes = await Promise.allSettled(callers);
      expect(outcomes.map((outcome): unknown => (outcome as PromiseRejectedResult).reason)).toEqual([
        controllers[0]!.signal.reason,
        controllers[1]!.signal.reason,
        lastReason,
      ]);

      const fresh = group.do("key", work.fn);
      expect(work.calls).toHaveLength(2);
      expect(work.calls[1]!.signal.aborted).toBe(false);
      // The cancelled call finishing late must not disturb the fresh one.
      work.calls[0]!.outcome.resolve("stale");
      await nextMacrotask();
      expect(group.has("key")).toBe(true);
      work.calls[1]!.outcome.resolve("fresh");
      await expect(fresh).resolves.toEqual({ value: "fresh", shared: false });
    });

    it("keeps fn running for a signal-less follower when the leader with a signal aborts", async () => {
      const group = new Group<string>();
      const work = controllableWork<string>();
      const leader = new AbortController();
      const first = group.do("key", work.fn, { signal: leader.signal });
      const second = group.do("key", work.fn);
      const third = group.do("key", work.fn);
      leader.abort();
      await expect(first).rejects.toBe(leader.signal.reason);
      expect(work.calls[0]!.signal.aborted).toBe(false);
      work.calls[0]!.outcome.resolve("value");
      await expect(second).resolves.toEqual({ value: "value", shared: true });
      await expect(third).resolves.toEqual({ value: "value", shared: true });
    });

    it("never aborts fn's signal while a caller without a signal waits", async () => {
      const group = new Group<string>();
      const work = controllableWork<string>();
      const controller = new AbortController();
      const patient = group.do("key", work.fn);
      const impatient = group.do("key", work.fn, { signal: controller.signal });
      controller.abort();
      await expect(impatient).rejects.toBe(controller.signal.reason);
      expect(work.calls[0]!.signal.aborted).toBe(false);
      work.calls[0]!.outcome.resolve("value");
      await expect(patient).resolves.toEqual({ value: "value", shared: false });
    });

    it("rejects an already-aborted signal without running or joining fn", async () => {
      const group = new Group<string>();
      const work = controllableWork<string>();
      const reason = new Error("already gone");
      const aborted = AbortSignal.abort(reason);
      await expect(group.do("key", work.fn, { signal: aborted })).rejects.toBe(reason);
      expect(work.calls).toHaveLength(0);
      expect(group.size).toBe(0);

      const running = group.do("key", work.fn);
      await expect(group.do("key", work.fn, { signal: aborted })).rejects.toBe(reason);
      work.calls[0]!.outcome.resolve("value");
      // The already-aborted caller never joined, so the leader was alone.
      await expect(running).resolves.toEqual({ value: "value", shared: false });
      expect(abortListenerCount(aborted)).toBe(0);
    });

    it("ignores an abort that comes after the caller received the outcome", async () => {
      const group = new Group<string>();
      const controller = new AbortController();
      const result = await group.do("key", async () => "value", { signal: controller.signal });
      controller.abort();
      expect(result).toEqual({ value: "value", shared: false });
    });

    it("removes its listeners from caller signals when the call settles or the caller leaves", async () => {
      const group = new Group<string>();
      const longLived = new AbortController();
      const work = controllableWork<string>();
      const first = group.do("a", work.fn, { signal: longLived.signal });
      const second = group.do("b", work.fn, { signal: longLived.signal });
      // One listener per signal however many waits it covers (Node's listener list is O(n) per add).
      expect(abortListenerCount(longLived.signal)).toBe(1);
      work.calls[0]!.outcome.resolve("a");
      work.calls[1]!.outcome.reject(new Error("b"));
      await first;
      await expect(second).rejects.toThrow("b");
      expect(abortListenerCount(longLived.signal)).toBe(0);

      const leaving = new AbortController();
      const stayer = group.do("c", work.fn);
      const leaver = group.do("c", work.fn, { signal: leaving.signal });
      leaving.abort();
      await expect(leaver).rejects.toBe(leaving.signal.reason);
      expect(abortListenerCount(leaving.signal)).toBe(0);
      work.calls[2]!.outcome.resolve("c");
      await stayer;
    });
  });

  describe("7. no unhandled rejections", () => {
    const unhandled: unknown[] = [];
    const record = (reason: unknown) => unhandled.push(reason);
    afterEach(() => {
      process.off("unhandledRejection", record);
    });

    it("when every caller left and fn rejects later, or throws, or a thenable rejects", async () => {
      unhandled.length = 0;
      process.on("unhandledRejection", record);
      const group = new Group();
      const work = controllableWork();
      const controllers = [new AbortController(), new AbortController()];
      const callers = controllers.map((controller) => group.do("key", work.fn, { signal: controller.signal }));
      for (const controller of controllers) controller.abort();
      await Promise.allSettled(callers);
      work.calls[0]!.outcome.reject(new Error("late failure"));
      await work.calls[0]!.outcome.promise.catch(() => undefined);

      // A signal-carrying leader that left before a sync throw surfaced, and a non-native thenable.
      const leaver = new AbortController();
      const abandoned = group.do(
        "sync",
        (signal) => {
          leaver.abort();
          expect(signal.aborted).toBe(true);
          throw new Error("sync failure after everyone left");
        },
        { signal: leaver.signal },
      );
      await expect(abandoned).rejects.toBe(leaver.signal.reason);
      const thenable = { then: (_: unknown, onRejected: (reason: unknown) => void) => onRejected("thenable") };
      const controller = new AbortController();
      const viaThenable = group.do("thenable", () => thenable, { signal: controller.signal });
      controller.abort();
      await expect(viaThenable).rejects.toBe(controller.signal.reason);

      await nextMacrotask();
      await nextMacrotask();
      expect(unhandled).toEqual([]);
      expect(group.size).toBe(0);
    });

    it("is observable by the listener the test relies on (control)", async () => {
      unhandled.length = 0;
      process.on("unhandledRejection", record);
      const reason = new Error("deliberately unhandled");
      // Without a handler this rejection must be reported; if not, the test above proves nothing.
      void Promise.reject(reason);
      await nextMacrotask();
      expect(unhandled).toEqual([reason]);
    });
  });

  describe("8. no leak", () => {
    it("holds nothing after 100,000 settled calls over 100,000 distinct keys", async () => {
      setFlagsFromString("--expose-gc");
      const collectGarbage = runInNewContext("gc") as () => void;
      const group = new Group<object>();
      const longLived = new AbortController().signal;
      setMaxListeners(0, longLived);
      const values: WeakRef<object>[] = [];
      const functions: WeakRef<object>[] = [];
      const callerSignals: WeakRef<AbortSignal>[] = [];
      let fnSignals = new Set<AbortSignal>();
      const fnSignalReferences: WeakRef<AbortSignal>[] = [];
      const total = 100_000;
      const batch = 10_000;
      for (let start = 0; start < total; start += batch) {
        const pending: Promise<unknown>[] = [];
        for (let index = start; index < start + batch; index++) {
          const fn = async (signal: AbortSignal) => {
            fnSignals.add(signal);
            const value = { index };
            values.push(new WeakRef(value));
            return value;
          };
          functions.push(new WeakRef(fn));
          // A third of the callers pass no signal, a third a long-lived one, a third their own.
          let signal: AbortSignal | undefined;
          if (index % 3 === 1) signal = longLived;
          if (index % 3 === 2) {
            signal = new AbortController().signal;
            callerSignals.push(new WeakRef(signal));
          }
          pending.push(group.do(`key-${index}`, fn, { signal }));
        }
        expect(group.size).toBe(batch);
        await Promise.all(pending);
      }
      expect(group.size).toBe(0);
      expect(group.has("key-0")).toBe(false);
      expect(abortListenerCount(longLived)).toBe(0);
      for (const signal of fnSignals) fnSignalReferences.push(new WeakRef(signal));
      fnSignals = new Set();

      // WeakRef targets stay alive until the current job ends, so collect on a later turn.
      await nextMacrotask();
      collectGarbage();
      await nextMacrotask();
      collectGarbage();
      const live = (references: WeakRef<object>[]) => references.filter((reference) => reference.deref()).length;
      expect(values).toHaveLength(total);
      expect(callerSignals.length).toBeGreaterThan(30_000);
      // fn signals: a real one per cancellable call, plus the never-aborting ones shared by the rest, of
      // which only the one currently handed out may survive.
      expect(fnSignalReferences.length).toBeGreaterThan(total / 2);
      expect({
        values: live(values),
        functions: live(functions),
        callerSignals: live(callerSignals),
        fnSignals: live(fnSignalReferences),
      }).toEqual({ values: 0, functions: 0, callerSignals: 0, fnSignals: 1 });
    });
  });
});
