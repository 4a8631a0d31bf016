import { createContext, useCallback, useContext, useEffect, useMemo, useState, type ReactNode } from "react";
import { createFormatter, type Formatter } from "../format";
import { messagesEn, type MessageKey } from "./messages-en";
import { messagesZh } from "./messages-zh";

export type Language = "en" | "zh-CN";
export const languages: ReadonlyArray<{ code: Language; label: string }> = [
  { code: "en", label: "English" },
  { code: "zh-CN", label: "简体中文" },
];
export const dictionaries: Record<Language, Record<MessageKey, string>> = {
  en: messagesEn,
  "zh-CN": messagesZh,
};

/** Where the choice is remembered. */
export const LANGUAGE_STORAGE_KEY = "subrelay.console.language";

export type Translate = (key: MessageKey, values?: Record<string, string | number>) => string;

export interface I18n {
  language: Language;
  setLanguage: (language: Language) => void;
  t: Translate;
  format: Formatter;
}

/** `{name}` in a message replaced by `values.name`. */
export function translate(
  language: Language,
  key: MessageKey,
  values?: Record<string, string | number>,
): string {
  const message = dictionaries[language][key];
  if (!values) return message;
  return message.replace(/\{(\w+)\}/g, (whole, name: string) =>
    name in values ? String(values[name]) : whole,
  );
}

/** The stored choice, else the browser's first language we have, else English. */
export function initialLanguage(
  storage: Pick<Storage, "getItem"> | undefined,
  preferred: readonly string[],
): Language {
  const stored = storage?.getItem(LANGUAGE_STORAGE_KEY);
  if (stored === "en" || stored === "zh-CN") return stored;
  for (const tag of preferred) {
    if (/^zh\b/i.test(tag)) return "zh-CN";
    if (/^en\b/i.test(tag)) return "en";
  }
  return "en";
}

const I18nContext = createContext<I18n | null>(null);

export function I18nProvider({ storage, children }: { storage?: Storage; children: ReactNode }) {
  const [language, setLanguageState] = useState<Language>(() =>
    initialLanguage(storage, navigator.languages ?? [navigator.language]),
  );
  const setLanguage = useCallback(
    (next: Language) => {
      storage?.setItem(LANGUAGE_STORAGE_KEY, next);
      setLanguageState(next);
    },
    [storage],
  );
  useEffect(() => {
    document.documentElement.lang = language;
  }, [language]);
  const value = useMemo<I18n>(
    () => ({
      language,
      setLanguage,
      t: (key, values) => translate(language, key, values),
      format: createFormatter(language),
    }),
    [language, setLanguage],
  );
  return <I18nContext.Provider value={value}>{children}</I18nContext.Provider>;
}

export function useI18n(): I18n {
  const i18n = useContext(I18nContext);
  if (!i18n) throw new Error("useI18n outside I18nProvider");
  return i18n;
}
