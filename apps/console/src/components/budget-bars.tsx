import type { ApiKeyBudgetField, ApiKeyLimits } from "../admin-types";
import { useI18n } from "../i18n/i18n";
import type { MessageKey } from "../i18n/messages-en";

/** A key's spend so far, USD, in each budget's window; undefined while unknown. */
export type KeySpend = Partial<Record<ApiKeyBudgetField, number>>;

const windows: ReadonlyArray<{ field: ApiKeyBudgetField; label: MessageKey }> = [
  { field: "costPerDayUsd", label: "limits.windowToday" },
  { field: "costPerWeekUsd", label: "limits.windowWeek" },
  { field: "costPerMonthUsd", label: "limits.windowMonth" },
  { field: "costTotalUsd", label: "limits.windowTotal" },
];

/**
 * Each budget of a key as a bar: the spend in its window against the budget, in words ("today: $0.12 of
 * $5.00") for everyone and as a bar for the eye. A reached budget is marked: the gateway refuses the key's
 * next requests in that window.
 */
export function BudgetBars({ limits, spend }: { limits: ApiKeyLimits | null | undefined; spend: KeySpend }) {
  const { t, format } = useI18n();
  const budgets = windows.filter(({ field }) => limits?.[field] !== undefined);
  if (budgets.length === 0) return <span className="muted">{t("limits.noBudget")}</span>;
  return (
    <ul className="budget-bars">
      {budgets.map(({ field, label }) => {
        const budget = limits![field]!;
        const spent = spend[field];
        const ratio = spent === undefined ? 0 : budget > 0 ? Math.min(1, spent / budget) : 1;
        const reached = spent !== undefined && spent >= budget;
        return (
          <li key={field} className={reached ? "budget reached" : "budget"}>
            <span className="budget-words">
              {t("limits.spentOf", {
                window: t(label),
                spent: spent === undefined ? "…" : format.usd(spent),
                budget: format.usd(budget),
              })}
              {reached ? ` — ${t("limits.reached")}` : ""}
            </span>
            <span className="budget-track" aria-hidden="true">
              <span className="budget-fill" style={{ width: `${(ratio * 100).toFixed(1)}%` }} />
            </span>
          </li>
        );
      })}
    </ul>
  );
}
