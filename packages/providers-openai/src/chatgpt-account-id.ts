import { decodeJwtClaims } from "./decode-jwt-claims";

/** The claim namespace OpenAI's auth server puts ChatGPT account data under, in id and access tokens. */
export const openAIAuthClaim = "https://api.openai.com/auth";

/**
 * The ChatGPT account id (`chatgpt_account_id`) carried in an OpenAI id_token or access_token,
 * or undefined when the token is not a JWT or has no such claim. The Codex backend wants it in the
 * `chatgpt-account-id` header. Never log it.
 */
export function chatgptAccountId(token: string): string | undefined {
  const auth = decodeJwtClaims(token)?.[openAIAuthClaim];
  if (typeof auth !== "object" || auth === null) return undefined;
  const accountId = (auth as Record<string, unknown>).chatgpt_account_id;
  return typeof accountId === "string" && accountId !== "" ? accountId : undefined;
}
