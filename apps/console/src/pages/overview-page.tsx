import { useCallback, useMemo } from "react";
import { Link } from "wouter";
import { accountState, accountStateKinds, needsAttention } from "../account-state";
import { describeAccountState, stateKindLabel } from "../account-state-words";
import { useAccounts, useUsageSeries, useUsageTotals } from "../admin-queries";
import { ErrorMessage } from "../components/error-message";
import { UsageChart, type ChartSeries } from "../components/usage-chart";
import { startOfDay } from "../format";
import { useI18n } from "../i18n/i18n";
import { useNow } from "../use-now";

/** Hours of history the overview chart shows, by the minute. */
const OVERVIEW_HOURS = 6;

export function OverviewPage() {
  const { t, format } = useI18n();
  const now = useNow();
  const accounts = useAccounts();
  const today = startOfDay(now);
  const totals = useUsageTotals(today, "account");
  const series = useUsageSeries(
    ["overview", OVERVIEW_HOURS],
    () => {
      const to = Date.now();
      return { from: to - OVERVIEW_HOURS * 3_600_000, to, step: "minute" };
    },
    { live: true },
  );

  const sums = useMemo(() => {
    const rows = totals.data?.data ?? [];
    const add = (pick: (row: (typeof rows)[number]) => number) =>
      rows.reduce((total, row) => total + pick(row), 0);
    return {
      requests: add((row) => row.requests),
      errors: add((row) => row.errors),
      tokens: add((row) => row.inputTokens + row.outputTokens + row.cacheReadTokens + row.cacheWriteTokens),
      inputTokens: add((row) => row.inputTokens),
      outputTokens: add((row) => row.outputTokens),
      costUsd: add((row) => row.costUsd),
    };
  }, [totals.data]);

  const formatTick = useCallback((at: number) => format.tick(at, OVERVIEW_HOURS * 3_600_000), [format]);
  const states = (accounts.data ?? []).map((account) => ({ account, state: accountState(account, now) }));
  const counts = accountStateKinds.map((kind) => ({
    kind,
    count: states.filter((entry) => entry.state.kind === kind).length,
  }));
  const attention = states.filter((entry) => needsAttention(entry.state));

  const chart = useMemo(() => {
    const data = series.data;
    if (!data) return null;
    const total = data.series[0];
    const requests = total?.requests ?? data.buckets.map(() => 0);
    const errors = total?.errors ?? data.buckets.map(() => 0);
    const lines: ChartSeries[] = [
      { label: t("overview.requestsPerMinute"), values: requests, color: "#2563eb" },
      {
        label: t("overview.errorRate"),
        values: requests.map((count, index) => (count > 0 ? (errors[index] ?? 0) / count : 0)),
        color: "#dc2626",
        scale: "y2",
      },
    ];
    return { timestamps: data.buckets, lines };
  }, [series.data, t]);

  return (
    <>
      <h1>{t("nav.overview")}</h1>
      <section aria-labelledby="today-heading" className="cards">
        <h2 id="today-heading" className="visually-hidden">
          {t("overview.today")}
        </h2>
        <Stat label={t("overview.requestsToday")} value={format.number(sums.requests)} />
        <Stat
          label={t("overview.tokensToday")}
          value={format.number(sums.tokens)}
          detail={t("overview.tokensDetail", {
            input: format.compact(sums.inputTokens),
            output: format.compact(sums.outputTokens),
          })}
        />
        <Stat
          label={t("overview.errorsToday")}
          value={format.number(sums.errors)}
          detail={sums.requests > 0 ? format.percent(sums.errors / sums.requests) : undefined}
        />
        <Stat
          label={t("overview.costToday")}
          value={format.usd(sums.costUsd)}
          detail={sums.requests > 0 ? t("overview.costPerRequest", { cost: format.usd(sums.costUsd / sums.requests) }) : undefined}
        />
        <Stat label={t("overview.accounts")} value={format.number(states.length)} />
      </section>
      <ErrorMessage error={totals.error ?? series.error ?? accounts.error} />

      <section aria-labelledby="traffic-heading" className="panel">
        <h2 id="traffic-heading">{t("overview.traffic", { hours: OVERVIEW_HOURS })}</h2>
        {chart ? (
          <UsageChart
            timestamps={chart.timestamps}
            series={chart.lines}
            label={t("overview.trafficChart", { hours: OVERVIEW_HOURS })}
            formatLeft={format.compact}
            formatRight={format.percent}
            formatTime={formatTick}
          />
        ) : (
          <p className="muted">{t("common.loading")}</p>
        )}
      </section>

      <div className="two-columns">
        <section aria-labelledby="states-heading" className="panel">
          <h2 id="states-heading">{t("overview.byState")}</h2>
          {states.length === 0 && accounts.isSuccess ? (
            <p className="empty">{t("accounts.empty")}</p>
          ) : (
            <ul className="state-counts">
              {counts.map(({ kind, count }) => (
                <li key={kind}>
                  <span className={`state state-${kind}`}>{stateKindLabel(kind, t)}</span>
                  <span className="count">{format.number(count)}</span>
                </li>
              ))}
            </ul>
          )}
        </section>
        <section aria-labelledby="attention-heading" className="panel">
          <h2 id="attention-heading">{t("overview.attention")}</h2>
          {attention.length === 0 ? (
            <p className="empty">{t("overview.attentionEmpty")}</p>
          ) : (
            <table className="table">
              <thead>
                <tr>
                  <th scope="col">{t("accounts.name")}</th>
                  <th scope="col">{t("accounts.state")}</th>
                  <th scope="col">{t("overview.reason")}</th>
                </tr>
              </thead>
              <tbody>
                {attention.map(({ account, state }) => {
                  // The reason has its own column here: the state says "error" without repeating it.
                  const words = describeAccountState(
                    { kind: state.kind, ...(state.until ? { until: state.until } : {}) },
                    t,
                    format,
                    now,
                  );
                  return (
                    <tr key={account.id}>
                      <th scope="row">
                        <Link href="/accounts">{account.name}</Link>
                      </th>
                      <td>
                        <span className={`state state-${state.kind}`}>{words.text}</span>
                        {words.countdown ? <span className="countdown"> ({words.countdown})</span> : null}
                      </td>
                      <td>{state.reason ?? "—"}</td>
                    </tr>
                  );
                })}
              </tbody>
            </table>
          )}
        </section>
      </div>
    </>
  );
}

function Stat({ label, value, detail }: { label: string; value: string; detail?: string | undefined }) {
  return (
    <div className="card">
      <div className="card-label">{label}</div>
      <div className="card-value">{value}</div>
      {detail ? <div className="card-detail">{detail}</div> : null}
    </div>
  );
}
