import { isRecord } from "@subrelay/providers-core";

/**
 * Reads the claims of a JWT without verifying its signature: the token came straight from the issuer over
 * TLS, and we only read routing data from it (account id, expiry), never make trust decisions.
 * Returns undefined for anything that is not a three-part JWT with a JSON object payload.
 * Never log the input or the result: both identify the account.
 */
export function decodeJwtClaims(token: string): Record<string, unknown> | undefined {
  const parts = token.split(".");
  if (parts.length !== 3 || parts[1] === undefined || parts[1] === "") return undefined;
  try {
    const payload: unknown = JSON.parse(Buffer.from(parts[1], "base64url").toString("utf8"));
    return isRecord(payload) ? payload : undefined;
  } catch {
    return undefined;
  }
}
