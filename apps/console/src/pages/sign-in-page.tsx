import { useId, useState } from "react";
import { useSignIn } from "../admin-queries";
import { AdminApiError } from "../admin-api-error";
import { LanguageSwitch } from "../components/language-switch";
import { Field } from "../components/field";
import { useI18n } from "../i18n/i18n";

/** The admin token, exchanged for the session cookie at POST /admin/session. */
export function SignInPage() {
  const { t } = useI18n();
  const signIn = useSignIn();
  const [token, setToken] = useState("");
  const errorId = useId();
  const error = signIn.error;
  const message = !error
    ? null
    : AdminApiError.isInstance(error) && error.status === 401
      ? t("auth.wrongToken")
      : AdminApiError.isInstance(error) && error.status === 429
        ? t("auth.throttled")
        : error.message;
  return (
    <main className="sign-in">
      <form
        className="sign-in-card"
        onSubmit={(event) => {
          event.preventDefault();
          if (token !== "") signIn.mutate(token);
        }}
      >
        <h1>{t("auth.title")}</h1>
        <p className="muted">{t("auth.intro")}</p>
        <Field label={t("auth.tokenLabel")}>
          {(id) => (
            <input
              id={id}
              type="password"
              autoComplete="current-password"
              value={token}
              onChange={(event) => setToken(event.target.value)}
              required
              autoFocus
              aria-invalid={message ? true : undefined}
              aria-describedby={message ? errorId : undefined}
            />
          )}
        </Field>
        {message ? (
          <p id={errorId} className="error-message" role="alert">
            {message}
          </p>
        ) : null}
        <div className="form-actions">
          <button type="submit" className="primary" disabled={signIn.isPending}>
            {t("auth.signIn")}
          </button>
          <LanguageSwitch />
        </div>
      </form>
    </main>
  );
}
