import type { Page, Request } from "playwright-core";
import { afterAll, beforeAll, expect, it } from "vitest";
import { DEMO_PASSWORD } from "../../src/demo.js";
import { type LiveApi, listenApi, untilSubscribed } from "../support/live.js";
import { type BrowserSession, launchChromium, saveScreenshot, watchedPage } from "./chromium.js";

// A newcomer's first session in GraphiQL, as the example tab tells it: log in, set the header, read
// the home timeline, look a type up in the docs, watch a live field. GraphiQL's example logs in as
// the demo data's alice; this test signs her up with the demo password, so the example runs as is.

const QUERY = ".graphiql-query-editor";

let server: LiveApi;
let chromium: BrowserSession;

beforeAll(async () => {
  server = await listenApi();
  chromium = await launchChromium();
});

afterAll(async () => {
  await chromium?.close();
  await server?.close();
});

async function signUp(handle: string, displayName: string, password = DEMO_PASSWORD) {
  const result = await server.execute(
    `mutation ($input: SignUpInput!) { signUp(input: $input) { __typename ... on AuthPayload { accessToken viewer { id } } } }`,
    { input: { handle, displayName, email: `${handle}@example.com`, password } },
  );
  if (result.data?.signUp.__typename !== "AuthPayload") throw new Error(JSON.stringify(result));
  return { id: result.data.signUp.viewer.id as string, token: result.data.signUp.accessToken as string };
}

async function post(as: { token: string }, body: string) {
  const result = await server.execute(`mutation ($body: String!) { createPost(input: { body: $body }) { __typename } }`, { body }, as);
  expect(result.data?.createPost.__typename).toBe("Post");
}

/** The operation a request of GraphiQL's runs: a POST's body names it, a GET's (a subscription over SSE) query string. */
function operationOf(request: Request) {
  return request.method() === "POST" ? request.postDataJSON()?.operationName : new URL(request.url()).searchParams.get("operationName");
}

/**
 * Runs one operation of the example the way the page says (▶, then its name), once the editor shows
 * it (a user scrolls to it). Returns the HTTP answer GraphiQL got.
 */
async function run(page: Page, operation: string) {
  const name = operation.split(" ")[1]!;
  const answer = page.waitForResponse((response) => operationOf(response.request()) === name);
  if (!(await page.locator(QUERY).getByText(operation).isVisible())) {
    await page.locator(QUERY).click();
    await page.keyboard.press("ControlOrMeta+End");
  }
  await page.getByRole("button", { name: "Execute query" }).click();
  await page.getByRole("menuitem", { name, exact: true }).click();
  return answer;
}

/** What an editor shows, as text (Monaco renders spaces as no-break spaces). */
const editorText = async (page: Page, editor: string) => (await page.locator(editor).locator(".view-lines").innerText()).replace(/\u00a0/g, " ");

