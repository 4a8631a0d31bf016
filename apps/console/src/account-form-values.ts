import type { Account, AccountCooldowns, AccountInput, AccountPatch } from "./admin-types";
import { cooldownFields } from "./admin-types";
import { fromDateTimeLocal } from "./format";

export type CooldownField = (typeof cooldownFields)[number];

export interface ModelMapRow {
  /** A key for the row's inputs; not sent. */
  id: number;
  from: string;
  to: string;
}

/** What the account form holds: every input as typed (strings), before it is turned into an API body. */
export interface AccountFormValues {
  name: string;
  platform: string;
  type: "apikey" | "oauth";
  apiKey: string;
  refreshToken: string;
  accessToken: string;
  /** An `<input type="datetime-local">` value, the viewer's time zone. */
  expiresAt: string;
  /** Gemini Code Assist's project. */
  projectId: string;
  /** Codex's ChatGPT account id. */
  chatgptAccountId: string;
  groupIds: number[];
  priority: string;
  concurrency: string;
  baseUrl: string;
  /** One model a line (or comma-separated). */
  models: string;
  modelMap: ModelMapRow[];
  cooldowns: Record<CooldownField, string>;
}

/** The form for a new account, or filled from `account` for an edit (credentials always empty: never shown back). */
export function formValuesOf(account?: Account): AccountFormValues {
  const given = account?.cooldowns ?? {};
  return {
    name: account?.name ?? "",
    platform: account?.platform ?? "claude",
    type: account?.type ?? "apikey",
    apiKey: "",
    refreshToken: "",
    accessToken: "",
    expiresAt: "",
    projectId: "",
    chatgptAccountId: "",
    groupIds: account?.groupIds ?? [],
    priority: account ? String(account.priority) : "",
    concurrency: account ? String(account.concurrency) : "",
    baseUrl: account?.baseUrl ?? "",
    models: (account?.models ?? []).join("\n"),
    modelMap: Object.entries(account?.modelMap ?? {}).map(([from, to], index) => ({ id: index, from, to })),
    cooldowns: Object.fromEntries(
      cooldownFields.map((field) => [field, given[field] === undefined ? "" : String(given[field])]),
    ) as Record<CooldownField, string>,
  };
}

/** The credentials typed in, by type and platform; undefined when every credential field is empty. */
export function credentialsOf(values: AccountFormValues): Record<string, unknown> | undefined {
  if (values.type === "apikey") return values.apiKey === "" ? undefined : { apiKey: values.apiKey };
  const given: Record<string, unknown> = {};
  if (values.refreshToken !== "") given.refreshToken = values.refreshToken;
  if (values.accessToken !== "") given.accessToken = values.accessToken;
  const expires = fromDateTimeLocal(values.expiresAt);
  if (expires !== undefined) given.expiresAt = expires;
  if (values.platform === "gemini" && values.projectId !== "") given.projectId = values.projectId;
  if (values.platform === "openai" && values.chatgptAccountId !== "")
    given.accountId = values.chatgptAccountId;
  return Object.keys(given).length === 0 ? undefined : given;
}

/**
 * The body of `POST /admin/accounts`: empty optional fields are left out (the gateway's defaults apply).
 * Numbers are sent as typed (`Number("")` never: empty is omitted), so the gateway's rules report bad ones.
 */
export function accountInputOf(values: AccountFormValues): AccountInput {
  const input: AccountInput = {
    name: values.name,
    platform: values.platform,
    type: values.type,
    credentials: credentialsOf(values) ?? {},
    groupIds: values.groupIds,
  };
  const priority = numberOf(values.priority);
  const concurrency = numberOf(values.concurrency);
  if (priority !== undefined) input.priority = priority;
  if (concurrency !== undefined) input.concurrency = concurrency;
  if (values.baseUrl.trim() !== "") input.baseUrl = values.baseUrl.trim();
  const models = modelsOf(values);
  if (models.length > 0) input.models = models;
  const modelMap = modelMapOf(values);
  if (modelMap) input.modelMap = modelMap;
  const cooldowns = cooldownsOf(values);
  if (cooldowns) input.cooldowns = cooldowns;
  return input;
}

/**
 * The body of `PATCH /admin/accounts/:id`: what the form shows replaces what is stored (an emptied base URL,
 * model list, map or cool-down set is `null`: the platform's or gateway's again). Credentials only when some
 * were typed in; platform and type cannot change.
 */
export function accountPatchOf(values: AccountFormValues): AccountPatch {
  const models = modelsOf(values);
  const patch: AccountPatch = {
    name: values.name,
    groupIds: values.groupIds,
    baseUrl: values.baseUrl.trim() === "" ? null : values.baseUrl.trim(),
    models: models.length === 0 ? null : models,
    modelMap: modelMapOf(values),
    cooldowns: cooldownsOf(values),
  };
  const priority = numberOf(values.priority);
  const concurrency = numberOf(values.concurrency);
  if (priority !== undefined) patch.priority = priority;
  if (concurrency !== undefined) patch.concurrency = concurrency;
  const credentials = credentialsOf(values);
  if (credentials) patch.credentials = credentials;
  return patch;
}

function numberOf(value: string): number | undefined {
  return value.trim() === "" ? undefined : Number(value);
}

function modelsOf(values: AccountFormValues): string[] {
  return values.models
    .split(/[\n,]/)
    .map((model) => model.trim())
    .filter((model) => model !== "");
}

/** Rows with both sides empty are left out; a row with one side empty is sent, for the gateway to refuse by name. */
function modelMapOf(values: AccountFormValues): Record<string, string> | null {
  const rows = values.modelMap.filter((row) => row.from.trim() !== "" || row.to.trim() !== "");
  return rows.length === 0 ? null : Object.fromEntries(rows.map((row) => [row.from.trim(), row.to.trim()]));
}

function cooldownsOf(values: AccountFormValues): AccountCooldowns | null {
  const entries = cooldownFields.flatMap((field) =>
    values.cooldowns[field].trim() === "" ? [] : [[field, Number(values.cooldowns[field])] as const],
  );
  return entries.length === 0 ? null : Object.fromEntries(entries);
}
