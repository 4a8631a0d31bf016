/** One problem of a refused body, the field named as in the body (`credentials.apiKey`, `groupIds[0]`). */
export interface InputProblem {
  field: string;
  message: string;
}

/**
 * What the admin API refused, from its `{error: {type, message, problems?}}` body: `status` is the HTTP
 * status (0 when the gateway could not be reached), `message` the gateway's words.
 */
export class AdminApiError extends Error {
  override readonly name = "AdminApiError";
  readonly status: number;
  readonly type: string;
  readonly problems: InputProblem[];

  constructor(status: number, type: string, message: string, problems: InputProblem[] = []) {
    super(message);
    this.status = status;
    this.type = type;
    this.problems = problems;
  }

  /** True for an instance of this class from any copy of the module. */
  static isInstance(error: unknown): error is AdminApiError {
    return error instanceof Error && error.name === "AdminApiError";
  }

  /** The error an answer's body describes; a body of another shape gives the status line. */
  static fromBody(status: number, statusText: string, body: unknown): AdminApiError {
    const error = isRecord(body) && isRecord(body.error) ? body.error : undefined;
    const message = typeof error?.message === "string" ? error.message : `${status} ${statusText}`.trim();
    const type = typeof error?.type === "string" ? error.type : "unknown";
    const problems = Array.isArray(error?.problems)
      ? error.problems
          .filter(isRecord)
          .map((problem) => ({ field: String(problem.field), message: String(problem.message) }))
      : [];
    return new AdminApiError(status, type, message, problems);
  }
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
