import { ErrorMessage } from "./error-message";
import { useI18n } from "../i18n/i18n";

/** The foot of a form in a dialog: the API's refusal, then Cancel and the submit button (disabled while it runs). */
export function FormActions({
  error,
  busy,
  submitLabel,
  onCancel,
}: {
  error: unknown;
  busy: boolean;
  submitLabel: string;
  onCancel: () => void;
}) {
  const { t } = useI18n();
  return (
    <>
      <ErrorMessage error={error} />
      <div className="dialog-actions">
        <button type="button" onClick={onCancel}>
          {t("common.cancel")}
        </button>
        <button type="submit" className="primary" disabled={busy}>
          {submitLabel}
        </button>
      </div>
    </>
  );
}
