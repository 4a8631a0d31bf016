import { useMemo, useState } from "react";
import { useDeletePrice, usePricing } from "../admin-queries";
import { platforms, tokenPriceFields, type PriceEntry, type TokenPrices } from "../admin-types";
import { ErrorMessage } from "../components/error-message";
import { Field } from "../components/field";
import { ModalDialog } from "../components/modal-dialog";
import { useI18n } from "../i18n/i18n";
import { PriceForm, priceFieldLabels } from "./price-form";

/** The platform filter: a platform, "" for all, "none" for overrides that match no platform's list. */
type PlatformFilter = string;
type Editing = { model?: string; initial?: TokenPrices } | null;

export function PricesPage() {
  const { t, format } = useI18n();
  const pricing = usePricing();
  const remove = useDeletePrice();
  const [platform, setPlatform] = useState<PlatformFilter>("");
  const [search, setSearch] = useState("");
  const [editing, setEditing] = useState<Editing>(null);

  const rows = useMemo(() => {
    const needle = search.trim().toLowerCase();
    return (pricing.data?.data ?? []).filter((entry) => {
      if (platform === "none" ? entry.platform !== null : platform !== "" && entry.platform !== platform)
        return false;
      return needle === "" || entry.model.toLowerCase().includes(needle);
    });
  }, [pricing.data, platform, search]);
  const unpriced = pricing.data?.unpriced ?? [];
  const usd = (value: number) => format.usd(value);

  return (
    <>
      <div className="page-header">
        <h1>{t("nav.prices")}</h1>
        <button type="button" className="primary" onClick={() => setEditing({})}>
          {t("prices.addOverride")}
        </button>
      </div>
      <p className="muted">{t("prices.intro")}</p>

      {unpriced.length > 0 ? (
        <section className="panel panel-warning" aria-labelledby="unpriced-heading">
          <h2 id="unpriced-heading">{t("prices.unpricedTitle", { n: unpriced.length })}</h2>
          <p className="small">{t("prices.unpricedHint")}</p>
          <ul className="unpriced-list">
            {unpriced.map((model) => (
              <li key={model}>
                <code>{model}</code>
                <button
                  type="button"
                  aria-label={t("prices.setPriceFor", { model })}
                  onClick={() => setEditing({ model })}
                >
                  {t("prices.setPrice")}
                </button>
              </li>
            ))}
          </ul>
        </section>
      ) : null}

      <div className="filters" role="group" aria-label={t("accounts.filters")}>
        <Field label={t("accounts.platform")} className="field-inline">
          {(id) => (
            <select id={id} value={platform} onChange={(event) => setPlatform(event.target.value)}>
              <option value="">{t("common.all")}</option>
              {platforms.map((each) => (
                <option key={each} value={each}>
                  {each}
                </option>
              ))}
              <option value="none">{t("prices.noPlatform")}</option>
            </select>
          )}
        </Field>
        <Field label={t("prices.search")} className="field-inline">
          {(id) => (
            <input
              id={id}
              type="search"
              value={search}
              placeholder="claude-sonnet"
              onChange={(event) => setSearch(event.target.value)}
            />
          )}
        </Field>
      </div>
      <ErrorMessage error={pricing.error ?? remove.error} />

      {pricing.isSuccess && rows.length === 0 ? (
        <p className="empty">{t("prices.noneMatch")}</p>
      ) : (
        <div className="table-wrap">
          <table className="table">
            <caption className="visually-hidden">{t("prices.tableCaption")}</caption>
            <thead>
              <tr>
                <th scope="col">{t("prices.model")}</th>
                <th scope="col">{t("accounts.platform")}</th>
                {tokenPriceFields.map((field) => (
                  <th key={field} scope="col" className="number">
                    {t(priceFieldLabels[field])}
                  </th>
                ))}
                <th scope="col">{t("prices.longContext")}</th>
                <th scope="col">{t("prices.source")}</th>
                <th scope="col">{t("common.actions")}</th>
              </tr>
            </thead>
            <tbody>
              {rows.map((entry) => (
                <PriceRow
                  key={entry.model}
                  entry={entry}
                  usd={usd}
                  busy={remove.isPending && remove.variables === entry.model}
                  onOverride={() => setEditing({ model: entry.model, initial: entry })}
                  onReset={() => remove.mutate(entry.model)}
                />
              ))}
            </tbody>
          </table>
        </div>
      )}

      <ModalDialog
        open={editing !== null}
        title={editing?.model ? t("prices.overrideTitle", { model: editing.model }) : t("prices.addOverride")}
        onClose={() => setEditing(null)}
      >
        {editing ? (
          <PriceForm
            {...(editing.model ? { model: editing.model } : {})}
            {...(editing.initial ? { initial: editing.initial } : {})}
            onDone={() => setEditing(null)}
          />
        ) : null}
      </ModalDialog>
    </>
  );
}

function PriceRow({
  entry,
  usd,
  busy,
  onOverride,
  onReset,
}: {
  entry: PriceEntry;
  usd: (value: number) => string;
  busy: boolean;
  onOverride: () => void;
  onReset: () => void;
}) {
  const { t, format } = useI18n();
  const tier = entry.longContext;
  return (
    <tr>
      <th scope="row" className="mono nowrap">
        {entry.model}
      </th>
      <td>{entry.platform ?? "—"}</td>
      {tokenPriceFields.map((field) => (
        <td key={field} className="number">
          {usd(entry[field])}
          {entry.shipped && entry.shipped[field] !== entry[field] ? (
            <div className="muted small">{t("prices.wasShipped", { price: usd(entry.shipped[field]) })}</div>
          ) : null}
        </td>
      ))}
      <td className="small">
        {tier
          ? t("prices.longContextTier", {
              tokens: format.number(tier.aboveInputTokens),
              input: usd(tier.inputUsdPerMTok),
              output: usd(tier.outputUsdPerMTok),
            })
          : "—"}
      </td>
      <td>
        <span className={entry.source === "override" ? "source source-override" : "source"}>
          {entry.source === "override" ? t("prices.sourceOverride") : t("prices.sourceShipped")}
        </span>
      </td>
      <td className="actions">
        <div className="row-actions">
          <button
            type="button"
            onClick={onOverride}
            aria-label={t("prices.overrideFor", { model: entry.model })}
          >
            {t("prices.override")}
          </button>
          {entry.source === "override" ? (
            <button
              type="button"
              className="danger"
              onClick={onReset}
              disabled={busy}
              aria-label={t(entry.shipped ? "prices.resetFor" : "prices.removeFor", { model: entry.model })}
            >
              {t(entry.shipped ? "prices.reset" : "prices.remove")}
            </button>
          ) : null}
        </div>
      </td>
    </tr>
  );
}
