import { useI18n } from "../i18n/i18n";

/** A row's Edit button and its danger button (Delete, Revoke) that asks before acting. */
export function EditDeleteButtons({
  deleteLabel,
  onEdit,
  onDelete,
}: {
  deleteLabel: string;
  onEdit: () => void;
  onDelete: () => void;
}) {
  const { t } = useI18n();
  return (
    <>
      <button type="button" onClick={onEdit}>
        {t("common.edit")}
      </button>
      <button type="button" className="danger" onClick={onDelete}>
        {deleteLabel}
      </button>
    </>
  );
}
