/** What a masked credential is replaced with. */
export const REDACTED = "[redacted]";

/**
 * Credential shapes the platforms issue, as they may appear in an upstream's error text: Anthropic keys and
 * OAuth tokens (`sk-ant-api03-…`, `sk-ant-oat01-…`, `sk-ant-ort01-…`), OpenAI keys (`sk-proj-…`, `sk-…`),
 * subrelay keys, bearer tokens, Google OAuth access tokens (`ya29.…`), API keys (`AIza…`) and refresh tokens
 * (`1//0…`), JWTs (OpenAI OAuth tokens), `rt_…` refresh tokens, and JSON fields named after a token or key.
 * None of the character classes holds a quote or a backslash, so masking keeps a JSON body valid.
 */
const CREDENTIAL_SHAPES = new RegExp(
  [
    String.raw`\bsk-[A-Za-z0-9_-]{16,}`,
    String.raw`\bsr-[A-Za-z0-9_-]{16,}`,
    String.raw`\bya29\.[A-Za-z0-9._-]{10,}`,
    String.raw`\bAIza[0-9A-Za-z_-]{20,}`,
    String.raw`\b1//0[0-9A-Za-z_-]{20,}`,
    String.raw`\beyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}`,
    String.raw`\brt_[A-Za-z0-9._-]{20,}`,
  ].join("|"),
  "g",
);
/** `Bearer <token>` (a header echoed in a message): the scheme stays, the token goes. */
const BEARER = /\b(Bearer\s+)[A-Za-z0-9._~+/=-]{8,}/gi;
/** `"access_token": "…"`, `"refresh_token"`, `"id_token"`, `"api_key"`, `"x-api-key"`, `"x-goog-api-key"`, `"authorization"`. */
const SECRET_FIELD = /("(?:access_token|refresh_token|id_token|api_key|apiKey|accessToken|refreshToken|x-api-key|x-goog-api-key|authorization)"\s*:\s*")[^"\\]*/gi;
/** `key=…` in an echoed URL (Gemini API keys travel in the query). */
const KEY_PARAMETER = /([?&]key=)[^&\s"\\]+/g;
/** Known secrets shorter than this are not searched for: too likely to hit ordinary text. */
const MIN_SECRET_LENGTH = 8;

/**
 * `text` with every credential-looking string replaced by `[redacted]`: the shapes above, and each of
 * `secrets` (the account's own key and tokens, whatever their shape) as sent, JSON-escaped and URL-encoded.
 * For upstream error bodies the gateway passes on to its clients; at most a few regular-expression passes over
 * a body the relay already bounds (64 KiB).
 */
export function maskCredentials(text: string, secrets: readonly string[] = []): string {
  let masked = text;
  for (const secret of secrets) {
    if (secret.length < MIN_SECRET_LENGTH) continue;
    for (const form of new Set([secret, JSON.stringify(secret).slice(1, -1), encodeURIComponent(secret)])) {
      masked = masked.split(form).join(REDACTED);
    }
  }
  return masked
    .replace(SECRET_FIELD, `$1${REDACTED}`)
    .replace(BEARER, `$1${REDACTED}`)
    .replace(KEY_PARAMETER, `$1${REDACTED}`)
    .replace(CREDENTIAL_SHAPES, REDACTED);
}

/** The string values of `credentials` that are secrets (tokens, keys): what `maskCredentials` searches for. */
export function secretsOf(credentials: object, ...more: Array<string | undefined>): string[] {
  const secrets = more.filter((value): value is string => typeof value === "string");
  for (const [name, value] of Object.entries(credentials)) {
    if (typeof value === "string" && /token|key|secret/i.test(name)) secrets.push(value);
  }
  return secrets;
}
