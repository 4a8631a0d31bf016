import { useId, useState, type FormEvent } from "react";
import type { Account, AccountCooldowns, AccountInput, AccountPatch, Group } from "../admin-types";
import { cooldownFields, platforms } from "../admin-types";
import { useCreateAccount, useUpdateAccount } from "../admin-queries";
import { ErrorMessage } from "../components/error-message";
import { Field } from "../components/field";
import { fromDateTimeLocal } from "../format";
import { useI18n } from "../i18n/i18n";
import type { MessageKey } from "../i18n/messages-en";

interface ModelMapRow {
  id: number;
  from: string;
  to: string;
}

type CooldownField = (typeof cooldownFields)[number];

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
  const [name, setName] = useState(account?.name ?? "");
  const [platform, setPlatform] = useState(account?.platform ?? "claude");
  const [type, setType] = useState<"apikey" | "oauth">(account?.type ?? "apikey");
  const [apiKey, setApiKey] = useState("");
  const [refreshToken, setRefreshToken] = useState("");
  const [accessToken, setAccessToken] = useState("");
  const [expiresAt, setExpiresAt] = useState("");
  const [projectId, setProjectId] = useState("");
  const [chatgptAccountId, setChatgptAccountId] = useState("");
  const [groupIds, setGroupIds] = useState<number[]>(account?.groupIds ?? []);
  const [priority, setPriority] = useState(account ? String(account.priority) : "");
  const [concurrency, setConcurrency] = useState(account ? String(account.concurrency) : "");
  const [baseUrl, setBaseUrl] = useState(account?.baseUrl ?? "");
  const [models, setModels] = useState((account?.models ?? []).join("\n"));
  const [modelMap, setModelMap] = useState<ModelMapRow[]>(
    Object.entries(account?.modelMap ?? {}).map(([from, to], index) => ({ id: index, from, to })),
  );
  const [nextRowId, setNextRowId] = useState(modelMap.length);
  const [cooldowns, setCooldowns] = useState<Record<CooldownField, string>>(() => {
    const given = account?.cooldowns ?? {};
    return Object.fromEntries(
      cooldownFields.map((field) => [field, given[field] === undefined ? "" : String(given[field])]),
    ) as Record<CooldownField, string>;
  });

  const usableGroups = groups.filter((group) => group.mode === "mixed" || group.platform === platform);

  const credentials = (): Record<string, unknown> | undefined => {
    if (type === "apikey") return apiKey === "" ? undefined : { apiKey };
    const given: Record<string, unknown> = {};
    if (refreshToken !== "") given.refreshToken = refreshToken;
    if (accessToken !== "") given.accessToken = accessToken;
    const expires = fromDateTimeLocal(expiresAt);
    if (expires !== undefined) given.expiresAt = expires;
    if (platform === "gemini" && projectId !== "") given.projectId = projectId;
    if (platform === "openai" && chatgptAccountId !== "") given.accountId = chatgptAccountId;
    return Object.keys(given).length === 0 ? undefined : given;
  };
  const numberOrUndefined = (value: string) => (value.trim() === "" ? undefined : Number(value));
  const cooldownsValue = (): AccountCooldowns | null => {
    const entries = cooldownFields.flatMap((field) =>
      cooldowns[field].trim() === "" ? [] : [[field, Number(cooldowns[field])] as const],
    );
    return entries.length === 0 ? null : Object.fromEntries(entries);
  };
  const modelList = models
    .split(/[\n,]/)
    .map((model) => model.trim())
    .filter((model) => model !== "");
  const modelMapValue = () => {
    const rows = modelMap.filter((row) => row.from.trim() !== "" || row.to.trim() !== "");
    return rows.length === 0 ? null : Object.fromEntries(rows.map((row) => [row.from.trim(), row.to.trim()]));
  };

  const submit = (event: FormEvent) => {
    event.preventDefault();
    const done = { onSuccess: onDone };
    if (account) {
      const patch: AccountPatch = {
        name,
        groupIds,
        baseUrl: baseUrl.trim() === "" ? null : baseUrl.trim(),
        models: modelList.length === 0 ? null : modelList,
        modelMap: modelMapValue(),
        cooldowns: cooldownsValue(),
      };
      const priorityValue = numberOrUndefined(priority);
      const concurrencyValue = numberOrUndefined(concurrency);
      if (priorityValue !== undefined) patch.priority = priorityValue;
      if (concurrencyValue !== undefined) patch.concurrency = concurrencyValue;
      const replaced = credentials();
      if (replaced) patch.credentials = replaced;
      update.mutate({ id: account.id, patch }, done);
      return;
    }
    const input: AccountInput = { name, platform, type, credentials: credentials() ?? {}, groupIds };
    const priorityValue = numberOrUndefined(priority);
    const concurrencyValue = numberOrUndefined(concurrency);
    if (priorityValue !== undefined) input.priority = priorityValue;
    if (concurrencyValue !== undefined) input.concurrency = concurrencyValue;
    if (baseUrl.trim() !== "") input.baseUrl = baseUrl.trim();
    if (modelList.length > 0) input.models = modelList;
    const map = modelMapValue();
    if (map) input.modelMap = map;
    const ownCooldowns = cooldownsValue();
    if (ownCooldowns) input.cooldowns = ownCooldowns;
    create.mutate(input, done);
  };

  const secretHint = account ? t("accountForm.credentialsKept") : undefined;
  return (
    <form onSubmit={submit} className="form" aria-describedby={`${formId}-hint`}>
      <div className="form-grid">
        <Field label={t("accounts.name")}>
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
        <Field label={t("accounts.platform")}>
          {(id) => (
            <select
              id={id}
              value={platform}
              onChange={(event) => setPlatform(event.target.value)}
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
              value={type}
              onChange={(event) => setType(event.target.value as "apikey" | "oauth")}
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
                value={apiKey}
                onChange={(event) => setApiKey(event.target.value)}
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
                  value={refreshToken}
                  onChange={(event) => setRefreshToken(event.target.value)}
                />
              )}
            </Field>
            <Field label={t("accountForm.accessToken")}>
              {(id) => (
                <input
                  id={id}
                  type="password"
                  autoComplete="off"
                  value={accessToken}
                  onChange={(event) => setAccessToken(event.target.value)}
                />
              )}
            </Field>
            <Field label={t("accountForm.expiresAt")}>
              {(id) => (
                <input
                  id={id}
                  type="datetime-local"
                  value={expiresAt}
                  onChange={(event) => setExpiresAt(event.target.value)}
                />
              )}
            </Field>
            {platform === "gemini" ? (
              <Field label={t("accountForm.projectId")}>
                {(id) => (
                  <input id={id} value={projectId} onChange={(event) => setProjectId(event.target.value)} />
                )}
              </Field>
            ) : null}
            {platform === "openai" ? (
              <Field label={t("accountForm.chatgptAccountId")}>
                {(id) => (
                  <input
                    id={id}
                    value={chatgptAccountId}
                    onChange={(event) => setChatgptAccountId(event.target.value)}
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
                    setGroupIds((ids) =>
                      event.target.checked ? [...ids, group.id] : ids.filter((id) => id !== group.id),
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
              value={priority}
              onChange={(event) => setPriority(event.target.value)}
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
              value={concurrency}
              onChange={(event) => setConcurrency(event.target.value)}
            />
          )}
        </Field>
        <Field label={t("accountForm.baseUrl")} className="field field-wide">
          {(id) => (
            <input
              id={id}
              type="url"
              placeholder={t("accountForm.baseUrlPlaceholder")}
              value={baseUrl}
              onChange={(event) => setBaseUrl(event.target.value)}
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
            value={models}
            onChange={(event) => setModels(event.target.value)}
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
                    setModelMap((rows) =>
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
                    setModelMap((rows) =>
                      rows.map((each) => (each.id === row.id ? { ...each, to: event.target.value } : each)),
                    )
                  }
                />
              )}
            </Field>
            <button
              type="button"
              onClick={() => setModelMap((rows) => rows.filter((each) => each.id !== row.id))}
            >
              {t("accountForm.removeMapping", { n: index + 1 })}
            </button>
          </div>
        ))}
        <button
          type="button"
          onClick={() => {
            setModelMap((rows) => [...rows, { id: nextRowId, from: "", to: "" }]);
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
                  onChange={(event) => setCooldowns((values) => ({ ...values, [field]: event.target.value }))}
                />
              )}
            </Field>
          ))}
        </div>
      </fieldset>

      <ErrorMessage error={mutation.error} />
      <div className="dialog-actions">
        <button type="button" onClick={onDone}>
          {t("common.cancel")}
        </button>
        <button type="submit" className="primary" disabled={mutation.isPending}>
          {t("common.save")}
        </button>
      </div>
    </form>
  );
}
