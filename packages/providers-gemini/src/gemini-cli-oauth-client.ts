/**
 * The OAuth client of Google's gemini-cli (`packages/core/src/code_assist/oauth2.ts` in google-gemini/gemini-cli).
 * It is an "installed application" client: Google documents that its secret is embedded in the app and
 * "obviously not treated as a secret", so carrying it here leaks nothing. Accounts whose refresh tokens were
 * issued to another client must configure that client instead (`clientId` / `clientSecret` options).
 */
export const geminiCliOAuthClient = {
  clientId: "681255809395-oo8ft2oprdrnp9e3aqf6av3hmdib135j.apps.googleusercontent.com",
  clientSecret: "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",
} as const;
