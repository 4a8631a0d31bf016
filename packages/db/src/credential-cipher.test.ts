import { randomBytes } from "node:crypto";
import { describe, expect, it } from "vitest";
import { CredentialCipher, generateSecretKey, parseSecretKey } from "./credential-cipher";
import { DatabaseError } from "./database-error";

describe("parseSecretKey", () => {
  const bytes = randomBytes(32);

  it("reads 32 bytes as hex, base64 and base64url", () => {
    expect(Buffer.from(parseSecretKey(bytes.toString("hex")))).toEqual(bytes);
    expect(Buffer.from(parseSecretKey(bytes.toString("hex").toUpperCase()))).toEqual(bytes);
    expect(Buffer.from(parseSecretKey(bytes.toString("base64")))).toEqual(bytes);
    expect(Buffer.from(parseSecretKey(` ${bytes.toString("base64url")}\n`))).toEqual(bytes);
  });

  it.each([
    ["empty", "", /is empty/],
    ["short hex", "ab".repeat(16), /must be 32 bytes.*decodes to 24 bytes/],
    ["not hex or base64", "zz!".repeat(22), /neither 64 hex characters nor base64/],
    ["base64 of 16 bytes", randomBytes(16).toString("base64"), /decodes to 16 bytes/],
  ])("rejects %s with invalid_secret_key, never echoing the value", (_label, value, message) => {
    let caught: unknown;
    try {
      parseSecretKey(value);
    } catch (error) {
      caught = error;
    }
    expect(DatabaseError.isInstance(caught) && caught.code).toBe("invalid_secret_key");
    expect((caught as Error).message).toMatch(message);
    if (value.length > 0) expect((caught as Error).message).not.toContain(value);
  });

  it("generateSecretKey gives distinct keys parseSecretKey accepts", () => {
    const first = generateSecretKey();
    expect(parseSecretKey(first)).toHaveLength(32);
    expect(generateSecretKey()).not.toBe(first);
  });
});

describe("CredentialCipher", () => {
  const cipher = new CredentialCipher(generateSecretKey());

  it("round-trips with a fresh IV per write, in the v1 format", () => {
    const first = cipher.encrypt("refresh-token-value");
    const second = cipher.encrypt("refresh-token-value");
    expect(first).not.toBe(second);
    expect(first).toMatch(/^v1\.[\w-]{16}\.[\w-]{22}\.[\w-]+$/);
    expect(first).not.toContain("refresh-token-value");
    expect(cipher.decrypt(first)).toBe("refresh-token-value");
    expect(cipher.decryptJson(cipher.encryptJson({ a: [1, "b"] }))).toEqual({ a: [1, "b"] });
  });

  it("accepts raw key bytes and refuses the wrong length", () => {
    const key = randomBytes(32);
    expect(
      new CredentialCipher(new Uint8Array(key)).decrypt(
        new CredentialCipher(key.toString("hex")).encrypt("x"),
      ),
    ).toBe("x");
    expect(() => new CredentialCipher(new Uint8Array(16))).toThrow(/32 bytes/);
  });

  it.each([
    ["a wrong key", (encoded: string) => new CredentialCipher(generateSecretKey()).decrypt(encoded)],
    [
      "a flipped ciphertext byte",
      (encoded: string) =>
        // The byte before the last is the one replaced, so it is the one compared (it was the last: 1 run in 64 flipped nothing).
        cipher.decrypt(encoded.slice(0, -2) + (encoded.at(-2) === "A" ? "B" : "A") + encoded.slice(-1)),
    ],
    ["an unknown version", (encoded: string) => cipher.decrypt(`v2${encoded.slice(2)}`)],
    ["a truncated value", (encoded: string) => cipher.decrypt(encoded.split(".").slice(0, 3).join("."))],
  ])("fails with decrypt_failed on %s", (_label, decrypt) => {
    const encoded = cipher.encrypt("secret-plaintext");
    let caught: unknown;
    try {
      decrypt(encoded);
    } catch (error) {
      caught = error;
    }
    expect(DatabaseError.isInstance(caught) && caught.code).toBe("decrypt_failed");
    expect((caught as Error).message).not.toContain("secret-plaintext");
  });
});
