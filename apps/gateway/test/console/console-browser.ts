import { existsSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import axe from "axe-core";
import { chromium, type Browser, type Page } from "playwright-core";
import { ADMIN_TOKEN } from "../harness";

/** The built console (apps/console/dist), which the test gateways serve at /console (CONSOLE_DIR). */
export const consoleDist = fileURLToPath(new URL("../../../console/dist/", import.meta.url));
/** Where `SUBRELAY_SCREENSHOTS=1` writes the README's screenshots. */
export const screenshotDir = fileURLToPath(new URL("../../../console/docs/screenshots/", import.meta.url));

/** Fails with what to do when the console was not built (turbo builds it before the gateway's tests). */
export function requireBuiltConsole(): string {
  if (!existsSync(join(consoleDist, "index.html"))) {
    throw new Error(`no built console at ${consoleDist}: run \`pnpm --filter @subrelay/console build\` first`);
  }
  return consoleDist;
}

/** Debian's Chromium (CHROMIUM_PATH overrides it), driven by playwright-core: no browser download. */
export function launchChromium(): Promise<Browser> {
  return chromium.launch({ executablePath: process.env.CHROMIUM_PATH ?? "/usr/bin/chromium", args: ["--no-sandbox"] });
}

/** A 1280×800 page in a fresh context (its own cookies), in English, failing the test on a page error. */
export async function newConsolePage(browser: Browser, errors: string[]): Promise<Page> {
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 }, locale: "en-US", timezoneId: "UTC" });
  const page = await context.newPage();
  // Well inside the test's own timeout, so a missing element fails at its line.
  page.setDefaultTimeout(10_000);
  page.on("pageerror", (error) => errors.push(error.message));
  return page;
}

/** Signs in through the form, as an operator does, and waits for the navigation. */
export async function signIn(page: Page, url: string): Promise<void> {
  await page.goto(`${url}/console/`);
  await page.getByLabel("Admin token").fill(ADMIN_TOKEN);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.getByRole("navigation").waitFor();
}

export interface AxeViolation {
  id: string;
  impact: string | null | undefined;
  help: string;
  targets: string[];
}

/** axe-core run in the page: the serious and critical violations. */
export async function seriousViolations(page: Page): Promise<AxeViolation[]> {
  await page.addScriptTag({ content: axe.source });
  // A string, so the test compiles without the DOM library: it runs in the page.
  const violations = await page.evaluate<AxeViolation[]>(`axe.run(document, { resultTypes: ["violations"] }).then((result) =>
    result.violations.map((violation) => ({
      id: violation.id,
      impact: violation.impact,
      help: violation.help,
      targets: violation.nodes.map((node) => node.target.join(" ")),
    })))`);
  return violations.filter((violation) => violation.impact === "serious" || violation.impact === "critical");
}

/** With SUBRELAY_SCREENSHOTS=1, the page at 1280×800 into apps/console/docs/screenshots/<name>.png. */
export async function screenshot(page: Page, name: string): Promise<void> {
  if (process.env.SUBRELAY_SCREENSHOTS !== "1") return;
  mkdirSync(screenshotDir, { recursive: true });
  await page.screenshot({ path: join(screenshotDir, `${name}.png`) });
}
