import { existsSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { type Browser, type Page, chromium } from "playwright-core";

/** Debian's Chromium (`apt-get install -y chromium`); CHROMIUM_PATH names another build. Never a downloaded one. */
const executablePath = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";

// This machine's network is closed: without these, Chromium's own background connections fail at every start.
const FLAGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

export interface BrowserSession {
  browser: Browser;
  close(): Promise<void>;
}

/** Starts Chromium; Playwright gives every launch a fresh, empty profile (its own --user-data-dir) and removes it on close. */
export async function launchChromium(): Promise<BrowserSession> {
  if (!existsSync(executablePath)) {
    throw new Error(`No Chromium at ${executablePath}: npm run test:browser needs Debian's chromium package (apt-get install -y chromium), or CHROMIUM_PATH`);
  }
  const browser = await chromium.launch({ executablePath, headless: true, args: FLAGS });
  return { browser, close: () => browser.close() };
}

/** What a page complained about: console errors, uncaught exceptions and Content-Security-Policy violations. */
export interface PageProblems {
  console: string[];
  exceptions: string[];
  cspViolations: string[];
}

/** The size of every page, and so of the README's screenshots. */
const VIEWPORT = { width: 1280, height: 800 };

/** A new page in its own context that records every problem the page reports, for the test to assert empty. */
export async function watchedPage(session: BrowserSession): Promise<{ page: Page; problems: PageProblems }> {
  const context = await session.browser.newContext({ viewport: VIEWPORT });
  const page = await context.newPage();
  const problems: PageProblems = { console: [], exceptions: [], cspViolations: [] };
  await page.exposeFunction("__chirpCspViolation", (text: string) => problems.cspViolations.push(text));
  await page.addInitScript(() => {
    document.addEventListener("securitypolicyviolation", (event) => {
      (window as unknown as { __chirpCspViolation(text: string): void }).__chirpCspViolation(`${event.violatedDirective} blocked ${event.blockedURI || "inline"}`);
    });
  });
  page.on("console", (message) => {
    if (message.type() === "error") problems.console.push(message.text());
  });
  page.on("pageerror", (error) => problems.exceptions.push(error.message));
  return { page, problems };
}

/**
 * Saves what the page shows as `<name>.png` in the folder SCREENSHOTS names (`SCREENSHOTS=docs/screenshots
 * npm run test:browser`); without it, nothing is written, so a normal run leaves the tree clean.
 */
export async function saveScreenshot(page: Page, name: string) {
  const folder = process.env.SCREENSHOTS;
  if (!folder) return;
  mkdirSync(folder, { recursive: true });
  await page.screenshot({ path: join(folder, `${name}.png`) });
}
