import { useCallback, useState } from "react";
import { BUDGET_TIME_ZONE_STORAGE_KEY, DEFAULT_BUDGET_TIME_ZONE, isTimeZone } from "./budget-windows";

/**
 * The zone the console counts key budgets' calendar windows in: the operator's remembered choice (it should be
 * the gateway's `BUDGET_TIMEZONE`, which the admin API does not report), else the gateway's default, UTC.
 */
export function useBudgetTimeZone(
  storage: Pick<Storage, "getItem" | "setItem"> | undefined = globalThis.localStorage,
): [string, (timeZone: string) => void] {
  const [timeZone, setState] = useState(() => {
    const stored = storage?.getItem(BUDGET_TIME_ZONE_STORAGE_KEY);
    return stored && isTimeZone(stored) ? stored : DEFAULT_BUDGET_TIME_ZONE;
  });
  const setTimeZone = useCallback(
    (next: string) => {
      storage?.setItem(BUDGET_TIME_ZONE_STORAGE_KEY, next);
      setState(next);
    },
    [storage],
  );
  return [timeZone, setTimeZone];
}