it("runs a newcomer's first session: log in, set the header, read the timeline, the docs and a live field, with no console error or CSP violation", async () => {
  const alice = await signUp("alice", "Alice Liddell");
  const bob = await signUp("bob", "Bob Marley", "bob's own password");
  const carol = await signUp("carol", "Carol Danvers", "carol's own password");
  await post(carol, "Release notes for 0.4 are up for review #chirp");
  await post(alice, "Trying Chirp from GraphiQL");
  await post(bob, "Lunch at 12:30, anyone?");
  for (const followee of [bob, carol]) {
    const follow = await server.execute(`mutation ($id: ID!) { follow(input: { userId: $id }) { __typename } }`, { id: followee.id }, alice);
    expect(follow.data?.follow.__typename).toBe("User");
  }

  const { page, problems } = await watchedPage(chromium);
  expect((await page.goto(server.url))?.status()).toBe(200);
  const headers = `.monaco-editor[data-uri$="request-headers.json"]`;
  const result = page.locator(".graphiql-response");
  await page.locator(QUERY).getByText("mutation LogIn").waitFor();
  expect(await editorText(page, headers)).toContain(`{ "Authorization": "Bearer <accessToken>" }`);

  // 1. LogIn, with the placeholder still in the Headers tab.
  const logIn = await run(page, "mutation LogIn");
  expect(logIn.request().headers().authorization).toBe("Bearer <accessToken>");
  const { data } = await logIn.json();
  expect(data.logIn).toMatchObject({ __typename: "AuthPayload", viewer: { handle: "alice" } });
  await result.getByText('"AuthPayload"').waitFor();
  // The token as the result pane shows it: a long string wraps, and a token holds no white space.
  await expect.poll(async () => (await result.innerText()).replace(/\s+/g, "")).toContain(`"accessToken":"${data.logIn.accessToken}"`);

  // A newcomer who skips step 2 is told what the header needs.
  const skipped = await (await run(page, "query HomeTimeline")).json();
  expect(skipped.errors.map((e: { extensions: { code: string } }) => e.extensions.code)).toEqual(["UNAUTHENTICATED"]);
  expect(skipped.errors[0].message).toMatch(/^The Authorization header holds no access token: after "Bearer " put the accessToken that logIn returned/);
  await result.getByText('"UNAUTHENTICATED"').waitFor();

  // 2. The token in place of the placeholder, as the Headers tab says.
  await page.locator(headers).click();
  const edited = (await editorText(page, headers)).replace("<accessToken>", data.logIn.accessToken);
  await page.keyboard.press("ControlOrMeta+A");
  await page.keyboard.insertText(edited);
  await page.keyboard.press("Home");
  expect(await editorText(page, headers)).toContain(`{ "Authorization": "Bearer ${data.logIn.accessToken.slice(0, 20)}`);

  // 3. HomeTimeline: alice's post and those of the people she follows, newest first.
  const home = await run(page, "query HomeTimeline");
  expect(home.request().headers().authorization).toBe(`Bearer ${data.logIn.accessToken}`);
  const timeline = (await home.json()).data.homeTimeline.edges.map((e: { node: { body: string; author: { handle: string } } }) => [e.node.author.handle, e.node.body]);
  expect(timeline).toEqual([
    ["bob", "Lunch at 12:30, anyone?"],
    ["alice", "Trying Chirp from GraphiQL"],
    ["carol", "Release notes for 0.4 are up for review #chirp"],
  ]);
  await result.getByText('"Lunch at 12:30, anyone?"').waitFor();
  await saveScreenshot(page, "graphiql-timeline");

  // 4. The docs: find the Post type and read its fields.
  await page.getByRole("button", { name: "Show Documentation Explorer" }).click();
  await page.getByRole("combobox").fill("Post");
  await page.getByRole("option", { name: "Post", exact: true }).click();
  const docs = page.getByRole("region", { name: "Documentation Explorer" });
  await docs.getByText("A post, a reply (replyTo is set) or a repost").waitFor();
  await docs.getByText("viewerHasLiked", { exact: true }).waitFor();
  await saveScreenshot(page, "graphiql-docs");
  await page.getByRole("button", { name: "Hide Documentation Explorer" }).click();

  // 5. LiveTimeline over SSE, with the header of the Headers tab; bob posts through the API and it arrives.
  const live = await run(page, "subscription LiveTimeline");
  expect(live.request().method()).toBe("GET");
  expect(live.request().headers()).toMatchObject({ accept: expect.stringContaining("text/event-stream"), authorization: `Bearer ${data.logIn.accessToken}` });
  expect(live.headers()["content-type"]).toMatch(/^text\/event-stream/);
  await untilSubscribed(server.realtime, 1);
  await post(bob, "Posted while alice watches");
  await result.getByText('"Posted while alice watches"').waitFor();
  await result.getByText('"homeTimelineUpdated"').waitFor();
  await saveScreenshot(page, "graphiql-live");

  expect(problems).toEqual({ console: [], exceptions: [], cspViolations: [] });
});
