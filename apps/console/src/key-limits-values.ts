import { apiKeyBudgetFields, apiKeyRateFields, type ApiKeyLimits } from "./admin-types";

/** The limit fields of the key forms as typed: numbers as text ("" for none), lists one entry a line. */
export interface KeyLimitsValues {
  requestsPerMinute: string;
  tokensPerMinute: string;
  concurrency: string;
  costPerDayUsd: string;
  costPerWeekUsd: string;
  costPerMonthUsd: string;
  costTotalUsd: string;
  models: string;
  allowedIps: string;
}

/** The form's values for `limits` (empty fields where a limit is absent). */
export function keyLimitsValuesOf(limits: ApiKeyLimits | null | undefined): KeyLimitsValues {
  const number = (value: number | undefined) => (value === undefined ? "" : String(value));
  return {
    requestsPerMinute: number(limits?.requestsPerMinute),
    tokensPerMinute: number(limits?.tokensPerMinute),
    concurrency: number(limits?.concurrency),
    costPerDayUsd: number(limits?.costPerDayUsd),
    costPerWeekUsd: number(limits?.costPerWeekUsd),
    costPerMonthUsd: number(limits?.costPerMonthUsd),
    costTotalUsd: number(limits?.costTotalUsd),
    models: (limits?.models ?? []).join("\n"),
    allowedIps: (limits?.allowedIps ?? []).join("\n"),
  };
}

const lines = (text: string) =>
  text
    .split(/[\n,]/)
    .map((line) => line.trim())
    .filter((line) => line !== "");

/**
 * The `limits` the form describes: only the fields filled in, or null when none is (no limits; on `PATCH`,
 * null clears them). Numbers are sent as typed (`Number`): the gateway refuses what is out of range, by field.
 */
export function keyLimitsOf(values: KeyLimitsValues): ApiKeyLimits | null {
  const limits: ApiKeyLimits = {};
  for (const field of [...apiKeyRateFields, ...apiKeyBudgetFields]) {
    const text = values[field].trim();
    if (text !== "") limits[field] = Number(text);
  }
  const models = lines(values.models);
  if (models.length > 0) limits.models = models;
  const allowedIps = lines(values.allowedIps);
  if (allowedIps.length > 0) limits.allowedIps = allowedIps;
  return Object.keys(limits).length > 0 ? limits : null;
}
