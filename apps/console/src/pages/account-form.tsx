import { useId, useState, type FormEvent } from "react";
import {
  accountInputOf,
  accountPatchOf,
  formValuesOf,
  type AccountFormValues,
  type CooldownField,
  type ModelMapRow,
} from "../account-form-values";
import type { Account, Group } from "../admin-types";
import { cooldownFields, platforms } from "../admin-types";
import { useCreateAccount, useUpdateAccount } from "../admin-queries";
import { Field } from "../components/field";
import { FormActions } from "../components/form-actions";
import { useI18n } from "../i18n/i18n";
import type { MessageKey } from "../i18n/messages-en";

const cooldownLabels: Record<CooldownField, MessageKey> = {
  overloaded: "accountForm.cooldownOverloaded",
  serverError: "accountForm.cooldownServerError",
  timeout: "accountForm.cooldownTimeout",
  rateLimit: "accountForm.cooldownRateLimit",
  max: "accountForm.cooldownMax",
};

/**
 * Every field `POST /admin/accounts` takes; editing sends `PATCH` with what the form holds. Credentials are
 * never shown back: left empty on edit they stay as stored, any one filled in replaces them all.
 */
export function AccountForm({
  account,
  groups,
  onDone,
}: {
  account?: Account;
  groups: Group[];
  onDone: () => void;
}) {
  const { t } = useI18n();
  const create = useCreateAccount();
  const update = useUpdateAccount();
  const mutation = account ? update : create;
  const formId = useId();
  const [values, setValues] = useState<AccountFormValues>(() => formValuesOf(account));
  const [nextRowId, setNextRowId] = useState(values.modelMap.length);
  const set = <Key extends keyof AccountFormValues>(field: Key, value: AccountFormValues[Key]) =>
    setValues((current) => ({ ...current, [field]: value }));
  const setRows = (change: (rows: ModelMapRow[]) => ModelMapRow[]) =>
    setValues((current) => ({ ...current, modelMap: change(current.modelMap) }));
  const { platform, type, groupIds, modelMap, cooldowns } = values;

  const usableGroups = groups.filter((group) => group.mode === "mixed" || group.platform === platform);

  const submit = (event: FormEvent) => {
    event.preventDefault();
    // Groups checked before the platform changed, which the form no longer shows, are not sent.
    const shown = {
      ...values,
      groupIds: groupIds.filter((id) => usableGroups.some((group) => group.id === id)),
    };
    const done = { onSuccess: onDone };
    if (account) update.mutate({ id: account.id, patch: accountPatchOf(shown) }, done);
    else create.mutate(accountInputOf(shown), done);
  };

  const secretHint = account ? t("accountForm.credentialsKept") : undefined;
  return (
    <form onSubmit={submit} className="form" aria-describedby={`${formId}-hint`}>
      <div className="form-grid">
        <Field label={t("accounts.name")}>
          {(id) => (
            <input
              id={id}
              value={values.name}
              onChange={(event) => set("name", event.target.value)}
              required
              maxLength={200}
            />
          )}
        </Field>
        <Field label={t("accounts.platform")}>
          {(id) => (
            <select
              id={id}
              value={values.platform}
              onChange={(event) => set("platform", event.target.value)}
              disabled={Boolean(account)}
            >
              {platforms.map((option) => (
                <option key={option} value={option}>
                  {option}
                </option>
              ))}
            </select>
          )}
        </Field>
        <Field label={t("accounts.type")}>
          {(id) => (
            <select
              id={id}
              value={values.type}
              onChange={(event) => set("type", event.target.value as "apikey" | "oauth")}
              disabled={Boolean(account)}
            >
              <option value="apikey">{t("accountForm.typeApiKey")}</option>
              <option value="oauth">{t("accountForm.typeOAuth")}</option>
            </select>
          )}
        </Field>
      </div>

      <fieldset className="fieldset">
        <legend>{t("accountForm.credentials")}</legend>
        <p id={`${formId}-hint`} className="muted">
          {secretHint ?? t("accountForm.credentialsNew")}
        </p>
        {type === "apikey" ? (
          <Field label={t("accountForm.apiKey")}>
            {(id) => (
              <input
                id={id}
                type="password"
                autoComplete="off"
                value={values.apiKey}
                onChange={(event) => set("apiKey", event.target.value)}
                required={!account}
              />
            )}
          </Field>
        ) : (
          <div className="form-grid">
            <Field label={t("accountForm.refreshToken")}>
              {(id) => (
                <input
                  id={id}
                  type="password"
                  autoComplete="off"
                  value={values.refreshToken}
                  onChange={(event) => set("refreshToken", event.target.value)}
                />
              )}
            </Field>
            <Field label={t("accountForm.accessToken")}>
              {(id) => (
                <input
                  id={id}
                  type="password"
                  autoComplete="off"
                  value={values.accessToken}
                  onChange={(event) => set("accessToken", event.target.value)}
                />
              )}
            </Field>
            <Field label={t("accountForm.expiresAt")}>
              {(id) => (
                <input
                  id={id}
                  type="datetime-local"
                  value={values.expiresAt}
                  onChange={(event) => set("expiresAt", event.target.value)}
                />
              )}
            </Field>
            {platform === "gemini" ? (
              <Field label={t("accountForm.projectId")}>
                {(id) => (
                  <input
                    id={id}
                    value={values.projectId}
                    onChange={(event) => set("projectId", event.target.value)}
                  />
                )}
              </Field>
            ) : null}
            {platform === "openai" ? (
              <Field label={t("accountForm.chatgptAccountId")}>
                {(id) => (
                  <input
                    id={id}
                    value={values.chatgptAccountId}
                    onChange={(event) => set("chatgptAccountId", event.target.value)}
                  />
                )}
              </Field>
            ) : null}
          </div>
        )}
      </fieldset>

      <fieldset className="fieldset">
        <legend>{t("accounts.groups")}</legend>
        {usableGroups.length === 0 ? (
          <p className="empty">{t("accountForm.noGroups", { platform })}</p>
        ) : (
          <div className="checkbox-list">
            {usableGroups.map((group) => (
              <label key={group.id} className="checkbox">
                <input
                  type="checkbox"
                  checked={groupIds.includes(group.id)}
                  onChange={(event) =>
                    set(
                      "groupIds",
                      event.target.checked
                        ? [...groupIds, group.id]
                        : groupIds.filter((id) => id !== group.id),
                    )
                  }
                />
                {group.name}{" "}
                <span className="muted">
                  ({group.platform}, {group.mode})
                </span>
              </label>
            ))}
          </div>
        )}
      </fieldset>

      <div className="form-grid">
        <Field label={t("accounts.priority")}>
          {(id) => (
            <input
              id={id}
              type="number"
              min={0}
              max={1_000_000}
              step={1}
              placeholder="50"
              value={values.priority}
              onChange={(event) => set("priority", event.target.value)}
            />
          )}
        </Field>
        <Field label={t("accounts.concurrency")}>
          {(id) => (
            <input
              id={id}
              type="number"
              min={1}
              max={100_000}
              step={1}
              placeholder="3"
              value={values.concurrency}
              onChange={(event) => set("concurrency", event.target.value)}
            />
          )}
        </Field>
        <Field label={t("accountForm.baseUrl")} className="field field-wide">
          {(id) => (
            <input
              id={id}
              type="url"
              placeholder={t("accountForm.baseUrlPlaceholder")}
              value={values.baseUrl}
              onChange={(event) => set("baseUrl", event.target.value)}
            />
          )}
        </Field>
      </div>

      <Field label={t("accountForm.models")}>
        {(id) => (
          <textarea
            id={id}
            rows={3}
            placeholder={t("accountForm.modelsPlaceholder")}
            value={values.models}
            onChange={(event) => set("models", event.target.value)}
          />
        )}
      </Field>

      <fieldset className="fieldset">
        <legend>{t("accountForm.modelMap")}</legend>
        <p className="muted">{t("accountForm.modelMapHint")}</p>
        {modelMap.map((row, index) => (
          <div key={row.id} className="map-row">
            <Field label={t("accountForm.clientModel", { n: index + 1 })}>
              {(id) => (
                <input
                  id={id}
                  value={row.from}
                  onChange={(event) =>
                    setRows((rows) =>
                      rows.map((each) => (each.id === row.id ? { ...each, from: event.target.value } : each)),
                    )
                  }
                />
              )}
            </Field>
            <span aria-hidden="true" className="map-arrow">
              →
            </span>
            <Field label={t("accountForm.upstreamModel", { n: index + 1 })}>
              {(id) => (
                <input
                  id={id}
                  value={row.to}
                  onChange={(event) =>
                    setRows((rows) =>
                      rows.map((each) => (each.id === row.id ? { ...each, to: event.target.value } : each)),
                    )
                  }
                />
              )}
            </Field>
            <button
              type="button"
              onClick={() => setRows((rows) => rows.filter((each) => each.id !== row.id))}
            >
              {t("accountForm.removeMapping", { n: index + 1 })}
            </button>
          </div>
        ))}
        <button
          type="button"
          onClick={() => {
            setRows((rows) => [...rows, { id: nextRowId, from: "", to: "" }]);
            setNextRowId((id) => id + 1);
          }}
        >
          {t("accountForm.addMapping")}
        </button>
      </fieldset>

      <fieldset className="fieldset">
        <legend>{t("accountForm.cooldowns")}</legend>
        <p className="muted">{t("accountForm.cooldownsHint")}</p>
        <div className="form-grid">
          {cooldownFields.map((field) => (
            <Field key={field} label={t(cooldownLabels[field])}>
              {(id) => (
                <input
                  id={id}
                  type="number"
                  min={field === "max" ? 1 : 0}
                  step={1}
                  value={cooldowns[field]}
                  onChange={(event) => set("cooldowns", { ...cooldowns, [field]: event.target.value })}
                />
              )}
            </Field>
          ))}
        </div>
      </fieldset>

      <FormActions error={mutation.error} busy={mutation.isPending} submitLabel={t("common.save")} onCancel={onDone} />
    </form>
  );
}
