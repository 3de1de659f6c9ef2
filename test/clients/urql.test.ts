import type { Client } from "@urql/core";
import { decodeJwt } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createChirpUrql, memorySessionStore } from "../../examples/urql/client.js";
import { CreatePost, HomeTimeline, LikePost, LogIn, MessageReceived, UploadMedia, Viewer } from "../../examples/urql/operations.js";
import { type Sent, expiredToken, listenForClients, names, recordingFetch, sendMessage, shortLivedToken, timelineFixture } from "../support/clients.js";
import { type LiveApi, untilSubscribed } from "../support/live.js";
import { photo } from "../support/uploads.js";

// urql 6 with graphcache as examples/urql sets it up, against a listening Chirp: the recipe is what is tested.

let live: LiveApi;
beforeAll(async () => {
  live = await listenForClients();
});
afterAll(() => live.close());

/** A reader with a followed author's posts, logged in through the example's client. */
async function loggedIn(posts = 5) {
  const fixture = await timelineFixture(live, "urql", posts);
  const sent: Sent[] = [];
  const session = memorySessionStore();
  let ended = 0;
  const client = createChirpUrql({ url: live.url, session, fetch: recordingFetch(sent), onSessionEnded: () => ended++ });
  const { data, error } = await client.mutation(LogIn, { input: { login: fixture.reader.handle, password: fixture.password } }).toPromise();
  if (data?.logIn.__typename !== "AuthPayload") throw new Error(JSON.stringify({ data, error }));
  session.set({ accessToken: data.logIn.accessToken, refreshToken: data.logIn.refreshToken });
  return { ...fixture, client, session, sent, ended: () => ended };
}

/** The home timeline as a screen shows it: an active query whose result follows the cache. */
function watchTimeline(client: Client, first: number) {
  let shown: { bodies: (string | null)[]; endCursor: string | null; hasNextPage: boolean } | undefined;
  const subscription = client.query(HomeTimeline, { first }).subscribe(({ data }) => {
    if (data) shown = { bodies: data.homeTimeline.edges.map((edge) => edge.node.body), ...data.homeTimeline.pageInfo };
  });
  return { shown: () => shown, stop: () => subscription.unsubscribe() };
}

const cachedTimeline = (client: Client, first: number) => client.readQuery(HomeTimeline, { first })?.data?.homeTimeline.edges.map((edge) => edge.node.body);

/** Pages the timeline to its end as a "load more" button would: each next page's query, after the last cursor. */
async function pageToEnd(client: Client, first: number, screen: ReturnType<typeof watchTimeline>) {
  await expect.poll(screen.shown).toBeDefined();
  while (screen.shown()!.hasNextPage) {
    const endCursor = screen.shown()!.endCursor;
    const page = await client.query(HomeTimeline, { first, after: endCursor }).toPromise();
    if (page.error) throw page.error;
    await expect.poll(() => screen.shown()!.endCursor).not.toBe(endCursor);
  }
}

