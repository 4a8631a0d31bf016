/** Date column value -> epoch milliseconds (null stays null). */
export function toEpochMs(value: Date | null): number | null {
  return value === null ? null : value.getTime();
}

/** Epoch milliseconds -> Date for a timestamptz column (null/undefined -> null). */
export function fromEpochMs(value: number | null | undefined): Date | null {
  return value === null || value === undefined ? null : new Date(value);
}
