import type { KeyLimitsValues } from "../key-limits-values";
import { useI18n } from "../i18n/i18n";
import type { MessageKey } from "../i18n/messages-en";
import { Field } from "./field";

const numberFields: ReadonlyArray<{ field: keyof KeyLimitsValues; label: MessageKey; step: string }> = [
  { field: "requestsPerMinute", label: "limits.requestsPerMinute", step: "1" },
  { field: "tokensPerMinute", label: "limits.tokensPerMinute", step: "1" },
  { field: "concurrency", label: "limits.concurrency", step: "1" },
  { field: "costPerDayUsd", label: "limits.costPerDayUsd", step: "any" },
  { field: "costPerWeekUsd", label: "limits.costPerWeekUsd", step: "any" },
  { field: "costPerMonthUsd", label: "limits.costPerMonthUsd", step: "any" },
  { field: "costTotalUsd", label: "limits.costTotalUsd", step: "any" },
];

/** The limits of a key (`limits` on `POST` / `PATCH /admin/api-keys`): every field optional, empty for none. */
export function KeyLimitsFields({
  values,
  onChange,
}: {
  values: KeyLimitsValues;
  onChange: (values: KeyLimitsValues) => void;
}) {
  const { t } = useI18n();
  const set = (field: keyof KeyLimitsValues, value: string) => onChange({ ...values, [field]: value });
  return (
    <fieldset className="fieldset">
      <legend>{t("limits.title")}</legend>
      <p className="muted">{t("limits.hint")}</p>
      <div className="form-grid">
        {numberFields.map(({ field, label, step }) => (
          <Field key={field} label={t(label)}>
            {(id) => (
              <input
                id={id}
                type="number"
                inputMode={step === "1" ? "numeric" : "decimal"}
                min={step === "1" ? 1 : 0}
                step={step}
                value={values[field]}
                onChange={(event) => set(field, event.target.value)}
              />
            )}
          </Field>
        ))}
      </div>
      <div className="form-grid">
        <Field label={t("limits.models")}>
          {(id) => (
            <textarea
              id={id}
              rows={3}
              className="mono"
              value={values.models}
              onChange={(event) => set("models", event.target.value)}
            />
          )}
        </Field>
        <Field label={t("limits.allowedIps")}>
          {(id) => (
            <textarea
              id={id}
              rows={3}
              className="mono"
              placeholder="203.0.113.0/24"
              value={values.allowedIps}
              onChange={(event) => set("allowedIps", event.target.value)}
            />
          )}
        </Field>
      </div>
    </fieldset>
  );
}
