import { type Server, createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, expect, it } from "vitest";
import { type BrowserSession, launchChromium, watchedPage } from "./chromium.js";

// The browser tests assert that a page reported no problem; this proves watchedPage hears one.

const PAGE = `<!doctype html><html><head><title>broken on purpose</title></head><body>
<script>document.title = "an inline script the policy refuses";</script>
<img src="https://elsewhere.invalid/pixel.png" alt="">
<script src="/broken.js"></script>
</body></html>`;
const SCRIPT = `console.error("logged on purpose"); setTimeout(() => { throw new Error("thrown on purpose"); });`;

let site: Server;
let url: string;
let chromium: BrowserSession;

beforeAll(async () => {
  site = createServer((request, response) => {
    if (request.url === "/broken.js") {
      response.writeHead(200, { "content-type": "text/javascript" }).end(SCRIPT);
    } else {
      response.writeHead(200, { "content-type": "text/html", "content-security-policy": "default-src 'none'; script-src 'self'" }).end(PAGE);
    }
  });
  await new Promise<void>((resolve) => site.listen(0, "127.0.0.1", resolve));
  url = `http://127.0.0.1:${(site.address() as AddressInfo).port}/`;
  chromium = await launchChromium();
});

afterAll(async () => {
  await chromium?.close();
  await new Promise((resolve) => site?.close(resolve));
});

it("records a page's console errors, uncaught exceptions and CSP violations", async () => {
  const { page, problems } = await watchedPage(chromium);
  await page.goto(url);
  await expect.poll(() => problems.exceptions).toEqual(["thrown on purpose"]);
  await expect.poll(() => problems.cspViolations.toSorted()).toEqual(["img-src blocked https://elsewhere.invalid/pixel.png", "script-src-elem blocked inline"]);
  // Chromium also logs each refusal to the console, beside the page's own error.
  expect(problems.console).toContain("logged on purpose");
  expect(problems.console.filter((text) => text.includes("Content Security Policy"))).toHaveLength(2);
  expect(await page.title()).toBe("broken on purpose");
});
