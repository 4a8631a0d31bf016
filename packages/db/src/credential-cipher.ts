import { createCipheriv, createDecipheriv, createHmac, randomBytes } from "node:crypto";
import { DatabaseError } from "./database-error";

// v1: no additional data (written before credentials were bound to their row); v2: bound by additional data.
const UNBOUND_VERSION = "v1";
const BOUND_VERSION = "v2";
const KEY_BYTES = 32;
const IV_BYTES = 12;
const TAG_BYTES = 16;

/**
 * Parses `SUBRELAY_SECRET_KEY`: 32 bytes written as 64 hex characters or as base64 / base64url (44 or 43
 * characters). Throws DatabaseError `invalid_secret_key` saying which rule failed, never echoing the value.
 */
export function parseSecretKey(value: string): Uint8Array {
  const trimmed = value.trim();
  if (trimmed.length === 0) throw invalidKey("is empty");
  if (/^[0-9a-fA-F]+$/.test(trimmed) && trimmed.length === KEY_BYTES * 2)
    return new Uint8Array(Buffer.from(trimmed, "hex"));
  if (!/^[A-Za-z0-9+/_-]+={0,2}$/.test(trimmed)) {
    throw invalidKey(`is neither ${KEY_BYTES * 2} hex characters nor base64 (it contains other characters)`);
  }
  const bytes = Buffer.from(trimmed, "base64");
  if (bytes.length !== KEY_BYTES) {
    throw invalidKey(
      `must be ${KEY_BYTES} bytes (64 hex characters or 44 base64 characters); it decodes to ${bytes.length} bytes`,
    );
  }
  return new Uint8Array(bytes);
}

/** A fresh random key, base64-encoded (what `parseSecretKey` reads back). */
export function generateSecretKey(): string {
  return randomBytes(KEY_BYTES).toString("base64");
}

function invalidKey(reason: string): DatabaseError {
  return new DatabaseError(`SUBRELAY_SECRET_KEY ${reason}`, { code: "invalid_secret_key" });
}

/**
 * AES-256-GCM for credentials at rest. Each `encrypt` draws a fresh random 12-byte IV; the output is
 * `<version>.<iv>.<tag>.<ciphertext>` in base64url. With `additionalData` (what the value belongs to, e.g. its
 * row) the version is `v2` and GCM authenticates the additional data too: the value decrypts only with the
 * same additional data, so a ciphertext copied to another row is refused. Without it the version is `v1`
 * (the format written before the binding; `decrypt` reads it only without additional data). A wrong key, an
 * altered byte, other additional data or the other version make `decrypt` throw DatabaseError
 * `decrypt_failed` (the message carries no plaintext or ciphertext).
 */
export class CredentialCipher {
  readonly #key: Buffer;

  /** `secretKey`: 32 raw bytes, or a string `parseSecretKey` accepts. */
  constructor(secretKey: Uint8Array | string) {
    const bytes = typeof secretKey === "string" ? parseSecretKey(secretKey) : secretKey;
    if (bytes.length !== KEY_BYTES) throw invalidKey(`must be ${KEY_BYTES} bytes; got ${bytes.length}`);
    this.#key = Buffer.from(bytes);
  }

  /**
   * The key's check value: HMAC-SHA256 of a fixed label, base64url. It identifies the key (the same key,
   * the same value) without revealing it, so a database can remember which key its credentials need.
   */
  checkValue(): string {
    return createHmac("sha256", this.#key).update("subrelay secret key check v1").digest("base64url");
  }

  /** `additionalData`: binds the value to it (format v2); omitted: unbound (format v1). */
  encrypt(plaintext: string, additionalData?: string): string {
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv("aes-256-gcm", this.#key, iv);
    if (additionalData !== undefined) cipher.setAAD(Buffer.from(additionalData, "utf8"));
    const ciphertext = Buffer.concat([cipher.update(plaintext, "utf8"), cipher.final()]);
    const tag = cipher.getAuthTag();
    return [
      additionalData === undefined ? UNBOUND_VERSION : BOUND_VERSION,
      iv.toString("base64url"),
      tag.toString("base64url"),
      ciphertext.toString("base64url"),
    ].join(".");
  }

  /**
   * `additionalData`: what the value was encrypted with; a v2 value needs it, a v1 value is refused with it
   * (a caller that binds values never accepts an unbound one in their place).
   */
  decrypt(encoded: string, additionalData?: string): string {
    const parts = encoded.split(".");
    const expected = additionalData === undefined ? UNBOUND_VERSION : BOUND_VERSION;
    if (parts.length !== 4 || (parts[0] !== UNBOUND_VERSION && parts[0] !== BOUND_VERSION)) {
      throw new DatabaseError("Stored credentials are not in the v1 or v2 format", { code: "decrypt_failed" });
    }
    if (parts[0] !== expected) {
      throw new DatabaseError(
        additionalData === undefined
          ? "Stored credentials are bound to their row (v2): they could not be decrypted without it"
          : "Stored credentials could not be decrypted: they are not bound to their row (v1)",
        { code: "decrypt_failed" },
      );
    }
    const iv = Buffer.from(parts[1] ?? "", "base64url");
    const tag = Buffer.from(parts[2] ?? "", "base64url");
    const ciphertext = Buffer.from(parts[3] ?? "", "base64url");
    if (iv.length !== IV_BYTES || tag.length !== TAG_BYTES) {
      throw new DatabaseError("Stored credentials are malformed", { code: "decrypt_failed" });
    }
    try {
      const decipher = createDecipheriv("aes-256-gcm", this.#key, iv, { authTagLength: TAG_BYTES });
      if (additionalData !== undefined) decipher.setAAD(Buffer.from(additionalData, "utf8"));
      decipher.setAuthTag(tag);
      return Buffer.concat([decipher.update(ciphertext), decipher.final()]).toString("utf8");
    } catch {
      // The crypto error says nothing useful and we do not want its internals in logs.
      throw new DatabaseError(
        additionalData === undefined
          ? "Stored credentials could not be decrypted (wrong SUBRELAY_SECRET_KEY or altered data)"
          : "Stored credentials could not be decrypted (wrong SUBRELAY_SECRET_KEY, altered data, or copied from another row)",
        { code: "decrypt_failed" },
      );
    }
  }

  encryptJson(value: unknown, additionalData?: string): string {
    return this.encrypt(JSON.stringify(value), additionalData);
  }

  decryptJson(encoded: string, additionalData?: string): unknown {
    const text = this.decrypt(encoded, additionalData);
    try {
      return JSON.parse(text) as unknown;
    } catch {
      throw new DatabaseError("Stored credentials decrypted to something that is not JSON", {
        code: "decrypt_failed",
      });
    }
  }
}

/** True for a value in the unbound v1 format (written without additional data). */
export function isUnboundCiphertext(encoded: string): boolean {
  return encoded.startsWith(`${UNBOUND_VERSION}.`);
}
