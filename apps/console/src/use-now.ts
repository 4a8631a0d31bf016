import { useEffect, useState } from "react";

/** The time (epoch ms), re-read every `intervalMs` (default 1 s), so countdowns and timed states move on screen. */
export function useNow(intervalMs = 1_000, clock: () => number = Date.now): number {
  const [now, setNow] = useState(clock);
  useEffect(() => {
    const timer = setInterval(() => setNow(clock()), intervalMs);
    return () => clearInterval(timer);
  }, [intervalMs, clock]);
  return now;
}
