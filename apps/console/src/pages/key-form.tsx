import { useState, type FormEvent } from "react";
import { useUpdateApiKey } from "../admin-queries";
import type { ApiKey, ApiKeyPatch } from "../admin-types";
import { Field } from "../components/field";
import { FormActions } from "../components/form-actions";
import { KeyLimitsFields } from "../components/key-limits-fields";
import { fromDateTimeLocal, toDateTimeLocal } from "../format";
import { useI18n } from "../i18n/i18n";
import { keyLimitsOf, keyLimitsValuesOf } from "../key-limits-values";

/**
 * A key's name, expiry and limits: `PATCH /admin/api-keys/:id`. The expiry is sent only when changed (an
 * unchanged one may already be past, which the gateway would refuse); empty limits send `limits: null`.
 */
export function KeyForm({ apiKey, onDone }: { apiKey: ApiKey; onDone: () => void }) {
  const { t } = useI18n();
  const update = useUpdateApiKey();
  const initialExpiry = apiKey.expiresAt === null ? "" : toDateTimeLocal(apiKey.expiresAt);
  const [name, setName] = useState(apiKey.name);
  const [expiresAt, setExpiresAt] = useState(initialExpiry);
  const [limits, setLimits] = useState(() => keyLimitsValuesOf(apiKey.limits));

  const submit = (event: FormEvent) => {
    event.preventDefault();
    const patch: ApiKeyPatch = { name, limits: keyLimitsOf(limits) };
    if (expiresAt !== initialExpiry) patch.expiresAt = fromDateTimeLocal(expiresAt) ?? null;
    update.mutate({ id: apiKey.id, patch }, { onSuccess: onDone });
  };

  return (
    <form className="form" onSubmit={submit}>
      <div className="form-grid">
        <Field label={t("keys.name")}>
          {(id) => (
            <input
              id={id}
              value={name}
              onChange={(event) => setName(event.target.value)}
              required
              maxLength={200}
            />
          )}
        </Field>
        <Field label={t("keys.expiresAtOptional")}>
          {(id) => (
            <input
              id={id}
              type="datetime-local"
              value={expiresAt}
              onChange={(event) => setExpiresAt(event.target.value)}
            />
          )}
        </Field>
      </div>
      <KeyLimitsFields values={limits} onChange={setLimits} />
      <FormActions error={update.error} busy={update.isPending} submitLabel={t("common.save")} onCancel={onDone} />
    </form>
  );
}
