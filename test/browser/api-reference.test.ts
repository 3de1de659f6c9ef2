import { afterAll, beforeAll, expect, it } from "vitest";
import { DEFAULT_PASSWORD } from "../support/api.js";
import { listenApi } from "../support/live.js";
import { type BrowserSession, launchChromium, watchedPage } from "./chromium.js";

let server: Awaited<ReturnType<typeof listenApi>>;
let chromium: BrowserSession;
let origin: string;

beforeAll(async () => {
  server = await listenApi();
  origin = new URL(server.url).origin;
  chromium = await launchChromium();
});

afterAll(async () => {
  await chromium?.close();
  await server?.close();
});

it("shows the REST reference from Chirp's own origin and tries GET /api/me with a bearer token, with no console error and no CSP violation", async () => {
  const signUp = await fetch(`${origin}/api/users`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ handle: "swagger_sam", email: "sam@example.com", password: DEFAULT_PASSWORD }),
  });
  expect(signUp.status).toBe(201);
  const { accessToken } = (await signUp.json()) as { accessToken: string };

  const { page, problems } = await watchedPage(chromium);
  const requests: string[] = [];
  page.on("request", (request) => requests.push(request.url()));
  const response = await page.goto(`${origin}/api/docs`);
  expect(response?.status()).toBe(200);
  expect(response?.headers()["content-security-policy"]).toContain("script-src 'self'");
  await page.locator(".swagger-ui .info .title").getByText("Chirp REST API").waitFor();

  // Authorize with the access token, then run GET /api/me from the page.
  await page.locator(".auth-wrapper .authorize").click();
  await page.locator(".auth-container input").first().fill(accessToken);
  await page.locator(".auth-btn-wrapper .authorize").click();
  await page.locator(".auth-btn-wrapper .btn-done").click();
  const operation = page.locator("#operations-Me-getMe");
  await operation.locator(".opblock-summary").click();
  await operation.locator(".execute").click();
  await operation.locator(".live-responses-table .response-col_status").getByText("200").waitFor();
  await expect(operation.locator(".live-responses-table .response-col_description .highlight-code").first().innerText()).resolves.toContain('"handle": "swagger_sam"');

  expect(requests.filter((url) => !url.startsWith(origin))).toEqual([]);
  expect(problems).toEqual({ console: [], exceptions: [], cspViolations: [] });
});
