import { setMaxListeners } from "node:events";

/** Handouts before a fresh signal replaces the current one. */
const handoutsPerSignal = 1024;

let current: AbortSignal | undefined;
let handouts = 0;

/**
 * A signal that never aborts, for calls no caller can cancel. Creating an AbortSignal costs several
 * microseconds on Node 20, more than the rest of a call, so calls share one; it is replaced every
 * {@link handoutsPerSignal} handouts so that listeners a careless `fn` never removes die with the calls
 * that used it instead of piling up on one immortal signal.
 */
export function idleSignal(): AbortSignal {
  if (current === undefined || ++handouts > handoutsPerSignal) {
    current = new AbortController().signal;
    // Many concurrent calls each adding a listener (fetch does) is expected here, not a leak.
    setMaxListeners(0, current);
    handouts = 1;
  }
  return current;
}
