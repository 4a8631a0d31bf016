import { useMemo, useRef, useState, type FormEvent } from "react";
import { useApiKeys, useCreateApiKey, useDeleteApiKey, useGroups, useUsageTotals } from "../admin-queries";
import type { ApiKey, ApiKeyBudgetField, CreatedApiKey } from "../admin-types";
import { budgetWindowStarts, isTimeZone } from "../budget-windows";
import { BudgetBars, type KeySpend } from "../components/budget-bars";
import { ConfirmItemDialog } from "../components/confirm-item-dialog";
import { DataTable } from "../components/data-table";
import { EditDeleteButtons } from "../components/edit-delete-buttons";
import { ErrorMessage } from "../components/error-message";
import { Field } from "../components/field";
import { KeyLimitsFields } from "../components/key-limits-fields";
import { ModalDialog } from "../components/modal-dialog";
import { TextField } from "../components/text-field";
import { fromDateTimeLocal } from "../format";
import { useI18n } from "../i18n/i18n";
import { keyLimitsOf, keyLimitsValuesOf } from "../key-limits-values";
import { keyLimitWords } from "../key-limits-words";
import { useBudgetTimeZone } from "../use-budget-time-zone";
import { useNow } from "../use-now";
import { KeyForm } from "./key-form";

/**
 * Each key's spend in its budgets' windows, from `GET /admin/usage?groupBy=key` since each window's start in
 * `timeZone` (only the windows some key has a budget for are asked).
 */
function useKeySpend(keys: readonly ApiKey[], now: number, timeZone: string): Map<string, KeySpend> {
  const starts = budgetWindowStarts(now, timeZone);
  const has = (field: ApiKeyBudgetField) => keys.some((key) => key.limits?.[field] !== undefined);
  const day = useUsageTotals(starts.day, "key", { enabled: has("costPerDayUsd") });
  const week = useUsageTotals(starts.week, "key", { enabled: has("costPerWeekUsd") });
  const month = useUsageTotals(starts.month, "key", { enabled: has("costPerMonthUsd") });
  const total = useUsageTotals(0, "key", { enabled: has("costTotalUsd") });
  return useMemo(() => {
    const spend = new Map<string, KeySpend>();
    const add = (field: ApiKeyBudgetField, rows: ReadonlyArray<{ key: string | null; costUsd: number }> | undefined) => {
      if (!rows) return;
      for (const key of keys) spend.set(String(key.id), { ...spend.get(String(key.id)), [field]: 0 });
      for (const row of rows) if (row.key !== null) spend.set(row.key, { ...spend.get(row.key), [field]: row.costUsd });
    };
    add("costPerDayUsd", day.data?.data);
    add("costPerWeekUsd", week.data?.data);
    add("costPerMonthUsd", month.data?.data);
    add("costTotalUsd", total.data?.data);
    return spend;
  }, [keys, day.data, week.data, month.data, total.data]);
}

