import { useState, type FormEvent } from "react";
import {
  useAccounts,
  useApiKeys,
  useCreateGroup,
  useDeleteGroup,
  useGroups,
  useUpdateGroup,
} from "../admin-queries";
import type { Group } from "../admin-types";
import { platforms } from "../admin-types";
import { ConfirmItemDialog } from "../components/confirm-item-dialog";
import { DataTable } from "../components/data-table";
import { EditDeleteButtons } from "../components/edit-delete-buttons";
import { ErrorMessage } from "../components/error-message";
import { Field } from "../components/field";
import { FormActions } from "../components/form-actions";
import { ModalDialog } from "../components/modal-dialog";
import { TextField } from "../components/text-field";
import { useI18n } from "../i18n/i18n";

export function GroupsPage() {
  const { t, format } = useI18n();
  const groups = useGroups();
  const accounts = useAccounts();
  const keys = useApiKeys();
  const create = useCreateGroup();
  const remove = useDeleteGroup();
  const [name, setName] = useState("");
  const [platform, setPlatform] = useState("claude");
  const [mode, setMode] = useState<"single" | "mixed">("single");
  const [defaultModel, setDefaultModel] = useState("");
  const [editing, setEditing] = useState<Group | null>(null);
  const [deleting, setDeleting] = useState<Group | null>(null);

  const submit = (event: FormEvent) => {
    event.preventDefault();
    create.mutate(
      { name, platform, mode, ...(defaultModel.trim() === "" ? {} : { defaultModel: defaultModel.trim() }) },
      {
        onSuccess: () => {
          setName("");
          setDefaultModel("");
        },
      },
    );
  };

  return (
    <>
      <h1>{t("nav.groups")}</h1>
      <section className="panel" aria-labelledby="new-group-heading">
        <h2 id="new-group-heading">{t("groups.create")}</h2>
        <form className="inline-form" onSubmit={submit}>
          <TextField label={t("groups.name")} value={name} onChange={setName} required maxLength={200} />
          <Field label={t("accounts.platform")}>
            {(id) => (
              <select id={id} value={platform} onChange={(event) => setPlatform(event.target.value)}>
                {platforms.map((option) => (
                  <option key={option} value={option}>
                    {option}
                  </option>
                ))}
              </select>
            )}
          </Field>
          <Field label={t("groups.mode")}>
            {(id) => (
              <select
                id={id}
                value={mode}
                onChange={(event) => setMode(event.target.value as "single" | "mixed")}
              >
                <option value="single">{t("groups.modeSingle")}</option>
                <option value="mixed">{t("groups.modeMixed")}</option>
              </select>
            )}
          </Field>
          <TextField
            label={t("groups.defaultModel")}
            value={defaultModel}
            onChange={setDefaultModel}
            placeholder={t("groups.defaultModelNone")}
          />
          <button type="submit" className="primary" disabled={create.isPending}>
            {t("groups.createButton")}
          </button>
        </form>
        <ErrorMessage error={create.error} />
      </section>

      <ErrorMessage error={groups.error} />
      {groups.isSuccess && groups.data.length === 0 ? (
        <p className="empty">{t("groups.empty")}</p>
      ) : (
        <DataTable
          columns={[
            { label: t("groups.name") },
            { label: t("accounts.platform") },
            { label: t("groups.mode") },
            { label: t("groups.defaultModel") },
            { label: t("groups.members") },
            { label: t("groups.keys"), number: true },
            { label: t("accounts.inFlight"), number: true },
            { label: t("accounts.waiters"), number: true },
            { label: t("common.actions") },
          ]}
        >
          {(groups.data ?? []).map((group) => {
            const members = (accounts.data ?? []).filter((account) =>
              account.groupIds.includes(group.id),
            );
            const keyCount = (keys.data ?? []).filter(
              (key) => key.groupId === group.id && key.status === "active",
            ).length;
            return (
              <tr key={group.id}>
                <th scope="row">{group.name}</th>
                <td>{group.platform}</td>
                <td>{group.mode === "mixed" ? t("groups.modeMixed") : t("groups.modeSingle")}</td>
                <td>{group.defaultModel ?? "—"}</td>
                <td>
                  {members.length === 0 ? (
                    <span className="muted">{t("groups.noMembers")}</span>
                  ) : (
                    members.map((account) => account.name).join(", ")
                  )}
                </td>
                <td className="number">{format.number(keyCount)}</td>
                <td className="number">
                  {group.inFlight === null ? "?" : format.number(group.inFlight)}
                </td>
                <td className="number">{group.waiters === null ? "?" : format.number(group.waiters)}</td>
                <td className="actions">
                  <div className="row-actions">
                    <EditDeleteButtons
                      deleteLabel={t("common.delete")}
                      onEdit={() => setEditing(group)}
                      onDelete={() => {
                        remove.reset();
                        setDeleting(group);
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
        title={t("groups.editTitle", { name: editing?.name ?? "" })}
        onClose={() => setEditing(null)}
      >
        {editing ? <GroupEditForm key={editing.id} group={editing} onDone={() => setEditing(null)} /> : null}
      </ModalDialog>

      <ConfirmItemDialog
        item={deleting}
        title={t("groups.deleteTitle")}
        message={(name) => t("groups.deleteMessage", { name })}
        confirmLabel={t("common.delete")}
        mutation={remove}
        onClose={() => setDeleting(null)}
      />
    </>
  );
}

/** Rename a group and set its default model (platform and mode are fixed once created). */
function GroupEditForm({ group, onDone }: { group: Group; onDone: () => void }) {
  const { t } = useI18n();
  const update = useUpdateGroup();
  const [name, setName] = useState(group.name);
  const [defaultModel, setDefaultModel] = useState(group.defaultModel ?? "");
  return (
    <form
      className="form"
      onSubmit={(event) => {
        event.preventDefault();
        update.mutate(
          {
            id: group.id,
            patch: { name, defaultModel: defaultModel.trim() === "" ? null : defaultModel.trim() },
          },
          { onSuccess: onDone },
        );
      }}
    >
      <TextField label={t("groups.name")} value={name} onChange={setName} required maxLength={200} />
      <TextField
        label={t("groups.defaultModel")}
        value={defaultModel}
        onChange={setDefaultModel}
        placeholder={t("groups.defaultModelNone")}
      />
      <FormActions error={update.error} busy={update.isPending} submitLabel={t("common.save")} onCancel={onDone} />
    </form>
  );
}
