import type { UsageSeries } from "./admin-types";

const columns = [
  "bucket",
  "key",
  "name",
  "requests",
  "errors",
  "inputTokens",
  "outputTokens",
  "cacheReadTokens",
  "cacheWriteTokens",
  "costUsd",
] as const;

/** A CSV cell: quoted when it holds a comma, quote or line break; a leading = + - @ is defused for spreadsheets. */
function cell(value: string | number | null): string {
  if (value === null) return "";
  let text = String(value);
  if (typeof value === "string" && /^[=+\-@\t\r]/.test(text)) text = `'${text}`;
  return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

/** The series as CSV (RFC 4180, CRLF): one row per bucket and series, the bucket as ISO 8601 UTC. */
export function usageCsv(usage: Pick<UsageSeries, "buckets" | "series">): string {
  const rows: string[] = [columns.join(",")];
  for (const line of usage.series) {
    usage.buckets.forEach((bucket, index) => {
      rows.push(
        [
          new Date(bucket).toISOString(),
          line.key,
          line.name,
          line.requests[index] ?? 0,
          line.errors[index] ?? 0,
          line.inputTokens[index] ?? 0,
          line.outputTokens[index] ?? 0,
          line.cacheReadTokens[index] ?? 0,
          line.cacheWriteTokens[index] ?? 0,
          line.costUsd[index] ?? 0,
        ]
          .map(cell)
          .join(","),
      );
    });
  }
  return `${rows.join("\r\n")}\r\n`;
}
