import { AdminApiError } from "./admin-api-error";
import type {
  Account,
  AccountInput,
  AccountPatch,
  ApiKey,
  ApiKeyInput,
  ApiKeyPatch,
  CreatedApiKey,
  Group,
  GroupInput,
  GroupPatch,
  PriceEntry,
  PricingAnswer,
  Session,
  TokenPrices,
  UsageGroupBy,
  UsageSeries,
  UsageStep,
  UsageTotalsAnswer,
} from "./admin-types";

export interface AdminClientOptions {
  /** The fetch to call; default the global one. */
  fetch?: typeof fetch;
  /** Prefix of every path: "" (the console is served by the gateway it talks to). */
  baseUrl?: string;
}

export interface UsageSeriesQuery {
  from: number;
  to: number;
  step: UsageStep;
  groupBy?: UsageGroupBy;
}

/** The admin API, typed. Every call rejects with an AdminApiError carrying the gateway's message. */
export interface AdminClient {
  getSession(): Promise<Session>;
  signIn(token: string): Promise<Session>;
  signOut(): Promise<void>;
  listGroups(): Promise<Group[]>;
  createGroup(input: GroupInput): Promise<Group>;
  updateGroup(id: number, patch: GroupPatch): Promise<Group>;
  deleteGroup(id: number): Promise<void>;
  listAccounts(): Promise<Account[]>;
  createAccount(input: AccountInput): Promise<Account>;
  updateAccount(id: string, patch: AccountPatch): Promise<Account>;
  deleteAccount(id: string): Promise<void>;
  resetAccount(id: string): Promise<Account>;
  listApiKeys(): Promise<ApiKey[]>;
  createApiKey(input: ApiKeyInput): Promise<CreatedApiKey>;
  updateApiKey(id: number, patch: ApiKeyPatch): Promise<ApiKey>;
  deleteApiKey(id: number): Promise<void>;
  listPrices(): Promise<PricingAnswer>;
  /** Overrides `model`'s price (the gateway stores it lower-cased); the price as listed. */
  setPrice(model: string, prices: TokenPrices): Promise<PriceEntry>;
  /** Drops `model`'s override: back to the shipped price (a 404 when it had none). */
  deletePrice(model: string): Promise<void>;
  usage(query: { from: number; to: number; groupBy: UsageGroupBy }): Promise<UsageTotalsAnswer>;
  usageSeries(query: UsageSeriesQuery): Promise<UsageSeries>;
}

/**
 * The admin API over the session cookie: relative URLs and `credentials: "same-origin"`, so the browser
 * sends the cookie and, on writes, the `Origin` the gateway checks against cross-site requests.
 */
export function createAdminClient(options: AdminClientOptions = {}): AdminClient {
  const fetchImplementation = options.fetch ?? ((input, init) => fetch(input, init));
  const baseUrl = options.baseUrl ?? "";

  async function call<T>(method: string, path: string, body?: unknown): Promise<T> {
    let response: Response;
    try {
      response = await fetchImplementation(`${baseUrl}${path}`, {
        method,
        credentials: "same-origin",
        headers:
          body === undefined
            ? { accept: "application/json" }
            : { accept: "application/json", "content-type": "application/json" },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
    } catch (error) {
      throw new AdminApiError(
        0,
        "network",
        `The gateway could not be reached (${error instanceof Error ? error.message : String(error)}).`,
      );
    }
    const text = await response.text();
    let parsed: unknown = undefined;
    if (text !== "") {
      try {
        parsed = JSON.parse(text);
      } catch {
        parsed = undefined;
      }
    }
    if (!response.ok) throw AdminApiError.fromBody(response.status, response.statusText, parsed);
    return parsed as T;
  }
  const list = async <T>(path: string) => (await call<{ data: T[] }>("GET", path)).data;
  const query = (values: Record<string, string | number | undefined>) =>
    new URLSearchParams(
      Object.entries(values).flatMap(([name, value]) => (value === undefined ? [] : [[name, String(value)]])),
    ).toString();

  return {
    getSession: () => call("GET", "/admin/session"),
    signIn: (token) => call("POST", "/admin/session", { token }),
    signOut: () => call("DELETE", "/admin/session"),
    listGroups: () => list("/admin/groups"),
    createGroup: (input) => call("POST", "/admin/groups", input),
    updateGroup: (id, patch) => call("PATCH", `/admin/groups/${id}`, patch),
    deleteGroup: (id) => call("DELETE", `/admin/groups/${id}`),
    listAccounts: () => list("/admin/accounts"),
    createAccount: (input) => call("POST", "/admin/accounts", input),
    updateAccount: (id, patch) => call("PATCH", `/admin/accounts/${encodeURIComponent(id)}`, patch),
    deleteAccount: (id) => call("DELETE", `/admin/accounts/${encodeURIComponent(id)}`),
    resetAccount: (id) => call("POST", `/admin/accounts/${encodeURIComponent(id)}/reset`),
    listApiKeys: () => list("/admin/api-keys"),
    createApiKey: (input) => call("POST", "/admin/api-keys", input),
    updateApiKey: (id, patch) => call("PATCH", `/admin/api-keys/${id}`, patch),
    deleteApiKey: (id) => call("DELETE", `/admin/api-keys/${id}`),
    listPrices: () => call("GET", "/admin/pricing"),
    setPrice: (model, prices) => call("PUT", `/admin/pricing/${encodeURIComponent(model)}`, prices),
    deletePrice: (model) => call("DELETE", `/admin/pricing/${encodeURIComponent(model)}`),
    usage: (values) => call("GET", `/admin/usage?${query(values)}`),
    usageSeries: (values) => call("GET", `/admin/usage/series?${query({ ...values })}`),
  };
}