describe("urql with examples/urql (graphcache, exchange-auth, graphql-sse)", () => {
  it("logs in and pages the home timeline: relayPagination merges the pages in the cache", async () => {
    const { client, newestFirst, sent } = await loggedIn(5);
    const screen = watchTimeline(client, 2);
    await pageToEnd(client, 2, screen);
    // The first page's query shows every page, merged, newest first.
    expect(screen.shown()!.bodies).toEqual(newestFirst);
    expect(cachedTimeline(client, 2)).toEqual(newestFirst);
    expect(names(sent)).toEqual(["LogIn", "HomeTimeline", "HomeTimeline", "HomeTimeline"]);
    screen.stop();
  });

  it("likes a post: the cached post changes from the mutation's result, with no refetch", async () => {
    const { client, sent } = await loggedIn(3);
    const screen = watchTimeline(client, 3);
    await expect.poll(screen.shown).toBeDefined();
    const post = client.readQuery(HomeTimeline, { first: 3 })!.data!.homeTimeline.edges[1]!.node;
    expect([post.likeCount, post.viewerHasLiked]).toEqual([0, false]);
    const before = sent.length;
    const liked = await client.mutation(LikePost, { postId: post.id }).toPromise();
    expect(liked.data?.likePost).toMatchObject({ __typename: "Post", id: post.id, likeCount: 1, viewerHasLiked: true });
    const cached = client.readQuery(HomeTimeline, { first: 3 })!.data!.homeTimeline.edges[1]!.node;
    expect([cached.likeCount, cached.viewerHasLiked]).toEqual([1, true]);
    expect(names(sent.slice(before))).toEqual(["LikePost"]);
    screen.stop();
  });

  it("creates a post: the updater puts it at the top of the cached timeline and keeps the pages, with no refetch", async () => {
    const { client, sent, newestFirst } = await loggedIn(3);
    const screen = watchTimeline(client, 2);
    await pageToEnd(client, 2, screen);
    const before = sent.length;
    const created = await client.mutation(CreatePost, { input: { body: "fresh from urql" } }).toPromise();
    expect(created.data?.createPost.__typename).toBe("Post");
    await expect.poll(() => screen.shown()!.bodies).toEqual(["fresh from urql", ...newestFirst]);
    expect(cachedTimeline(client, 2)).toEqual(["fresh from urql", ...newestFirst]);
    // Without the updater graphcache would drop the cached Post lists and the screen's query would go to the network.
    expect(names(sent.slice(before))).toEqual(["CreatePost"]);
    // The list pages on from where it was: the page after the last cached post is empty.
    const { endCursor, hasNextPage } = screen.shown()!;
    expect(hasNextPage).toBe(false);
    const next = await client.query(HomeTimeline, { first: 2, after: endCursor }).toPromise();
    expect(next.data?.homeTimeline.edges.map((edge) => edge.node.body)).toEqual(["fresh from urql", ...newestFirst]);
    screen.stop();
  });

  it("uploads a picture with uploadMedia (fetchExchange sends the File as multipart) and attaches it to a post", async () => {
    const { client, sent } = await loggedIn(0);
    const file = new File([await photo(320, 200)], "cat.jpg", { type: "image/jpeg" });
    const uploaded = await client.mutation(UploadMedia, { input: { file, altText: "a cat" } }).toPromise();
    const media = uploaded.data?.uploadMedia;
    if (media?.__typename !== "Media") throw new Error(JSON.stringify({ data: uploaded.data, error: uploaded.error?.message }));
    expect(media).toMatchObject({ width: 320, height: 200, altText: "a cat" });
    const created = await client.mutation(CreatePost, { input: { body: "with a cat", mediaIds: [media.id] } }).toPromise();
    expect(created.data?.createPost).toMatchObject({ __typename: "Post", media: [{ id: media.id, url: media.url }] });
    const image = await fetch(new URL(media.url, live.url));
    expect([image.status, image.headers.get("content-type")]).toEqual([200, "image/jpeg"]);
    expect(sent.map((request) => [request.operationName, request.multipart])).toEqual([
      ["LogIn", false],
      ["UploadMedia", true],
      ["CreatePost", false],
    ]);
  });

  it("receives a message live over graphql-sse, sent by another user over HTTP", async () => {
    const { client, reader, author } = await loggedIn(0);
    // The stream an earlier test unsubscribed ends on the server a moment later: counted from none.
    await expect.poll(() => live.realtime.openStreams, { timeout: 10_000 }).toBe(0);
    const open = live.realtime.openStreams;
    const received: { body: string; sender: string }[] = [];
    const subscription = client.subscription(MessageReceived, {}).subscribe(({ data }) => {
      if (data) received.push({ body: data.messageReceived.body, sender: data.messageReceived.sender.handle });
    });
    await untilSubscribed(live.realtime, open + 1);
    await sendMessage(live, author, reader, "hello over sse");
    await expect.poll(() => received, { timeout: 5_000 }).toEqual([{ body: "hello over sse", sender: author.handle }]);
    subscription.unsubscribe();
  });

  it("a subscription outlives its access token: the stream ends UNAUTHENTICATED, authExchange refreshes and resubscribes", async () => {
    const { client, session, sent, reader, author } = await loggedIn(0);
    const current = session.get()!;
    session.set({ ...current, accessToken: await shortLivedToken(current.accessToken, 2) });
    // The stream an earlier test unsubscribed ends on the server a moment later: counted from none.
    await expect.poll(() => live.realtime.openStreams, { timeout: 10_000 }).toBe(0);
    const open = live.realtime.openStreams;
    const received: string[] = [];
    const subscription = client.subscription(MessageReceived, {}).subscribe(({ data }) => data && received.push(data.messageReceived.body));
    await untilSubscribed(live.realtime, open + 1);
    await expect.poll(() => names(sent).includes("RefreshSession"), { timeout: 10_000 }).toBe(true);
    await untilSubscribed(live.realtime, open + 1);
    await sendMessage(live, author, reader, "after the refresh");
    await expect.poll(() => received, { timeout: 5_000 }).toEqual(["after the refresh"]);
    expect(names(sent).filter((name) => name === "RefreshSession")).toHaveLength(1);
    subscription.unsubscribe();
  });

  it("recovers from an expired access token: one refresh for several failing operations, each retried once", async () => {
    const { client, session, sent, reader } = await loggedIn(2);
    const current = session.get()!;
    const stale = await expiredToken(current.accessToken);
    session.set({ ...current, accessToken: stale });
    const before = sent.length;
    const [viewer, home, small] = await Promise.all([
      client.query(Viewer, {}, { requestPolicy: "network-only" }).toPromise(),
      client.query(HomeTimeline, { first: 2 }, { requestPolicy: "network-only" }).toPromise(),
      client.query(HomeTimeline, { first: 1 }, { requestPolicy: "network-only" }).toPromise(),
    ]);
    expect(viewer.data?.viewer?.handle).toBe(reader.handle);
    expect(home.data?.homeTimeline.edges).toHaveLength(2);
    expect(small.data?.homeTimeline.edges.length).toBeGreaterThanOrEqual(1);
    const after = names(sent.slice(before));
    expect(after.filter((name) => name === "RefreshSession")).toHaveLength(1);
    expect(after).toHaveLength(7);
    const fresh = session.get()!;
    expect(fresh.accessToken).not.toBe(stale);
    expect(decodeJwt(fresh.accessToken).exp! * 1000).toBeGreaterThan(Date.now());
  });

  it("gives up when the session ended: the refresh fails, the session is cleared and the operation gets the error", async () => {
    const { client, session, sent, ended } = await loggedIn(0);
    const current = session.get()!;
    await live.execute(`mutation { logOut }`, {}, { token: current.accessToken });
    session.set({ ...current, accessToken: await expiredToken(current.accessToken) });
    const before = sent.length;
    const result = await client.query(Viewer, {}, { requestPolicy: "network-only" }).toPromise();
    expect(result.data?.viewer ?? null).toBeNull();
    expect(result.error?.message).toMatch(/session/i);
    expect([names(sent.slice(before)), session.get(), ended()]).toEqual([["Viewer", "RefreshSession"], null, 1]);
  });
});
