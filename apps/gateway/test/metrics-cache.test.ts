import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { startTestGateway, type TestGateway } from "./harness";

/** /metrics serves the accounts gauge from cached state: scrapes do not each run an accounts query. */
describe("/metrics accounts gauge", () => {
  let harness: TestGateway;
  let clock = Date.now();

  beforeAll(async () => {
    harness = await startTestGateway({ env: { METRICS_ACCOUNTS_TTL: "15s" }, overrides: { now: () => clock } });
    await harness.seed({ platform: "claude", accounts: [{ type: "apikey", credentials: { apiKey: "sk-ant-scrape" } }] });
  });
  afterAll(async () => harness?.close());

  const scrape = async () => (await fetch(`${harness.url}/metrics`)).text();

  it("runs at most one accounts query for many scrapes within its TTL, and one more after it", async () => {
    const list = vi.spyOn(harness.gateway.database.accounts, "list");
    const concurrent = await Promise.all(Array.from({ length: 10 }, scrape));
    for (let index = 0; index < 20; index++) await scrape();
    expect(list.mock.calls.length).toBeLessThanOrEqual(1);
    for (const text of concurrent) expect(text).toMatch(/^subrelay_accounts\{platform="claude",state="active"\} 1$/m);

    clock += 15_000;
    expect(await scrape()).toMatch(/^subrelay_accounts\{platform="claude",state="active"\} 1$/m);
    expect(list).toHaveBeenCalledTimes(2);
    list.mockRestore();
  });
});
