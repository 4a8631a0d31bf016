const marker = Symbol.for("@subrelay/db/DatabaseError");

/** What went wrong, in terms a caller can act on. */
export type DatabaseErrorCode =
  | "invalid_secret_key" // SUBRELAY_SECRET_KEY is not 32 bytes as hex or base64: fix the configuration
  | "decrypt_failed" // stored credentials could not be decrypted: wrong key, or tampered / corrupt row
  | "secret_key_mismatch" // the key is not the one this database's credentials were stored with
  | "invalid_input" // a repository argument failed validation (the message says which field)
  | "conflict" // a unique constraint refused the write (e.g. a group name already taken)
  | "invalid_reference" // a referenced row does not exist (e.g. an unknown group id)
  | "not_found"; // the row to change does not exist

export interface DatabaseErrorOptions {
  code: DatabaseErrorCode;
  cause?: unknown;
  /** For `invalid_input`: each field found wrong, with what is wrong with it (see `InputProblem`). */
  problems?: readonly { field: string; message: string }[];
}

/**
 * The one error type `@subrelay/db` throws on purpose. Messages never contain credentials, keys or
 * plaintext; `cause` may hold the driver's error (which may quote SQL parameters — do not log it verbatim).
 * Driver and connection failures surface as the driver's own errors.
 */
export class DatabaseError extends Error {
  override readonly name = "DatabaseError";
  readonly code: DatabaseErrorCode;
  /** For `invalid_input` raised by the input rules: one entry per wrong field. Empty otherwise. */
  readonly problems: readonly { field: string; message: string }[];
  private readonly [marker] = true;

  constructor(message: string, options: DatabaseErrorOptions) {
    super(message, { cause: options.cause });
    this.code = options.code;
    this.problems = options.problems ?? [];
  }

  /** `instanceof` that also holds across duplicate copies of this package. */
  static isInstance(value: unknown): value is DatabaseError {
    return typeof value === "object" && value !== null && (value as Record<symbol, unknown>)[marker] === true;
  }
}

/** The SQLSTATE of a driver error, looking through drizzle's query-error wrapper. */
function sqlState(error: unknown): string | undefined {
  for (
    let current = error, depth = 0;
    current !== null && typeof current === "object" && depth < 5;
    depth++
  ) {
    const code = (current as { code?: unknown }).code;
    if (typeof code === "string" && /^[0-9A-Z]{5}$/.test(code)) return code;
    current = (current as { cause?: unknown }).cause;
  }
  return undefined;
}

/** Rethrows constraint violations as DatabaseError; anything else unchanged. */
export function translateConstraintError(error: unknown, what: string): never {
  const state = sqlState(error);
  if (state === "23505")
    throw new DatabaseError(`${what}: already exists`, { code: "conflict", cause: error });
  if (state === "23514")
    throw new DatabaseError(`${what}: a value is not allowed`, { code: "invalid_input", cause: error });
  if (state === "23503")
    throw new DatabaseError(`${what}: references a row that does not exist`, {
      code: "invalid_reference",
      cause: error,
    });
  throw error;
}
