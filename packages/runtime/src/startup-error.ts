/** A start-up failure whose message says what failed (Postgres, Redis, the secret key, ...), for the entry points. */
export class StartupError extends Error {
  override readonly name: string = "StartupError";
  /** The process's exit code: 2 for what the operator must fix before a restart can help
   * (the secret key, a data directory another process holds). */
  readonly exitCode: number;
  constructor(message: string, options: { cause?: unknown; exitCode?: number } = {}) {
    super(message, { cause: options.cause });
    this.exitCode = options.exitCode ?? 1;
  }
}
