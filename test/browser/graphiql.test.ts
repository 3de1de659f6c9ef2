import { afterAll, beforeAll, expect, it } from "vitest";
import { listenApi } from "../support/live.js";
import { type BrowserSession, launchChromium, watchedPage } from "./chromium.js";

let server: Awaited<ReturnType<typeof listenApi>>;
let chromium: BrowserSession;

beforeAll(async () => {
  server = await listenApi();
  chromium = await launchChromium();
});

afterAll(async () => {
  await chromium?.close();
  await server?.close();
});

it("opens GraphiQL from Chirp's own origin with no console error and no CSP violation", async () => {
  const { page, problems } = await watchedPage(chromium);
  const response = await page.goto(server.url);
  expect(response?.status()).toBe(200);
  await page.locator(".graphiql-container").first().waitFor();
  await page.locator(".graphiql-query-editor").getByText("LogIn").first().waitFor();
  expect(problems).toEqual({ console: [], exceptions: [], cspViolations: [] });
});
