import { readFile } from "node:fs/promises";
import { createServer, type RequestListener, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import type { Browser, Locator, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ADMIN_TOKEN, claudeMessage, claudeReply, jsonFixture, startTestGateway, type TestGateway } from "../harness";
import { launchChromium, newConsolePage, requireBuiltConsole, screenshot, seriousViolations, signIn } from "./console-browser";

/**
 * The operator console (issue 16) in a real Chromium against a real gateway on its embedded default, with
 * a fake upstream: sign-in, the pool's pages, the key shown once, live state, sign-out and the
 * cross-site refusal. Waits are for what the page shows (expect.poll), never for time.
 */
describe("the console in a browser", () => {
  let harness: TestGateway;
  let browser: Browser;
  const pageErrors: string[] = [];
  const rateLimit = { seconds: 600 };

  beforeAll(async () => {
    harness = await startTestGateway({ backend: "embedded", env: { CONSOLE_DIR: requireBuiltConsole() } });
    harness.upstream.on("POST", "/v1/messages", claudeReply);
    // The rate-limited account's own upstream path: a 429 naming its reset in `retry-after` (seconds).
    harness.upstream.on("POST", "/limited/v1/messages", () => ({
      status: 429,
      headers: { "retry-after": String(rateLimit.seconds) },
      json: jsonFixture("claude", "error-rate-limit.json"),
    }));
    browser = await launchChromium();
  });
  afterAll(async () => {
    await browser?.close();
    await harness?.close();
  });

  const ask = async (key: string, model = "claude-sonnet-4-5") => {
    const response = await fetch(`${harness.url}/v1/messages`, {
      method: "POST",
      headers: { "x-api-key": key, "anthropic-version": "2023-06-01", "content-type": "application/json" },
      body: JSON.stringify({ model, max_tokens: 8, messages: [{ role: "user", content: "hi" }] }),
    });
    await response.arrayBuffer();
    return response.status;
  };
  /** The table row whose row header is exactly `name` (or matches it). */
  const rowOf = (page: Page, name: string | RegExp): Locator =>
    page.locator("tbody tr", { has: page.getByRole("rowheader", { name, exact: true }) });
  const stateOf = (page: Page, name: string) => rowOf(page, name).locator(".state").textContent();

  it("signs in with the admin token, and says so in words when the token is wrong", async () => {
    const page = await newConsolePage(browser, pageErrors);
    // The limit: the first page usable within 1 s on loopback (measured: under 300 ms, the browser's first page).
    const started = Date.now();
    await page.goto(`${harness.url}/console/`);
    await page.getByLabel("Admin token").waitFor();
    expect(Date.now() - started).toBeLessThan(1_000);
    await page.getByLabel("Admin token").fill("not-the-admin-token-at-all-0000000000");
    await page.getByRole("button", { name: "Sign in" }).click();
    await expect.poll(() => page.getByRole("alert").textContent()).toContain("That admin token is not right");
    expect(await page.getByRole("navigation").count()).toBe(0);

    await page.getByLabel("Admin token").fill(ADMIN_TOKEN);
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.getByRole("navigation").waitFor();
    for (const name of ["Overview", "Accounts", "Groups", "Keys", "Usage", "Prices"]) {
      expect(await page.getByRole("navigation").getByRole("link", { name, exact: true }).count()).toBe(1);
    }
    expect(await page.getByRole("heading", { level: 1 }).textContent()).toBe("Overview");
    const [cookie] = await page.context().cookies(harness.url);
    expect(cookie).toMatchObject({ name: "subrelay_session", httpOnly: true, sameSite: "Strict", path: "/" });
    await page.context().close();
  });

  it("creates a group, an account and a key from the UI; the key is shown once, and its request is in Usage within 5 s", async () => {
    const page = await newConsolePage(browser, pageErrors);
    await page.context().grantPermissions(["clipboard-read", "clipboard-write"]);
    await signIn(page, harness.url);

    await page.getByRole("link", { name: "Groups" }).click();
    await page.getByLabel("Name").fill("team-a");
    await page.getByLabel("Platform").selectOption("claude");
    await page.getByRole("button", { name: "Create group" }).click();
    await rowOf(page, "team-a").waitFor();

    await page.getByRole("link", { name: "Accounts" }).click();
    await expect.poll(() => page.getByText("No accounts yet — add one with Add account").count()).toBe(1);
    await page.getByRole("button", { name: "Add account" }).click();
    const form = page.getByRole("dialog", { name: "Add account" });
    await form.getByLabel("Name").fill("alice");
    await form.getByLabel("API key", { exact: true }).fill("sk-ant-api03-console-test-key");
    await form.getByRole("checkbox", { name: /team-a/ }).check();
    await form.getByRole("button", { name: "Save" }).click();
    await expect.poll(() => stateOf(page, "alice")).toBe("active");
    expect(await rowOf(page, "alice").textContent()).toContain("team-a");

    await page.getByRole("link", { name: "Keys" }).click();
    await page.getByLabel("Name").fill("laptop");
    await page.getByLabel("Group").selectOption({ label: "team-a (claude)" });
    await page.getByRole("button", { name: "Create key" }).click();
    const shown = page.getByRole("dialog", { name: "Your new key" });
    const key = await shown.getByLabel("Key").inputValue();
    expect(key).toMatch(/^sr-[0-9A-Za-z]{40}$/);
    await shown.getByRole("button", { name: "Copy" }).click();
    await expect.poll(() => shown.getByRole("status").textContent()).toBe("Copied to the clipboard.");
    expect(await page.evaluate("navigator.clipboard.readText()")).toBe(key);
    await shown.getByRole("button", { name: "Done" }).click();
    await rowOf(page, "laptop").waitFor();
    // Shown once: gone from the page, and the list the console reads never has it.
    expect(await page.content()).not.toContain(key);
    expect(JSON.stringify((await harness.admin("GET", "/admin/api-keys")).body)).not.toContain(key);
    expect(await rowOf(page, "laptop").textContent()).toContain(key.slice(0, 9));

    expect(await ask(key)).toBe(200);
    const answered = Date.now();
    await page.getByRole("link", { name: "Usage" }).click();
    await page.getByLabel("Split by").selectOption("key");
    // The key's name, then its id.
    const laptop = rowOf(page, /^laptop \(\d+\)$/);
    const requestsOfLaptop = async () => ((await laptop.count()) ? laptop.locator("td").first().textContent() : null);
    await expect.poll(requestsOfLaptop, { timeout: 5_000, interval: 100 }).toBe("1");
    expect(Date.now() - answered).toBeLessThan(5_000);
    await page.context().close();
  });

  it("shows an account rate limited by the upstream until when, Reset makes it active, and it turns active by itself at its reset", async () => {
    const seeded = await harness.seed({
      platform: "claude",
      accounts: [{ name: "limited", type: "apikey", credentials: { apiKey: "sk-ant-limited" }, baseUrl: `${harness.upstream.url}/limited` }],
    });
    const page = await newConsolePage(browser, pageErrors);
    await signIn(page, harness.url);
    await page.getByRole("link", { name: "Accounts" }).click();
    await expect.poll(() => stateOf(page, "limited")).toBe("active");

    rateLimit.seconds = 600;
    expect(await ask(seeded.key)).toBe(429);
    await expect.poll(() => stateOf(page, "limited"), { timeout: 10_000 }).toMatch(/^rate limited until \d{2}:\d{2}$/);
    expect(await rowOf(page, "limited").locator(".countdown").textContent()).toMatch(/\(\d+:\d{2}\)/);
    await rowOf(page, "limited").getByRole("button", { name: "Reset" }).click();
    await expect.poll(() => stateOf(page, "limited")).toBe("active");

    // A short limit: shown with its countdown, then active on the page's own clock, without a reload.
    await page.evaluate("window.__sameDocument = true");
    rateLimit.seconds = 6;
    expect(await ask(seeded.key)).toBe(429);
    await expect.poll(() => stateOf(page, "limited"), { timeout: 5_000 }).toMatch(/^rate limited until/);
    await expect.poll(() => stateOf(page, "limited"), { timeout: 10_000, interval: 200 }).toBe("active");
    expect(await page.evaluate("window.__sameDocument")).toBe(true);
    await page.context().close();
  });

  it("signs out, and the session cookie no longer works", async () => {
    const page = await newConsolePage(browser, pageErrors);
    await signIn(page, harness.url);
    const [cookie] = await page.context().cookies(harness.url);
    expect(cookie?.name).toBe("subrelay_session");
    const withCookie = () => fetch(`${harness.url}/admin/accounts`, { headers: { cookie: `subrelay_session=${cookie!.value}` } });
    expect((await withCookie()).status).toBe(200);

    await page.getByRole("button", { name: "Sign out" }).click();
    await page.getByLabel("Admin token").waitFor();
    expect((await withCookie()).status).toBe(401);
    expect((await fetch(`${harness.url}/admin/session`, { headers: { cookie: `subrelay_session=${cookie!.value}` } })).status).toBe(401);
    await page.context().close();
  });

  it("refuses a cross-site POST that carries the session cookie", async () => {
    const page = await newConsolePage(browser, pageErrors);
    await signIn(page, harness.url);
    // Another origin on the same host (so the SameSite cookie is even sent): a page that posts a form to the admin API.
    const attacker = await serve((_request, response) => {
      response.writeHead(200, { "content-type": "text/html" });
      response.end(`<!doctype html><title>x</title>
        <form method="POST" action="${harness.url}/admin/groups" enctype="text/plain">
          <input name='{"name":"csrf-group","platform":"claude","x":"' value='"}'>
        </form><script>document.forms[0].submit()</script>`);
    });
    try {
      const refused = page.waitForResponse((response) => response.url() === `${harness.url}/admin/groups`);
      await page.goto(attacker.url);
      const answer = await refused;
      expect(answer.status()).toBe(403);
      expect(await answer.text()).toContain("Cross-site request refused");
    } finally {
      await attacker.close();
    }
    const groups = await harness.admin<{ data: Array<{ name: string }> }>("GET", "/admin/groups");
    expect(groups.body.data.map((group) => group.name)).not.toContain("csrf-group");

    // The same from a script: another site's Origin, or none, is refused; the console's own is not.
    const [cookie] = await page.context().cookies(harness.url);
    const post = (origin: string | undefined) =>
      fetch(`${harness.url}/admin/groups`, {
        method: "POST",
        headers: {
          cookie: `subrelay_session=${cookie!.value}`,
          "content-type": "application/json",
          ...(origin === undefined ? {} : { origin }),
        },
        body: JSON.stringify({ name: "posted-from-the-console-origin", platform: "claude" }),
      });
    expect((await post("https://evil.example")).status).toBe(403);
    expect((await post(undefined)).status).toBe(403);
    const own = await post(new URL(harness.url).origin);
    expect(own.status).toBe(201);
    const { id } = (await own.json()) as { id: number };
    expect((await harness.admin("DELETE", `/admin/groups/${id}`)).status).toBe(204);
    await page.context().close();
  });

  it("lists shipped prices, sets an override from the UI and resets it to the shipped price; a request's cost shows in Usage; unpriced models are flagged", async () => {
    // An account whose upstream serves a model no price list has: its requests cost 0 and are flagged.
    harness.upstream.on("POST", "/unpriced/v1/messages", () => ({ json: { ...claudeMessage(), model: "claude-experimental-x" } }));
    const unpriced = await harness.seed({
      platform: "claude",
      accounts: [{ name: "experimental", type: "apikey", credentials: { apiKey: "sk-ant-experimental" }, baseUrl: `${harness.upstream.url}/unpriced` }],
    });
    expect(await ask(unpriced.key, "claude-experimental-x")).toBe(200);
    const page = await newConsolePage(browser, pageErrors);
    await signIn(page, harness.url);
    await page.getByRole("navigation").getByRole("link", { name: "Prices", exact: true }).click();
    // The fixture's upstream model, claude-opus-4-1-20250805, is priced by the shipped family claude-opus-4-1.
    const opus = rowOf(page, "claude-opus-4-1");
    await opus.waitFor();
    expect(await opus.locator(".source").textContent()).toBe("shipped");
    expect(await opus.locator("td").nth(1).textContent()).toBe("$15.00");
    await expect.poll(() => page.getByRole("region", { name: /Models without a price/ }).textContent(), { timeout: 5_000 }).toContain("claude-experimental-x");

    // Filters: by platform and by a search.
    await page.getByLabel("Search").fill("opus-4-1");
    expect(await page.locator("tbody tr").count()).toBeGreaterThan(0);
    expect(await page.locator("tbody th").allTextContents()).toEqual(expect.arrayContaining(["claude-opus-4-1"]));
    expect((await page.locator("tbody th").allTextContents()).every((model) => model.includes("opus-4-1"))).toBe(true);
    await page.getByLabel("Platform").selectOption("openai");
    await expect.poll(() => page.getByText("No price matches").count()).toBe(1);
    await page.getByLabel("Platform").selectOption("claude");
    await page.getByLabel("Search").fill("");

    // An override, from the UI: shown as "override" beside the shipped price, and what the API lists.
    await opus.getByRole("button", { name: /^Override/ }).click();
    const form = page.getByRole("dialog", { name: "Price of claude-opus-4-1" });
    expect(await form.getByLabel("Input ($/MTok)").inputValue()).toBe("15");
    const override = { input: "1000", output: "2000", cacheRead: "100", cacheWrite5m: "1250", cacheWrite1h: "2000" };
    await form.getByLabel("Input ($/MTok)").fill(override.input);
    await form.getByLabel("Output ($/MTok)").fill(override.output);
    await form.getByLabel("Cache read ($/MTok)").fill(override.cacheRead);
    await form.getByLabel("Cache write 5 min ($/MTok)").fill(override.cacheWrite5m);
    await form.getByLabel("Cache write 1 h ($/MTok)").fill(override.cacheWrite1h);
    await form.getByRole("button", { name: "Save override" }).click();
    await expect.poll(() => opus.locator(".source").textContent()).toBe("override");
    expect(await opus.locator("td").nth(1).textContent()).toBe("$1,000.00shipped $15.00");
    const listed = await harness.admin<{ data: Array<{ model: string; source: string; inputUsdPerMTok: number }> }>("GET", "/admin/pricing");
    expect(listed.body.data.find((entry) => entry.model === "claude-opus-4-1")).toMatchObject({ source: "override", inputUsdPerMTok: 1000 });

    // A request at the override's price: its cost in Usage's table, as the admin API counts it.
    const priced = await harness.seed({ platform: "claude", accounts: [{ name: "priced", type: "apikey", credentials: { apiKey: "sk-ant-priced" } }] });
    expect(await ask(priced.key)).toBe(200);
    await harness.gateway.usage.flush();
    const usage = await harness.admin<{ data: Array<{ key: string; costUsd: number }> }>("GET", "/admin/usage?groupBy=key");
    const cost = usage.body.data.find((row) => row.key === String(priced.keyId))?.costUsd ?? 0;
    // 12 input, 11 output, 4,096 cache read and 300 cache write 5 min tokens at the override's prices.
    expect(cost).toBeCloseTo((12 * 1000 + 11 * 2000 + 4096 * 100 + 300 * 1250) / 1e6, 9);
    await page.getByRole("navigation").getByRole("link", { name: "Usage" }).click();
    await page.getByLabel("Split by").selectOption("key");
    const keyRow = rowOf(page, new RegExp(`\\(${priced.keyId}\\)$`));
    await expect.poll(() => keyRow.count(), { timeout: 5_000 }).toBe(1);
    expect(Number((await keyRow.locator("td").last().textContent())!.replace(/[$,]/g, ""))).toBeCloseTo(cost, 4);
    await page.getByLabel("Chart").selectOption("cost");
    expect(await page.getByLabel("Chart").inputValue()).toBe("cost");
    await page.locator(".chart-canvas canvas").first().waitFor();
    await page.getByRole("navigation").getByRole("link", { name: "Overview" }).click();
    const costToday = page.locator(".card", { hasText: "Cost today" }).locator(".card-value");
    await expect.poll(() => costToday.textContent()).toMatch(/^\$\d/);
    expect(Number((await costToday.textContent())!.replace(/[$,]/g, ""))).toBeGreaterThanOrEqual(cost - 0.005);

    // Reset to shipped price: DELETE, and the row is the shipped price again.
    await page.getByRole("navigation").getByRole("link", { name: "Prices", exact: true }).click();
    await opus.getByRole("button", { name: /^Reset to shipped price/ }).click();
    await expect.poll(() => opus.locator(".source").textContent()).toBe("shipped");
    expect(await opus.locator("td").nth(1).textContent()).toBe("$15.00");
    const after = await harness.admin<{ data: Array<{ model: string; source: string }> }>("GET", "/admin/pricing");
    expect(after.body.data.find((entry) => entry.model === "claude-opus-4-1")?.source).toBe("shipped");

    // The unpriced model's button opens the override form for it.
    await page.getByRole("button", { name: "Set a price for claude-experimental-x" }).click();
    const unpricedForm = page.getByRole("dialog", { name: "Price of claude-experimental-x" });
    expect(await unpricedForm.getByLabel("Model").inputValue()).toBe("claude-experimental-x");
    expect({ page: "price form", violations: await seriousViolations(page) }).toEqual({ page: "price form", violations: [] });
    await unpricedForm.getByRole("button", { name: "Cancel" }).click();
    await expect.poll(() => page.getByRole("dialog").count()).toBe(0);
    expect(pageErrors).toEqual([]);
    await page.context().close();
  });

  it("creates a key with limits from the UI, shows its spend against its daily budget, and edits and clears its limits", async () => {
    const page = await newConsolePage(browser, pageErrors);
    await signIn(page, harness.url);
    await page.getByRole("navigation").getByRole("link", { name: "Keys" }).click();
    await page.getByLabel("Name").first().fill("budgeted");
    await page.getByLabel("Group").selectOption({ label: "team-a (claude)" });
    await page.getByText("Limits (optional)").click();
    await page.getByLabel("Budget per day (USD)").fill("5");
    await page.getByLabel("Requests per minute").fill("60");
    await page.getByRole("button", { name: "Create key" }).click();
    const shown = page.getByRole("dialog", { name: "Your new key" });
    const key = await shown.getByLabel("Key").inputValue();
    await shown.getByRole("button", { name: "Done" }).click();
    const row = rowOf(page, "budgeted");
    await row.waitFor();
    expect(await row.locator(".budget-words").allTextContents()).toEqual(["today: $0.00 of $5.00"]);
    expect(await row.textContent()).toContain("60 requests/min");
    const listed = async () =>
      (await harness.admin<{ data: Array<{ name: string; limits: unknown }> }>("GET", "/admin/api-keys")).body.data.find((each) => each.name === "budgeted")?.limits;
    expect(await listed()).toEqual({ costPerDayUsd: 5, requestsPerMinute: 60 });

    // Its request's cost (the fixture's usage at claude-opus-4-1's shipped price), against the budget of today.
    expect(await ask(key)).toBe(200);
    // $0.012774: shown to 4 decimals.
    expect((12 * 15 + 11 * 75 + 4096 * 1.5 + 300 * 18.75) / 1e6).toBeCloseTo(0.012774, 9);
    await expect.poll(() => row.locator(".budget-words").textContent(), { timeout: 5_000 }).toBe("today: $0.0128 of $5.00");

    // Edit: a budget below the spend is shown reached; emptied, the limits are cleared (limits: null).
    await row.getByRole("button", { name: "Edit" }).click();
    const edit = page.getByRole("dialog", { name: "Edit key budgeted" });
    expect(await edit.getByLabel("Budget per day (USD)").inputValue()).toBe("5");
    await edit.getByLabel("Budget per day (USD)").fill("0.01");
    expect({ page: "edit key", violations: await seriousViolations(page) }).toEqual({ page: "edit key", violations: [] });
    await edit.getByRole("button", { name: "Save" }).click();
    await expect.poll(() => row.locator(".budget-words").textContent()).toBe("today: $0.0128 of $0.01 — reached");
    expect(await listed()).toEqual({ costPerDayUsd: 0.01, requestsPerMinute: 60 });
    await row.getByRole("button", { name: "Edit" }).click();
    await edit.getByLabel("Budget per day (USD)").fill("");
    await edit.getByLabel("Requests per minute").fill("");
    await edit.getByRole("button", { name: "Save" }).click();
    await expect.poll(() => row.locator("td").nth(3).textContent()).toBe("no budget");
    expect(await listed()).toBeNull();
    expect(pageErrors).toEqual([]);
    await page.context().close();
  });

  it("has no serious or critical accessibility violations on any page (axe-core), in English and Chinese", async () => {
    await seedShowcase(harness);
    const page = await newConsolePage(browser, pageErrors);
    await page.goto(`${harness.url}/console/`);
    await page.getByLabel("Admin token").waitFor();
    expect(await seriousViolations(page)).toEqual([]);
    await screenshot(page, "sign-in");

    await signIn(page, harness.url);
    const pages: Array<[link: string, ready: () => Promise<unknown>]> = [
      ["Overview", () => page.locator(".chart-canvas canvas").first().waitFor()],
      ["Accounts", () => rowOf(page, "bob").waitFor()],
      ["Groups", () => rowOf(page, "team-b").waitFor()],
      ["Keys", () => rowOf(page, "ci").waitFor()],
      ["Usage", () => page.locator(".chart-canvas canvas").first().waitFor()],
      ["Prices", () => rowOf(page, "claude-sonnet-4-5").waitFor()],
    ];
    // The account in error, with the upstream's reason, on the overview's list of what needs attention.
    const frank = rowOf(page, "frank");
    await expect.poll(() => frank.locator(".state").textContent(), { timeout: 10_000 }).toBe("error");
    expect(await frank.locator("td").last().textContent()).toMatch(/organization has been disabled/);
    for (const [link, ready] of pages) {
      await page.getByRole("navigation").getByRole("link", { name: link }).click();
      await ready();
      expect({ page: link, violations: await seriousViolations(page) }).toEqual({ page: link, violations: [] });
      await screenshot(page, link.toLowerCase());
    }

    await page.getByRole("link", { name: "Accounts" }).click();
    expect(await stateOf(page, "frank")).toMatch(/^error: 403 .*organization has been disabled/);
    await rowOf(page, "bob").getByRole("button", { name: "Edit" }).click();
    const edit = page.getByRole("dialog", { name: "Edit bob" });
    await edit.getByLabel("Name").waitFor();
    expect(await edit.getByLabel("Client model 1").inputValue()).toBe("claude-sonnet-4-5");
    expect(await edit.getByLabel("API key", { exact: true }).inputValue()).toBe("");
    expect({ page: "edit account", violations: await seriousViolations(page) }).toEqual({ page: "edit account", violations: [] });
    await screenshot(page, "account-form");
    await page.keyboard.press("Escape");
    await expect.poll(() => page.getByRole("dialog").count()).toBe(0);

    await rowOf(page, "bob").getByRole("button", { name: "Delete" }).click();
    const confirm = page.getByRole("dialog", { name: "Delete the account?" });
    expect(await confirm.textContent()).toContain("Delete bob?");
    await confirm.getByRole("button", { name: "Cancel" }).click();
    expect(await rowOf(page, "bob").count()).toBe(1);

    await page.getByRole("link", { name: "Groups" }).click();
    await rowOf(page, "team-b").getByRole("button", { name: "Delete" }).click();
    const refusal = page.getByRole("dialog", { name: "Delete the group?" });
    await refusal.getByRole("button", { name: "Delete" }).click();
    await expect.poll(() => refusal.getByRole("alert").textContent()).toMatch(/Group is used by 1 API key/);
    await refusal.getByRole("button", { name: "Cancel" }).click();

    // 简体中文: the switch, remembered over a reload.
    await page.getByLabel("Language").selectOption("zh-CN");
    await page.getByRole("navigation").getByRole("link", { name: "账号" }).click();
    await page.reload();
    await expect.poll(() => page.getByRole("heading", { level: 1 }).textContent()).toBe("账号");
    await rowOf(page, "bob").waitFor();
    expect(await stateOf(page, "bob")).toBe("已停用");
    expect({ page: "zh accounts", violations: await seriousViolations(page) }).toEqual({ page: "zh accounts", violations: [] });
    await screenshot(page, "accounts-zh");
    expect(pageErrors).toEqual([]);
    await page.context().close();
  });

  it("exports usage as CSV, and its dialogs take the focus and give it back (keyboard only)", async () => {
    const page = await newConsolePage(browser, pageErrors);
    await signIn(page, harness.url);
    await page.getByRole("link", { name: "Usage" }).click();
    await page.getByLabel("Split by").selectOption("key");
    await rowOf(page, /^ci \(\d+\)$/).waitFor();
    const download = page.waitForEvent("download");
    await page.getByRole("button", { name: "Export CSV" }).click();
    const file = await download;
    expect(file.suggestedFilename()).toMatch(/^subrelay-usage-.*-key\.csv$/);
    const path = await file.path();
    const csv = (await readFile(path, "utf8")).split("\r\n");
    expect(csv[0]).toBe("bucket,key,name,requests,errors,inputTokens,outputTokens,cacheReadTokens,cacheWriteTokens,costUsd");
    const ciRequests = csv.filter((row) => row.split(",")[2] === "ci").reduce((sum, row) => sum + Number(row.split(",")[3]), 0);
    expect(ciRequests).toBe(6);

    await page.getByRole("link", { name: "Accounts" }).click();
    const add = page.getByRole("button", { name: "Add account" });
    await add.focus();
    await page.keyboard.press("Enter");
    const dialog = page.getByRole("dialog", { name: "Add account" });
    await dialog.waitFor();
    expect(await page.evaluate('document.activeElement?.closest("dialog")?.open === true')).toBe(true);
    await page.keyboard.press("Escape");
    await expect.poll(() => page.getByRole("dialog").count()).toBe(0);
    expect(await page.evaluate("document.activeElement?.textContent")).toBe("Add account");
    await page.context().close();
  });
});

/** A small pool in several states and some traffic, for the accessibility pass and the README's screenshots. */
async function seedShowcase(harness: TestGateway): Promise<void> {
  const call = async <T>(method: string, path: string, body?: unknown) => {
    const answer = await harness.admin<T>(method, path, body);
    if (answer.status >= 300) throw new Error(`${method} ${path}: ${answer.status} ${JSON.stringify(answer.body)}`);
    return answer.body;
  };
  const group = await call<{ id: number }>("POST", "/admin/groups", { name: "team-b", platform: "claude", defaultModel: "claude-sonnet-4-5" });
  const account = (name: string, extra: Record<string, unknown> = {}) =>
    call<{ id: string }>("POST", "/admin/accounts", { name, platform: "claude", type: "apikey", credentials: { apiKey: `sk-ant-${name}` }, groupIds: [group.id], ...extra });
  const bob = await account("bob", { priority: 10, concurrency: 5, modelMap: { "claude-sonnet-4-5": "claude-sonnet-4-5-20250929" } });
  await call("PATCH", `/admin/accounts/${bob.id}`, { status: "disabled" });
  const carol = await account("carol", { concurrency: 8 });
  await call("PATCH", `/admin/accounts/${carol.id}`, { rateLimits: [{ scope: "family:opus", window: "7d_opus", until: Date.now() + 3 * 3_600_000 }] });
  const dave = await account("dave");
  await call("PATCH", `/admin/accounts/${dave.id}`, { rateLimits: [{ scope: "account", window: "5h", until: Date.now() + 40 * 60_000 }] });
  await account("erin", { priority: 20 });
  const key = await call<{ key: string }>("POST", "/admin/api-keys", {
    name: "ci",
    groupId: group.id,
    limits: { costPerDayUsd: 0.5, costPerMonthUsd: 20, requestsPerMinute: 60, models: ["claude-sonnet-4-5"] },
  });
  // An account its upstream refuses for good (organization disabled): the gateway marks it in error, with the reason.
  const refused = await call<{ id: number }>("POST", "/admin/groups", { name: "team-c", platform: "claude" });
  await call("POST", "/admin/accounts", {
    name: "frank",
    platform: "claude",
    type: "apikey",
    credentials: { apiKey: "sk-ant-frank" },
    groupIds: [refused.id],
    baseUrl: `${harness.upstream.url}/forbidden`,
  });
  harness.upstream.on("POST", "/forbidden/v1/messages", { status: 403, json: jsonFixture("claude", "error-403-organization-disabled.json") });
  const refusedKey = await call<{ key: string }>("POST", "/admin/api-keys", { name: "team-c-key", groupId: refused.id });
  for (let index = 0; index < 6; index++) {
    const response = await fetch(`${harness.url}/v1/messages`, {
      method: "POST",
      headers: { "x-api-key": key.key, "anthropic-version": "2023-06-01", "content-type": "application/json" },
      body: JSON.stringify({ model: "claude-sonnet-4-5", max_tokens: 8, messages: [{ role: "user", content: "hi" }] }),
    });
    await response.arrayBuffer();
  }
  const refusal = await fetch(`${harness.url}/v1/messages`, {
    method: "POST",
    headers: { "x-api-key": refusedKey.key, "anthropic-version": "2023-06-01", "content-type": "application/json" },
    body: JSON.stringify({ model: "claude-sonnet-4-5", max_tokens: 8, messages: [{ role: "user", content: "hi" }] }),
  });
  await refusal.arrayBuffer();
  await harness.gateway.usage.flush();
}

/** A tiny HTTP server on another 127.0.0.1 port: another origin. */
async function serve(handler: RequestListener): Promise<{ url: string; close(): Promise<void> }> {
  const server: Server = createServer(handler);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