export function KeysPage() {
  const { t, format } = useI18n();
  const now = useNow(30_000);
  const keys = useApiKeys();
  const groups = useGroups();
  const create = useCreateApiKey();
  const revoke = useDeleteApiKey();
  const [name, setName] = useState("");
  const [groupId, setGroupId] = useState("");
  const [expiresAt, setExpiresAt] = useState("");
  const [limits, setLimits] = useState(() => keyLimitsValuesOf(null));
  const [created, setCreated] = useState<CreatedApiKey | null>(null);
  const [revoking, setRevoking] = useState<ApiKey | null>(null);
  const [editing, setEditing] = useState<ApiKey | null>(null);
  const [timeZone, setTimeZone] = useBudgetTimeZone();
  const [zoneText, setZoneText] = useState(timeZone);
  const spend = useKeySpend(keys.data ?? [], now, timeZone);
  const groupNames = new Map((groups.data ?? []).map((group) => [group.id, group.name]));
  const chosenGroup = groupId !== "" ? groupId : String(groups.data?.[0]?.id ?? "");

  const submit = (event: FormEvent) => {
    event.preventDefault();
    const expiry = fromDateTimeLocal(expiresAt);
    const chosenLimits = keyLimitsOf(limits);
    create.mutate(
      {
        name,
        groupId: Number(chosenGroup),
        ...(expiry === undefined ? {} : { expiresAt: expiry }),
        ...(chosenLimits === null ? {} : { limits: chosenLimits }),
      },
      {
        onSuccess: (key) => {
          setCreated(key);
          setName("");
          setExpiresAt("");
          setLimits(keyLimitsValuesOf(null));
        },
      },
    );
  };
  const closeCreated = () => {
    // The key leaves memory with the dialog: the API never shows it again.
    setCreated(null);
    create.reset();
  };

  return (
    <>
      <h1>{t("nav.keys")}</h1>
      <section className="panel" aria-labelledby="new-key-heading">
        <h2 id="new-key-heading">{t("keys.newKey")}</h2>
        {groups.isSuccess && groups.data.length === 0 ? (
          <p className="empty">{t("keys.needGroup")}</p>
        ) : (
          <form className="form" onSubmit={submit}>
            <div className="inline-form">
              <TextField label={t("keys.name")} value={name} onChange={setName} required maxLength={200} />
              <Field label={t("accounts.group")}>
                {(id) => (
                  <select
                    id={id}
                    value={chosenGroup}
                    onChange={(event) => setGroupId(event.target.value)}
                    required
                  >
                    {(groups.data ?? []).map((group) => (
                      <option key={group.id} value={String(group.id)}>
                        {group.name} ({group.platform})
                      </option>
                    ))}
                  </select>
                )}
              </Field>
              <TextField label={t("keys.expiresAtOptional")} type="datetime-local" value={expiresAt} onChange={setExpiresAt} />
              <button type="submit" className="primary" disabled={create.isPending || chosenGroup === ""}>
                {t("keys.create")}
              </button>
            </div>
            <details className="details">
              <summary>{t("limits.optional")}</summary>
              <KeyLimitsFields values={limits} onChange={setLimits} />
            </details>
          </form>
        )}
        <ErrorMessage error={create.error} />
      </section>

      <ErrorMessage error={keys.error} />
      {keys.isSuccess && keys.data.length === 0 ? (
        <p className="empty">{t("keys.empty")}</p>
      ) : (
        <DataTable
          columns={[
            { label: t("keys.name") },
            { label: t("keys.prefix") },
            { label: t("accounts.group") },
            { label: t("keys.status") },
            { label: t("limits.budgets") },
            { label: t("limits.title") },
            { label: t("keys.expires") },
            { label: t("keys.created") },
            { label: t("accounts.lastUsed") },
            { label: t("common.actions") },
          ]}
        >
          {(keys.data ?? []).map((key) => {
            const expired = key.expiresAt !== null && key.expiresAt <= now;
            return (
              <tr key={key.id}>
                <th scope="row">{key.name}</th>
                <td>
                  <code>{key.prefix}…</code>
                </td>
                <td>{groupNames.get(key.groupId) ?? `#${key.groupId}`}</td>
                <td>
                  {key.status === "revoked"
                    ? t("keys.revoked")
                    : expired
                      ? t("keys.expired")
                      : t("keys.active")}
                </td>
                <td>
                  <BudgetBars limits={key.limits} spend={spend.get(String(key.id)) ?? {}} />
                </td>
                <td className="small">
                  {keyLimitWords(key.limits, t, format).map((words) => (
                    <div key={words}>{words}</div>
                  ))}
                </td>
                <td>
                  {key.expiresAt === null ? t("keys.neverExpires") : format.dateTime(key.expiresAt)}
                </td>
                <td>{format.dateTime(key.createdAt)}</td>
                <td>{key.lastUsedAt === null ? t("common.never") : format.dateTime(key.lastUsedAt)}</td>
                <td className="actions">
                  <div className="row-actions">
                    {key.status === "active" ? (
                      <EditDeleteButtons
                        deleteLabel={t("keys.revoke")}
                        onEdit={() => setEditing(key)}
                        onDelete={() => {
                          revoke.reset();
                          setRevoking(key);
                        }}
                      />
                    ) : null}
                  </div>
                </td>
              </tr>
            );
          })}
        </DataTable>
      )}

      <div className="filters">
        <Field label={t("limits.timeZone")} className="field-inline">
          {(id) => (
            <input
              id={id}
              value={zoneText}
              aria-describedby="budget-zone-hint"
              onChange={(event) => {
                setZoneText(event.target.value);
                if (isTimeZone(event.target.value)) setTimeZone(event.target.value);
              }}
            />
          )}
        </Field>
        <p className="muted small" id="budget-zone-hint">
          {isTimeZone(zoneText) ? t("limits.timeZoneHint", { zone: timeZone }) : t("limits.timeZoneInvalid")}
        </p>
      </div>

      <ModalDialog open={editing !== null} title={t("keys.editTitle", { name: editing?.name ?? "" })} wide onClose={() => setEditing(null)}>
        {editing ? <KeyForm apiKey={editing} onDone={() => setEditing(null)} /> : null}
      </ModalDialog>

      <ModalDialog open={created !== null} title={t("keys.createdTitle")} onClose={closeCreated}>
        {created ? <CreatedKey created={created} onDone={closeCreated} /> : null}
      </ModalDialog>

      <ConfirmItemDialog
        item={revoking}
        title={t("keys.revokeTitle")}
        message={(name) => t("keys.revokeMessage", { name })}
        confirmLabel={t("keys.revoke")}
        mutation={revoke}
        onClose={() => setRevoking(null)}
      />
    </>
  );
}

/** The new key, shown this once, with a Copy button. */
function CreatedKey({ created, onDone }: { created: CreatedApiKey; onDone: () => void }) {
  const { t } = useI18n();
  const field = useRef<HTMLInputElement>(null);
  const [copied, setCopied] = useState<"yes" | "no" | null>(null);
  const copy = async () => {
    try {
      await navigator.clipboard.writeText(created.key);
      setCopied("yes");
    } catch {
      field.current?.select();
      setCopied(document.execCommand("copy") ? "yes" : "no");
    }
  };
  return (
    <div className="form">
      <p>{t("keys.shownOnce", { name: created.name })}</p>
      <Field label={t("keys.keyLabel")}>
        {(id) => (
          <input
            id={id}
            ref={field}
            className="mono"
            readOnly
            value={created.key}
            onFocus={(event) => event.target.select()}
          />
        )}
      </Field>
      <p className="muted" role="status">
        {copied === "yes" ? t("keys.copied") : copied === "no" ? t("keys.copyFailed") : ""}
      </p>
      <div className="dialog-actions">
        <button type="button" onClick={() => void copy()}>
          {t("keys.copy")}
        </button>
        <button type="button" className="primary" onClick={onDone}>
          {t("common.done")}
        </button>
      </div>
    </div>
  );
}
