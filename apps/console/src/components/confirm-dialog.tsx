import { ErrorMessage } from "./error-message";
import { ModalDialog } from "./modal-dialog";
import { useI18n } from "../i18n/i18n";

/** Asks before something that cannot be undone; the API's refusal (e.g. a group still in use) is shown in it. */
export function ConfirmDialog({
  open,
  title,
  message,
  confirmLabel,
  busy,
  error,
  onConfirm,
  onCancel,
}: {
  open: boolean;
  title: string;
  message: string;
  confirmLabel: string;
  busy: boolean;
  error: unknown;
  onConfirm: () => void;
  onCancel: () => void;
}) {
  const { t } = useI18n();
  return (
    <ModalDialog open={open} title={title} onClose={onCancel}>
      <p>{message}</p>
      <ErrorMessage error={error} />
      <div className="dialog-actions">
        <button type="button" onClick={onCancel} autoFocus>
          {t("common.cancel")}
        </button>
        <button type="button" className="danger" onClick={onConfirm} disabled={busy}>
          {confirmLabel}
        </button>
      </div>
    </ModalDialog>
  );
}
