import { describe, expect, it } from "vitest";
import { dictionaries, initialLanguage, LANGUAGE_STORAGE_KEY, translate } from "./i18n";
import { messagesEn } from "./messages-en";
import { messagesZh } from "./messages-zh";

const placeholders = (message: string) => [...message.matchAll(/\{(\w+)\}/g)].map((match) => match[1]).sort();

describe("the dictionaries", () => {
  it("have the same keys", () => {
    expect(Object.keys(messagesZh).sort()).toEqual(Object.keys(messagesEn).sort());
  });

  it("use the same placeholders in each message, and none is empty", () => {
    for (const [key, english] of Object.entries(messagesEn)) {
      const chinese = messagesZh[key as keyof typeof messagesEn];
      expect(chinese.trim(), key).not.toBe("");
      expect(placeholders(chinese), key).toEqual(placeholders(english));
    }
  });

  it("are translated: Chinese words where English has letters, except names of things", () => {
    const untranslatable = new Set([
      "accountForm.typeOAuth",
      "accountForm.baseUrl",
      "accountForm.modelsPlaceholder",
      "usage.chartTitle",
    ]);
    for (const [key, english] of Object.entries(messagesEn)) {
      if (untranslatable.has(key) || !/[a-z]/i.test(english)) continue;
      expect(messagesZh[key as keyof typeof messagesEn], key).toMatch(/[\u4e00-\u9fff]/);
    }
  });

  it("keep the labels the browser tests find controls by", () => {
    expect(dictionaries.en["auth.tokenLabel"]).toBe("Admin token");
    expect(dictionaries.en["auth.signIn"]).toBe("Sign in");
    expect(dictionaries.en["auth.signOut"]).toBe("Sign out");
    expect(
      ["nav.overview", "nav.accounts", "nav.groups", "nav.keys", "nav.usage"].map(
        (key) => dictionaries.en[key as keyof typeof messagesEn],
      ),
    ).toEqual(["Overview", "Accounts", "Groups", "Keys", "Usage"]);
    expect(dictionaries.en["accounts.add"]).toBe("Add account");
    expect(dictionaries.en["keys.create"]).toBe("Create key");
    expect(dictionaries.en["keys.copy"]).toBe("Copy");
  });
});

describe("translate and the language choice", () => {
  it("fills placeholders and leaves unknown ones", () => {
    expect(translate("en", "state.rateLimitedUntil", { time: "14:05" })).toBe("rate limited until 14:05");
    expect(translate("en", "state.rateLimitedUntil")).toBe("rate limited until {time}");
    expect(translate("zh-CN", "state.errorWithReason", { reason: "403" })).toBe("错误：403");
  });

  it("takes the remembered choice first, then the browser's languages, then English", () => {
    const stored = (value: string | null) => ({
      getItem: (key: string) => (key === LANGUAGE_STORAGE_KEY ? value : null),
    });
    expect(initialLanguage(stored("zh-CN"), ["en-US"])).toBe("zh-CN");
    expect(initialLanguage(stored("en"), ["zh-CN"])).toBe("en");
    expect(initialLanguage(stored("fr"), ["zh-TW", "en"])).toBe("zh-CN");
    expect(initialLanguage(stored(null), ["de-DE", "en-GB"])).toBe("en");
    expect(initialLanguage(undefined, ["de-DE"])).toBe("en");
  });
});
