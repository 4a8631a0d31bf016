import { useState, type FormEvent } from "react";
import { useSetPrice } from "../admin-queries";
import { tokenPriceFields, type TokenPrices } from "../admin-types";
import { Field } from "../components/field";
import { FormActions } from "../components/form-actions";
import { useI18n } from "../i18n/i18n";
import type { MessageKey } from "../i18n/messages-en";

export const priceFieldLabels: Record<keyof TokenPrices, MessageKey> = {
  inputUsdPerMTok: "prices.input",
  outputUsdPerMTok: "prices.output",
  cacheReadUsdPerMTok: "prices.cacheRead",
  cacheWrite5mUsdPerMTok: "prices.cacheWrite5m",
  cacheWrite1hUsdPerMTok: "prices.cacheWrite1h",
};

/**
 * An override of one model's price: `PUT /admin/pricing/:model` with exactly the five prices. `model` given:
 * that model (shown, not editable); else the operator names it. `initial` fills the fields (the price in force).
 */
export function PriceForm({
  model,
  initial,
  onDone,
}: {
  model?: string;
  initial?: TokenPrices;
  onDone: () => void;
}) {
  const { t } = useI18n();
  const setPrice = useSetPrice();
  const [name, setName] = useState(model ?? "");
  const [values, setValues] = useState<Record<keyof TokenPrices, string>>(() => {
    const entries = tokenPriceFields.map((field) => [field, initial ? String(initial[field]) : ""] as const);
    return Object.fromEntries(entries) as Record<keyof TokenPrices, string>;
  });

  const submit = (event: FormEvent) => {
    event.preventDefault();
    const prices = Object.fromEntries(
      tokenPriceFields.map((field) => [field, Number(values[field])]),
    ) as unknown as TokenPrices;
    setPrice.mutate({ model: name.trim(), prices }, { onSuccess: onDone });
  };

  return (
    <form className="form" onSubmit={submit}>
      <Field label={t("prices.model")}>
        {(id) => (
          <input
            id={id}
            className="mono"
            value={name}
            onChange={(event) => setName(event.target.value)}
            readOnly={model !== undefined}
            required
            maxLength={200}
          />
        )}
      </Field>
      <p className="muted small">{t("prices.formHint")}</p>
      <div className="form-grid">
        {tokenPriceFields.map((field) => (
          <Field key={field} label={t(priceFieldLabels[field])}>
            {(id) => (
              <input
                id={id}
                type="number"
                inputMode="decimal"
                min={0}
                max={1_000_000}
                step="any"
                required
                value={values[field]}
                onChange={(event) => setValues((current) => ({ ...current, [field]: event.target.value }))}
              />
            )}
          </Field>
        ))}
      </div>
      <FormActions error={setPrice.error} busy={setPrice.isPending} submitLabel={t("prices.saveOverride")} onCancel={onDone} />
    </form>
  );
}
