import { useState, type FormEvent } from "react";
import { useUpdateApiKey } from "../admin-queries";
import type { ApiKey, ApiKeyPatch } from "../admin-types";
import { FormActions } from "../components/form-actions";
import { KeyLimitsFields } from "../components/key-limits-fields";
import { TextField } from "../components/text-field";
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
        <TextField label={t("keys.name")} value={name} onChange={setName} required maxLength={200} />
        <TextField label={t("keys.expiresAtOptional")} type="datetime-local" value={expiresAt} onChange={setExpiresAt} />
      </div>
      <KeyLimitsFields values={limits} onChange={setLimits} />
      <FormActions error={update.error} busy={update.isPending} submitLabel={t("common.save")} onCancel={onDone} />
    </form>
  );
}
