/**
 * The message of an error as it may be logged. A failed query's message (drizzle's `Failed query: <sql>
 * params: <values>`) quotes the statement's parameters, which can be credentials, key digests or a client's
 * input, and the driver's message under it may quote a value too (`invalid input syntax for type integer:
 * "<value>"`): what is logged is the SQLSTATE, which says what went wrong.
 */
function isQueryError(error: Error): boolean {
  return Array.isArray((error as { params?: unknown }).params) || error.message.startsWith("Failed query:");
}

function loggableMessage(error: Error): string {
  if (!isQueryError(error)) return error.message;
  const code = (error as { cause?: { code?: unknown } }).cause?.code;
  return `a database query failed${typeof code === "string" ? ` (SQLSTATE ${code})` : ""}`;
}

/** An error's class and message only: never its payload, which may carry request data. */
export function describeError(error: unknown): string {
  if (error instanceof Error) return `${error.name}: ${loggableMessage(error)}`;
  return String(error);
}

/**
 * A serializer for pino's `err` field that keeps what a failure needs (class, message, code, stack frames,
 * the cause's class and message) and never a failed query's parameters.
 */
export function serializeError(error: unknown): { type: string; message: string; stack: string; [field: string]: unknown } {
  if (!(error instanceof Error)) return { type: typeof error, message: String(error), stack: "" };
  const message = loggableMessage(error);
  const frames = (error.stack ?? "").split("\n").filter((line) => /^\s+at /.test(line));
  const code = (error as { code?: unknown }).code;
  const cause = (error as { cause?: unknown }).cause;
  return {
    type: error.name,
    message,
    ...(typeof code === "string" || typeof code === "number" ? { code } : {}),
    stack: [`${error.name}: ${message}`, ...frames].join("\n"),
    ...(cause === undefined || isQueryError(error) ? {} : { cause: describeError(cause) }),
  };
}
