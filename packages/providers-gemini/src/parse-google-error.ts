import { isRecord } from "@subrelay/providers-core";

/**
 * One entry of a Google error's `details` (`google.rpc.RetryInfo`, `ErrorInfo`, `QuotaFailure`, ...), keyed by
 * `@type`. Left untyped: fields are checked where they are read.
 */
export type GoogleErrorDetail = Record<string, unknown>;

/** A Google API error (`{"error":{"code","message","status","details"}}`), as far as it could be read. */
export interface GoogleError {
  code?: number;
  message?: string;
  /** The canonical gRPC status name: `RESOURCE_EXHAUSTED`, `UNAVAILABLE`, `PERMISSION_DENIED`, ... */
  status?: string;
  details: GoogleErrorDetail[];
}

/**
 * Reads a Google error body. Accepts the plain object, the one-element array the streaming endpoints send
 * (`[{"error":{...}}]`), and a body cut short (the gateway reads at most 64 KiB): then the fields are
 * picked out of the text, so a long message cannot hide the status or the retry delay.
 * Undefined when the text holds no recognisable error.
 */
export function parseGoogleError(bodyText: string | undefined): GoogleError | undefined {
  if (bodyText === undefined || bodyText.trim() === "") return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(bodyText);
  } catch {
    return scanTruncatedError(bodyText);
  }
  if (Array.isArray(parsed)) parsed = parsed[0];
  if (!isRecord(parsed) || !isRecord(parsed.error)) return undefined;
  const error = parsed.error;
  return {
    code: typeof error.code === "number" ? error.code : undefined,
    message: typeof error.message === "string" ? error.message : undefined,
    status: typeof error.status === "string" ? error.status : undefined,
    details: Array.isArray(error.details) ? error.details.filter(isRecord) : [],
  };
}

/** The first detail of `type` (the part after `type.googleapis.com/`, e.g. `google.rpc.RetryInfo`). */
export function findDetail(error: GoogleError | undefined, type: string): GoogleErrorDetail | undefined {
  return error?.details.find((detail) => detail["@type"] === `type.googleapis.com/${type}`);
}

function scanTruncatedError(text: string): GoogleError | undefined {
  if (!text.includes('"error"')) return undefined;
  const code = /"code"\s*:\s*(\d+)/.exec(text)?.[1];
  const status = /"status"\s*:\s*"([A-Z_]+)"/.exec(text)?.[1];
  const message = /"message"\s*:\s*"((?:[^"\\]|\\.)*)"/.exec(text)?.[1];
  const retryDelay = /"retryDelay"\s*:\s*"([^"]+)"/.exec(text)?.[1];
  const reason = /"reason"\s*:\s*"([A-Z_]+)"/.exec(text)?.[1];
  const details: GoogleErrorDetail[] = [];
  if (retryDelay !== undefined) details.push({ "@type": "type.googleapis.com/google.rpc.RetryInfo", retryDelay });
  if (reason !== undefined) details.push({ "@type": "type.googleapis.com/google.rpc.ErrorInfo", reason });
  return {
    code: code === undefined ? undefined : Number(code),
    message: message === undefined ? undefined : unescapeJsonString(message),
    status,
    details,
  };
}

function unescapeJsonString(raw: string): string {
  try {
    return JSON.parse(`"${raw}"`) as string;
  } catch {
    return raw;
  }
}
