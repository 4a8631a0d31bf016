import { useMemo, useState } from "react";
import { accountState, accountStateKinds, scopedRateLimits, type AccountStateKind } from "../account-state";
import { describeAccountState, stateKindLabel } from "../account-state-words";
import {
  useAccounts,
  useDeleteAccount,
  useGroups,
  useResetAccount,
  useUpdateAccount,
  useUsageTotals,
} from "../admin-queries";
import type { Account } from "../admin-types";
import { platforms } from "../admin-types";
import { ConfirmItemDialog } from "../components/confirm-item-dialog";
import { DataTable } from "../components/data-table";
import { EditDeleteButtons } from "../components/edit-delete-buttons";
import { ErrorMessage } from "../components/error-message";
import { Field } from "../components/field";
import { ModalDialog } from "../components/modal-dialog";
import { formatCountdown, startOfDay } from "../format";
import { useI18n } from "../i18n/i18n";
import { useNow } from "../use-now";
import { AccountForm } from "./account-form";

type Editing = { kind: "new" } | { kind: "edit"; account: Account } | null;

export function AccountsPage() {
  const { t, format } = useI18n();
  const now = useNow();
  const accounts = useAccounts();
  const groups = useGroups();
  const today = useUsageTotals(startOfDay(now), "account");
  const reset = useResetAccount();
  const update = useUpdateAccount();
  const remove = useDeleteAccount();
  const [platformFilter, setPlatformFilter] = useState("");
  const [groupFilter, setGroupFilter] = useState("");
  const [stateFilter, setStateFilter] = useState<AccountStateKind | "">("");
  const [editing, setEditing] = useState<Editing>(null);
  const [deleting, setDeleting] = useState<Account | null>(null);

  const groupNames = useMemo(
    () => new Map((groups.data ?? []).map((group) => [group.id, group.name])),
    [groups.data],
  );
  const usageByAccount = useMemo(
    () => new Map((today.data?.data ?? []).map((row) => [row.key, row])),
    [today.data],
  );
  const rows = (accounts.data ?? [])
    .map((account) => ({ account, state: accountState(account, now) }))
    .filter(({ account, state }) => {
      if (platformFilter !== "" && account.platform !== platformFilter) return false;
      if (groupFilter !== "" && !account.groupIds.includes(Number(groupFilter))) return false;
      if (stateFilter !== "" && state.kind !== stateFilter) return false;
      return true;
    });
  const actionError = reset.error ?? update.error;

  return (
    <>
      <div className="page-header">
        <h1>{t("nav.accounts")}</h1>
        <button type="button" className="primary" onClick={() => setEditing({ kind: "new" })}>
          {t("accounts.add")}
        </button>
      </div>

      <div className="filters" role="group" aria-label={t("accounts.filters")}>
        <Field label={t("accounts.platform")} className="field-inline">
          {(id) => (
            <select
              id={id}
              value={platformFilter}
              onChange={(event) => setPlatformFilter(event.target.value)}
            >
              <option value="">{t("common.all")}</option>
              {platforms.map((platform) => (
                <option key={platform} value={platform}>
                  {platform}
                </option>
              ))}
            </select>
          )}
        </Field>
        <Field label={t("accounts.group")} className="field-inline">
          {(id) => (
            <select id={id} value={groupFilter} onChange={(event) => setGroupFilter(event.target.value)}>
              <option value="">{t("common.all")}</option>
              {(groups.data ?? []).map((group) => (
                <option key={group.id} value={String(group.id)}>
                  {group.name}
                </option>
              ))}
            </select>
          )}
        </Field>
        <Field label={t("accounts.state")} className="field-inline">
          {(id) => (
            <select
              id={id}
              value={stateFilter}
              onChange={(event) => setStateFilter(event.target.value as AccountStateKind | "")}
            >
              <option value="">{t("common.all")}</option>
              {accountStateKinds.map((kind) => (
                <option key={kind} value={kind}>
                  {stateKindLabel(kind, t)}
                </option>
              ))}
            </select>
          )}
        </Field>
      </div>

      <ErrorMessage error={accounts.error ?? actionError} />

      {accounts.isSuccess && accounts.data.length === 0 ? (
        <p className="empty">{t("accounts.empty")}</p>
      ) : accounts.isSuccess && rows.length === 0 ? (
        <p className="empty">{t("accounts.noneMatch")}</p>
      ) : (
        <DataTable
          columns={[
            { label: t("accounts.name") },
            { label: t("accounts.platform") },
            { label: t("accounts.type") },
            { label: t("accounts.groups") },
            { label: t("accounts.state") },
            { label: t("accounts.rateLimits") },
            { label: t("accounts.inFlight"), number: true },
            { label: t("accounts.waiters"), number: true },
            { label: t("accounts.priority"), number: true },
            { label: t("accounts.lastUsed") },
            { label: t("accounts.requestsToday"), number: true },
            { label: t("accounts.tokensToday"), number: true },
            { label: t("common.actions") },
          ]}
        >
          {rows.map(({ account, state }) => {
            const words = describeAccountState(state, t, format, now);
            const usage = usageByAccount.get(account.id);
            const scoped = scopedRateLimits(account, now);
            const enabled = account.status !== "disabled" && account.schedulable;
            return (
              <tr key={account.id} data-account-id={account.id}>
                <th scope="row">{account.name}</th>
                <td>{account.platform}</td>
                <td className="nowrap">
                  {account.type === "apikey" ? t("accountForm.typeApiKey") : t("accountForm.typeOAuth")}
                </td>
                <td>{account.groupIds.map((id) => groupNames.get(id) ?? `#${id}`).join(", ") || "—"}</td>
                <td>
                  <span className={`state state-${state.kind}`}>{words.text}</span>
                  {words.countdown ? (
                    <span className="countdown" title={t("accounts.countdownTitle")}>
                      {" "}
                      ({words.countdown})
                    </span>
                  ) : null}
                  {state.reason && state.kind !== "error" ? (
                    <div className="muted small">{state.reason}</div>
                  ) : null}
                </td>
                <td>
                  {scoped.length === 0 ? (
                    "—"
                  ) : (
                    <ul className="plain-list">
                      {scoped.map((limit) => (
                        <li key={`${limit.scope}:${limit.window ?? ""}`} title={limit.window}>
                          {t("accounts.scopeUntil", {
                            scope: limit.scope,
                            time: format.time(limit.until, now),
                          })}{" "}
                          <span className="countdown">({formatCountdown(limit.until - now)})</span>
                        </li>
                      ))}
                    </ul>
                  )}
                </td>
                <td className="number">
                  {account.inFlight === null ? "?" : format.number(account.inFlight)} /{" "}
                  {format.number(account.concurrency)}
                </td>
                <td className="number">
                  {account.waiters === null ? "?" : format.number(account.waiters)}
                </td>
                <td className="number">{format.number(account.priority)}</td>
                <td>
                  {account.lastUsedAt === null ? t("common.never") : format.time(account.lastUsedAt, now)}
                </td>
                <td className="number">{format.number(usage?.requests ?? 0)}</td>
                <td className="number">
                  {format.compact(
                    usage
                      ? usage.inputTokens +
                          usage.outputTokens +
                          usage.cacheReadTokens +
                          usage.cacheWriteTokens
                      : 0,
                  )}
                </td>
                <td className="actions">
                  <div className="row-actions">
                    <button
                      type="button"
                      onClick={() => reset.mutate(account.id)}
                      disabled={reset.isPending}
                    >
                      {t("accounts.reset")}
                    </button>
                    <button
                      type="button"
                      onClick={() =>
                        update.mutate({
                          id: account.id,
                          patch: enabled
                            ? { status: "disabled" }
                            : { status: "active", schedulable: true },
                        })
                      }
                      disabled={update.isPending}
                    >
                      {enabled ? t("accounts.disable") : t("accounts.enable")}
                    </button>
                    <EditDeleteButtons
                      deleteLabel={t("common.delete")}
                      onEdit={() => setEditing({ kind: "edit", account })}
                      onDelete={() => {
                        remove.reset();
                        setDeleting(account);
                      }}
                    />
                  </div>
                </td>
              </tr>
            );
          })}
        </DataTable>
      )}

      <ModalDialog
        open={editing !== null}
        wide
        title={
          editing?.kind === "edit"
            ? t("accounts.editTitle", { name: editing.account.name })
            : t("accounts.add")
        }
        onClose={() => setEditing(null)}
      >
        {editing ? (
          <AccountForm
            key={editing.kind === "edit" ? editing.account.id : "new"}
            account={editing.kind === "edit" ? editing.account : undefined}
            groups={groups.data ?? []}
            onDone={() => setEditing(null)}
          />
        ) : null}
      </ModalDialog>

      <ConfirmItemDialog
        item={deleting}
        title={t("accounts.deleteTitle")}
        message={(name) => t("accounts.deleteMessage", { name })}
        confirmLabel={t("common.delete")}
        mutation={remove}
        onClose={() => setDeleting(null)}
      />
    </>
  );
}
