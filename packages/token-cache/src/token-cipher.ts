import { createCipheriv, createDecipheriv, randomBytes } from "node:crypto";

const algorithm = "aes-256-gcm";
const formatPrefix = "a1:";
const ivLength = 12;
const tagLength = 16;

/**
 * AES-256-GCM for cached token payloads. The Redis key is bound in as associated data, so a ciphertext
 * copied under another account's key fails to decrypt instead of serving that account's token.
 */
export class TokenCipher {
  readonly #key: Buffer;

  /** @param key exactly 32 bytes. */
  constructor(key: Uint8Array) {
    if (key.byteLength !== 32) throw new RangeError("encryptionKey must be exactly 32 bytes (AES-256)");
    this.#key = Buffer.from(key);
  }

  encrypt(plaintext: string, associatedData: string): string {
    const iv = randomBytes(ivLength);
    const cipher = createCipheriv(algorithm, this.#key, iv, { authTagLength: tagLength });
    cipher.setAAD(Buffer.from(associatedData, "utf8"));
    const body = Buffer.concat([cipher.update(plaintext, "utf8"), cipher.final()]);
    return formatPrefix + Buffer.concat([iv, cipher.getAuthTag(), body]).toString("base64");
  }

  /** Throws when the payload is not ours, was tampered with, or belongs to another key. */
  decrypt(payload: string, associatedData: string): string {
    if (!payload.startsWith(formatPrefix)) throw new Error("cached payload is not encrypted");
    const raw = Buffer.from(payload.slice(formatPrefix.length), "base64");
    if (raw.byteLength < ivLength + tagLength) throw new Error("cached payload is truncated");
    const decipher = createDecipheriv(algorithm, this.#key, raw.subarray(0, ivLength), { authTagLength: tagLength });
    decipher.setAAD(Buffer.from(associatedData, "utf8"));
    decipher.setAuthTag(raw.subarray(ivLength, ivLength + tagLength));
    return Buffer.concat([decipher.update(raw.subarray(ivLength + tagLength)), decipher.final()]).toString("utf8");
  }
}
