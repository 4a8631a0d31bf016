import { languages, useI18n, type Language } from "../i18n/i18n";

/** The language menu; the choice is remembered in localStorage. */
export function LanguageSwitch() {
  const { t, language, setLanguage } = useI18n();
  return (
    <select
      className="language-switch"
      aria-label={t("common.language")}
      value={language}
      onChange={(event) => setLanguage(event.target.value as Language)}
    >
      {languages.map((option) => (
        <option key={option.code} value={option.code} lang={option.code}>
          {option.label}
        </option>
      ))}
    </select>
  );
}
