import { useCallback, useMemo, useState } from "react";
import { Link } from "wouter";
import { useUsageSeries } from "../admin-queries";
import type { UsageGroupBy } from "../admin-types";
import { DataTable } from "../components/data-table";
import { ErrorMessage } from "../components/error-message";
import { Field } from "../components/field";
import { chartColors, UsageChart, type ChartSeries } from "../components/usage-chart";
import { fromDateTimeLocal, toDateTimeLocal } from "../format";
import { useI18n } from "../i18n/i18n";
import type { MessageKey } from "../i18n/messages-en";
import { usageCsv } from "../usage-csv";
import { presetRange, rangePresets, stepFor, type RangePreset } from "../usage-range";
import { summariseSeries, tokensPerBucket, type UsageLineTotals } from "../usage-summary";

type Range = { kind: "preset"; preset: RangePreset } | { kind: "custom"; from: number; to: number };
type Split = UsageGroupBy | "none";
type Metric = "requests" | "tokens" | "cost";
const metricLabels: Record<Metric, MessageKey> = {
  requests: "usage.requests",
  tokens: "usage.tokens",
  cost: "usage.cost",
};

const presetLabels: Record<RangePreset, MessageKey> = {
  "1h": "usage.lastHour",
  "24h": "usage.last24h",
  "7d": "usage.last7d",
  "30d": "usage.last30d",
};
const splitLabels: Record<Split, MessageKey> = {
  none: "usage.splitNone",
  account: "usage.splitAccount",
  key: "usage.splitKey",
  model: "usage.splitModel",
};
/** Lines drawn at most; the table lists every one. */
const MAX_LINES = chartColors.length;

