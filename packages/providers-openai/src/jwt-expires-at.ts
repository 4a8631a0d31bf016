import { decodeJwtClaims } from "./decode-jwt-claims";

/** The `exp` claim of a JWT in epoch milliseconds, or undefined when there is none. */
export function jwtExpiresAt(token: string): number | undefined {
  const exp = decodeJwtClaims(token)?.exp;
  return typeof exp === "number" && Number.isFinite(exp) ? exp * 1000 : undefined;
}
