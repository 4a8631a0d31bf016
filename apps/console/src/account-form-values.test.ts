import { describe, expect, it } from "vitest";
import { accountInputOf, accountPatchOf, credentialsOf, formValuesOf } from "./account-form-values";
import type { Account } from "./admin-types";

const stored: Account = {
  id: "7",
  name: "alice",
  platform: "gemini",
  type: "oauth",
  priority: 10,
  concurrency: 4,
  status: "active",
  errorMessage: null,
  schedulable: true,
  rateLimitedUntil: null,
  rateLimitReason: null,
  tempUnschedulableUntil: null,
  tempUnschedulableReason: null,
  overloadedUntil: null,
  lastUsedAt: null,
  tokenExpiresAt: null,
  baseUrl: "https://proxy.example",
  models: ["gemini-2.5-pro", "gemini-2.5-flash"],
  cooldowns: { rateLimit: 30_000 },
  modelMap: { "gemini-pro": "gemini-2.5-pro" },
  rateLimits: [],
  groupIds: [3],
  createdAt: 0,
  updatedAt: 0,
  inFlight: 0,
  waiters: 0,
};

describe("the account form's values", () => {
  it("start empty for a new account, and the body leaves out what was not filled in", () => {
    const values = { ...formValuesOf(), name: "bob", apiKey: "sk-ant-1", groupIds: [1] };
    expect(accountInputOf(values)).toEqual({
      name: "bob",
      platform: "claude",
      type: "apikey",
      credentials: { apiKey: "sk-ant-1" },
      groupIds: [1],
    });
  });

  it("send every field the admin API takes when filled in", () => {
    const values = {
      ...formValuesOf(),
      name: "carol",
      platform: "gemini",
      type: "oauth" as const,
      refreshToken: "r-1",
      accessToken: "a-1",
      expiresAt: "2030-01-02T03:04",
      projectId: "my-project",
      chatgptAccountId: "ignored-off-openai",
      groupIds: [2, 5],
      priority: "0",
      concurrency: "12",
      baseUrl: " https://eu.example ",
      models: "gemini-2.5-pro\n gemini-2.5-flash ,\n\n",
      modelMap: [
        { id: 0, from: "pro", to: "gemini-2.5-pro" },
        { id: 1, from: " ", to: "" },
      ],
      cooldowns: { overloaded: "1000", serverError: "", timeout: "0", rateLimit: "", max: "3600000" },
    };
    expect(accountInputOf(values)).toEqual({
      name: "carol",
      platform: "gemini",
      type: "oauth",
      credentials: {
        refreshToken: "r-1",
        accessToken: "a-1",
        expiresAt: new Date("2030-01-02T03:04").getTime(),
        projectId: "my-project",
      },
      groupIds: [2, 5],
      priority: 0,
      concurrency: 12,
      baseUrl: "https://eu.example",
      models: ["gemini-2.5-pro", "gemini-2.5-flash"],
      modelMap: { pro: "gemini-2.5-pro" },
      cooldowns: { overloaded: 1000, timeout: 0, max: 3_600_000 },
    });
    expect(credentialsOf({ ...values, platform: "openai" })).toMatchObject({
      accountId: "ignored-off-openai",
    });
  });

  it("fill an edit from the account, never with credentials, and keep the stored ones when left empty", () => {
    const values = formValuesOf(stored);
    expect(values).toMatchObject({
      name: "alice",
      priority: "10",
      concurrency: "4",
      models: "gemini-2.5-pro\ngemini-2.5-flash",
    });
    expect([values.apiKey, values.refreshToken, values.accessToken, values.projectId]).toEqual([
      "",
      "",
      "",
      "",
    ]);
    expect(values.cooldowns).toEqual({
      overloaded: "",
      serverError: "",
      timeout: "",
      rateLimit: "30000",
      max: "",
    });
    const patch = accountPatchOf(values);
    expect(patch).toEqual({
      name: "alice",
      groupIds: [3],
      baseUrl: "https://proxy.example",
      models: ["gemini-2.5-pro", "gemini-2.5-flash"],
      modelMap: { "gemini-pro": "gemini-2.5-pro" },
      cooldowns: { rateLimit: 30_000 },
      priority: 10,
      concurrency: 4,
    });
    expect("credentials" in patch).toBe(false);
  });

  it("clear on edit what was emptied, and replace the credentials when some are typed", () => {
    const patch = accountPatchOf({
      ...formValuesOf(stored),
      baseUrl: "",
      models: "",
      modelMap: [],
      cooldowns: { overloaded: "", serverError: "", timeout: "", rateLimit: "", max: "" },
      refreshToken: "new-refresh",
    });
    expect(patch).toMatchObject({
      baseUrl: null,
      models: null,
      modelMap: null,
      cooldowns: null,
      credentials: { refreshToken: "new-refresh" },
    });
  });
});