export function UsagePage() {
  const { t, format } = useI18n();
  const [range, setRange] = useState<Range>({ kind: "preset", preset: "24h" });
  const [split, setSplit] = useState<Split>("none");
  const [metric, setMetric] = useState<Metric>("requests");
  const [customFrom, setCustomFrom] = useState(() => toDateTimeLocal(Date.now() - 3 * 3_600_000));
  const [customTo, setCustomTo] = useState(() => toDateTimeLocal(Date.now()));
  const [customProblem, setCustomProblem] = useState<string | null>(null);

  const series = useUsageSeries(
    [range.kind === "preset" ? range.preset : `${range.from}-${range.to}`, split],
    () => {
      const bounds =
        range.kind === "preset"
          ? presetRange(range.preset, Date.now())
          : { from: range.from, to: range.to, step: stepFor(range.from, range.to) };
      return { ...bounds, ...(split === "none" ? {} : { groupBy: split }) };
    },
    { live: range.kind === "preset" },
  );

  const totals = useMemo(() => summariseSeries(series.data?.series ?? []), [series.data]);
  /** A series' name in words: the gateway's name, else why it has none. */
  const labelOf = useCallback(
    (line: UsageLineTotals) =>
      split === "none"
        ? t("usage.total")
        : (line.name ?? (line.key === null ? t("usage.noKey") : t("usage.deleted", { key: line.key }))),
    [split, t],
  );
  const chart = useMemo(() => {
    const data = series.data;
    if (!data) return null;
    const drawn = totals
      .slice(0, MAX_LINES)
      .map((line) => ({ line: data.series[line.index]!, label: labelOf(line) }));
    const lines: ChartSeries[] = drawn.map(({ line, label }, index) => ({
      label: split === "none" ? t(metricLabels[metric]) : label,
      values: metric === "requests" ? line.requests : metric === "cost" ? line.costUsd : tokensPerBucket(line),
      color: chartColors[index % chartColors.length]!,
    }));
    return { timestamps: data.buckets, lines };
  }, [series.data, totals, metric, split, t, labelOf]);

  const applyCustom = () => {
    const from = fromDateTimeLocal(customFrom);
    const to = fromDateTimeLocal(customTo);
    if (from === undefined || to === undefined || from >= to) {
      setCustomProblem(t("usage.customInvalid"));
      return;
    }
    setCustomProblem(null);
    setRange({ kind: "custom", from, to });
  };
  const download = () => {
    if (!series.data) return;
    const blob = new Blob([usageCsv(series.data)], { type: "text/csv;charset=utf-8" });
    const url = URL.createObjectURL(blob);
    const link = document.createElement("a");
    link.href = url;
    link.download = `subrelay-usage-${new Date(series.data.from).toISOString().slice(0, 16)}-${split}.csv`;
    document.body.append(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(url), 0);
  };

  const span = series.data ? series.data.to - series.data.from : 0;
  const formatTick = useCallback((at: number) => format.tick(at, span), [format, span]);
  const hasRequests = totals.some((line) => line.requests > 0);
  return (
    <>
      <div className="page-header">
        <h1>{t("nav.usage")}</h1>
        <button type="button" onClick={download} disabled={!series.data}>
          {t("usage.exportCsv")}
        </button>
      </div>
      <div className="filters">
        <fieldset className="segmented">
          <legend>{t("usage.range")}</legend>
          {rangePresets.map((preset) => (
            <label key={preset} className="segment">
              <input
                type="radio"
                name="range"
                checked={range.kind === "preset" && range.preset === preset}
                onChange={() => setRange({ kind: "preset", preset })}
              />
              {t(presetLabels[preset])}
            </label>
          ))}
        </fieldset>
        <fieldset className="custom-range">
          <legend>{t("usage.custom")}</legend>
          <Field label={t("usage.from")} className="field-inline">
            {(id) => (
              <input
                id={id}
                type="datetime-local"
                value={customFrom}
                onChange={(event) => setCustomFrom(event.target.value)}
              />
            )}
          </Field>
          <Field label={t("usage.to")} className="field-inline">
            {(id) => (
              <input
                id={id}
                type="datetime-local"
                value={customTo}
                onChange={(event) => setCustomTo(event.target.value)}
              />
            )}
          </Field>
          <button type="button" onClick={applyCustom} aria-pressed={range.kind === "custom"}>
            {t("usage.apply")}
          </button>
        </fieldset>
        <Field label={t("usage.split")} className="field-inline">
          {(id) => (
            <select id={id} value={split} onChange={(event) => setSplit(event.target.value as Split)}>
              {(Object.keys(splitLabels) as Split[]).map((option) => (
                <option key={option} value={option}>
                  {t(splitLabels[option])}
                </option>
              ))}
            </select>
          )}
        </Field>
        <Field label={t("usage.metric")} className="field-inline">
          {(id) => (
            <select id={id} value={metric} onChange={(event) => setMetric(event.target.value as Metric)}>
              {(Object.keys(metricLabels) as Metric[]).map((option) => (
                <option key={option} value={option}>
                  {t(metricLabels[option])}
                </option>
              ))}
            </select>
          )}
        </Field>
      </div>
      {customProblem ? (
        <p className="error-message" role="alert">
          {customProblem}
        </p>
      ) : null}
      <ErrorMessage error={series.error} />

      <section className="panel" aria-labelledby="usage-chart-heading">
        <h2 id="usage-chart-heading">
          {series.data
            ? t("usage.chartTitle", {
                from: format.dateTime(series.data.from),
                to: format.dateTime(series.data.to),
              })
            : t("usage.chartTitlePending")}
        </h2>
        {chart ? (
          <UsageChart
            timestamps={chart.timestamps}
            series={chart.lines}
            label={t("usage.chartLabel")}
            formatLeft={metric === "cost" ? format.usd : format.compact}
            formatTime={formatTick}
          />
        ) : (
          <p className="muted">{t("common.loading")}</p>
        )}
        {totals.length > MAX_LINES ? (
          <p className="muted small">{t("usage.topLines", { n: MAX_LINES })}</p>
        ) : null}
      </section>

      <section className="panel" aria-labelledby="usage-table-heading">
        <h2 id="usage-table-heading">{t("usage.tableTitle")}</h2>
        {series.isSuccess && !hasRequests ? (
          <p className="empty">
            {t("usage.empty")} <Link href="/keys">{t("nav.keys")}</Link>
          </p>
        ) : (
          <DataTable
            columns={[
              { label: t(splitLabels[split]) },
              { label: t("usage.requests"), number: true },
              { label: t("usage.errors"), number: true },
              { label: t("usage.inputTokens"), number: true },
              { label: t("usage.outputTokens"), number: true },
              { label: t("usage.cacheReadTokens"), number: true },
              { label: t("usage.cacheWriteTokens"), number: true },
              { label: t("usage.tokens"), number: true },
              { label: t("usage.cost"), number: true },
            ]}
          >
            {totals.map((line) => (
              <tr key={line.index}>
                <th scope="row">
                  {labelOf(line)}
                  {(split === "account" || split === "key") && line.name !== null && line.key !== null ? (
                    <span className="muted small"> ({line.key})</span>
                  ) : null}
                </th>
                <td className="number">{format.number(line.requests)}</td>
                <td className="number">{format.number(line.errors)}</td>
                <td className="number">{format.number(line.inputTokens)}</td>
                <td className="number">{format.number(line.outputTokens)}</td>
                <td className="number">{format.number(line.cacheReadTokens)}</td>
                <td className="number">{format.number(line.cacheWriteTokens)}</td>
                <td className="number">{format.number(line.tokens)}</td>
                <td className="number">{format.usd(line.costUsd)}</td>
              </tr>
            ))}
          </DataTable>
        )}
      </section>
    </>
  );
}
